#include "dataplane/mirror/msg_names.hpp"

#include <array>

#include "dataplane/mirror/http1.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/smb2.hpp"

namespace cg::dp::mirror {

namespace {

template <std::size_t N>
std::string_view at(const std::array<std::string_view, N>& names, std::uint32_t i) noexcept {
    return i < N ? names[i] : std::string_view{};
}

constexpr std::array<std::string_view, 22> nfs3_procs = {
    "NULL",  "GETATTR", "SETATTR", "LOOKUP", "ACCESS", "READLINK", "READ",    "WRITE",       "CREATE", "MKDIR",
    "SYMLINK", "MKNOD", "REMOVE",  "RMDIR",  "RENAME", "LINK",     "READDIR", "READDIRPLUS", "FSSTAT", "FSINFO",
    "PATHCONF", "COMMIT",
};
constexpr std::array<std::string_view, 6> mount3_procs = {"NULL", "MNT", "DUMP", "UMNT", "UMNTALL", "EXPORT"};
constexpr std::array<std::string_view, 2> nfs4_procs = {"NULL", "COMPOUND"};
// RFC 1833 section 3.2 (PMAP version 2; rpcbind's 3 and 4 reuse 0..5 with other names).
constexpr std::array<std::string_view, 6> portmap_procs = {"NULL", "SET", "UNSET", "GETPORT", "DUMP", "CALLIT"};

constexpr std::array<std::string_view, smb2::command_count> smb2_commands = {
    "NEGOTIATE", "SESSION_SETUP", "LOGOFF", "TREE_CONNECT",    "TREE_DISCONNECT", "CREATE",     "CLOSE",
    "FLUSH",     "READ",          "WRITE",  "LOCK",            "IOCTL",           "CANCEL",     "ECHO",
    "QUERY_DIRECTORY", "CHANGE_NOTIFY", "QUERY_INFO", "SET_INFO", "OPLOCK_BREAK", "SERVER_TO_CLIENT_NOTIFICATION",
};

// From nfs4::access (3) to nfs4::clone (71), in order.
constexpr std::uint16_t nfs4_first_op = nfs4::access;
constexpr std::array<std::string_view, nfs4::clone - nfs4::access + 1> nfs4_ops = {
    "ACCESS", "CLOSE", "COMMIT", "CREATE", "DELEGPURGE", "DELEGRETURN", "GETATTR", "GETFH", "LINK", "LOCK", "LOCKT",
    "LOCKU", "LOOKUP", "LOOKUPP", "NVERIFY", "OPEN", "OPENATTR", "OPEN_CONFIRM", "OPEN_DOWNGRADE", "PUTFH",
    "PUTPUBFH", "PUTROOTFH", "READ", "READDIR", "READLINK", "REMOVE", "RENAME", "RENEW", "RESTOREFH", "SAVEFH",
    "SECINFO", "SETATTR", "SETCLIENTID", "SETCLIENTID_CONFIRM", "VERIFY", "WRITE", "RELEASE_LOCKOWNER",
    "BACKCHANNEL_CTL", "BIND_CONN_TO_SESSION", "EXCHANGE_ID", "CREATE_SESSION", "DESTROY_SESSION", "FREE_STATEID",
    "GET_DIR_DELEGATION", "GETDEVICEINFO", "GETDEVICELIST", "LAYOUTCOMMIT", "LAYOUTGET", "LAYOUTRETURN",
    "SECINFO_NO_NAME", "SEQUENCE", "SET_SSV", "TEST_STATEID", "WANT_DELEGATION", "DESTROY_CLIENTID",
    "RECLAIM_COMPLETE", "ALLOCATE", "COPY", "COPY_NOTIFY", "DEALLOCATE", "IO_ADVISE", "LAYOUTERROR", "LAYOUTSTATS",
    "OFFLOAD_CANCEL", "OFFLOAD_STATUS", "READ_PLUS", "SEEK", "WRITE_SAME", "CLONE",
};

}  // namespace

std::string_view proto_name(app_proto p) noexcept {
    switch (p) {
    case app_proto::rpc: return "rpc";
    case app_proto::nfs3: return "nfs3";
    case app_proto::mount3: return "mount3";
    case app_proto::nfs4: return "nfs4";
    case app_proto::smb2: return "smb2";
    case app_proto::http1: return "http";
    }
    return "?";
}

std::string_view procedure_name(app_proto proto, std::uint32_t procedure, port_proto speaks) noexcept {
    switch (proto) {
    case app_proto::nfs3: return at(nfs3_procs, procedure);
    case app_proto::mount3: return at(mount3_procs, procedure);
    case app_proto::nfs4: return at(nfs4_procs, procedure);
    case app_proto::smb2: return at(smb2_commands, procedure);
    case app_proto::http1: return procedure == 0 ? std::string_view{} : at(http1::method_names, procedure);
    case app_proto::rpc: return speaks == port_proto::portmapper ? at(portmap_procs, procedure) : std::string_view{};
    }
    return {};
}

std::string_view tcp_state_name(tcp_state s) noexcept {
    switch (s) {
    case tcp_state::none: return "none";
    case tcp_state::syn_sent: return "syn_sent";
    case tcp_state::syn_received: return "syn_received";
    case tcp_state::established: return "established";
    case tcp_state::closing: return "closing";
    case tcp_state::closed: return "closed";
    case tcp_state::reset: return "reset";
    }
    return "?";
}

std::string_view nfs4_op_name(std::uint16_t op) noexcept {
    if (op == nfs4::illegal) return "ILLEGAL";
    return op < nfs4_first_op ? std::string_view{} : at(nfs4_ops, op - nfs4_first_op);
}

}  // namespace cg::dp::mirror
