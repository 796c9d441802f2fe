// ONC RPC messages of NFS (RFC 1813 NFSv3 and its MOUNT3 appendix; RFC 7530
// and 8881 NFSv4.x COMPOUND) reduced to an app_message: one record in (from
// the record framer), one message out. Pure functions of the bytes: no
// state, no allocation, no I/O.
//
// What a message carries: NFSv3 the first file handle argument of every
// procedure that has one, READ/WRITE/COMMIT's offset, count and stable_how,
// a READ reply's count, LOOKUP's and CREATE's (MKDIR, SYMLINK, MKNOD) new
// handle, MNT's root handle; NFSv4 the operations, the first PUTFH's handle
// (call) or GETFH's (reply), the first READ/WRITE/COMMIT's range.
//
// A call is parsed on its own. A reply carries no program or procedure, so
// the caller finds its call by XID (peek_rpc first) and passes the call's
// (proto, procedure). Every argument and result is read through the
// bounds-checked XDR reader, so a record that ends early or says a length
// it does not hold is an error, never a read past its end. A program other
// than NFS and MOUNT (portmapper, NLM, an NFSv4.1 callback) is still a
// message: proto rpc, its XID and procedure.
//
// A record held by its prefix (longer than the framer's cap: a WRITE call or
// a READ reply of 1 MiB) is parsed as far as its bytes go: it succeeds when
// the fields the message carries for its procedure were in the prefix
// (RPC header, file handle, offset/count/stable, READ reply count; for
// NFSv4 the COMPOUND header, ops decoded until the prefix ends), and fails
// with `prefix_too_short` otherwise.
//
// Thread-safety: reentrant. Called from: the mirror parser lcore, the offline
// pcap parser, tests, fuzzers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/mirror/app_message.hpp"

namespace cg::dp::mirror {

inline constexpr std::uint32_t rpc_prog_nfs = 100003;
inline constexpr std::uint32_t rpc_prog_mount = 100005;
inline constexpr std::uint32_t nfs3_fh_max = 64;   ///< NFS3_FHSIZE, and MOUNT3's FHSIZE3
inline constexpr std::uint32_t nfs4_fh_max = 128;  ///< NFS4_FHSIZE

/// NFSv3 procedures (RFC 1813 section 3.3).
namespace nfs3 {
enum proc : std::uint32_t {
    null, getattr, setattr, lookup, access, readlink, read, write, create, mkdir, symlink, mknod, remove,
    rmdir, rename, link, readdir, readdirplus, fsstat, fsinfo, pathconf, commit,
};
}  // namespace nfs3

/// MOUNT3 procedures (RFC 1813 section 5.2).
namespace mount3 {
enum proc : std::uint32_t { null, mnt, dump, umnt, umntall, export_ };
}  // namespace mount3

namespace nfs4 {
/// NFSv4 procedures.
enum proc : std::uint32_t { null, compound };
/// Operation numbers (RFC 7530 section 16, RFC 8881 section 18, RFC 7862).
enum op : std::uint16_t {
    access = 3, close, commit, create, delegpurge, delegreturn, getattr, getfh, link, lock, lockt, locku,
    lookup, lookupp, nverify, open, openattr, open_confirm, open_downgrade, putfh, putpubfh, putrootfh,
    read, readdir, readlink, remove, rename, renew, restorefh, savefh, secinfo, setattr, setclientid,
    setclientid_confirm, verify, write, release_lockowner,
    backchannel_ctl, bind_conn_to_session, exchange_id, create_session, destroy_session, free_stateid,
    get_dir_delegation, getdeviceinfo, getdevicelist, layoutcommit, layoutget, layoutreturn,
    secinfo_no_name, sequence, set_ssv, test_stateid, want_delegation, destroy_clientid, reclaim_complete,
    allocate, copy, copy_notify, deallocate, io_advise, layouterror, layoutstats, offload_cancel,
    offload_status, read_plus, seek, write_same, clone,
    illegal = 10044,
};
}  // namespace nfs4

/// Why a record did not parse. On an error `out` keeps what was read before
/// it (kind, id, proto and procedure once the header got that far), so the
/// caller can still count it against its connection.
enum class rpc_error : std::uint8_t {
    truncated,          ///< the record ends inside a field
    prefix_too_short,   ///< a record held by its prefix: the message's fields lie past it
    not_a_call,         ///< parse_rpc_call on a record whose msg_type is not CALL
    not_a_reply,        ///< parse_rpc_reply on one whose msg_type is not REPLY
    bad_msg_type,       ///< msg_type neither CALL nor REPLY
    bad_rpc_version,    ///< rpcvers other than 2
    bad_auth,           ///< credential or verifier over 400 bytes, or an AUTH_SYS body that does not fill it
    bad_reply_stat,     ///< reply_stat, accept_stat or reject_stat out of range
    bad_length,         ///< an opaque, string or array longer than its XDR bound (file handle, path, gids)
    bad_value,          ///< an XDR bool other than 0/1, or a union discriminant with no arm
    unknown_procedure,  ///< NFS or MOUNT procedure number the version does not have
    body_encrypted,     ///< RPCSEC_GSS privacy: the header is known, the arguments are not
    count_
};
inline constexpr std::size_t rpc_error_count = static_cast<std::size_t>(rpc_error::count_);
inline constexpr std::array<std::string_view, rpc_error_count> rpc_error_names = {
    "truncated",      "prefix_too_short", "not_a_call",  "not_a_reply",       "bad_msg_type",   "bad_rpc_version",
    "bad_auth",       "bad_reply_stat",   "bad_length",  "bad_value",         "unknown_procedure", "body_encrypted",
};

/// The reply status for a denied RPC (app_message::status).
inline constexpr std::uint32_t rpc_status_denied = 0xffffffffu;

/// What a reply needs to know of its call; parse_rpc_call fills it, and the
/// caller keeps it with the call until the reply comes.
struct rpc_call_key {
    app_proto proto = app_proto::rpc;
    std::uint32_t procedure = 0;
    /// RPCSEC_GSS service of the call (RFC 2203: 1 none, 2 integrity, 3
    /// privacy), 0 for other flavors: integrity wraps the reply's results
    /// too, privacy encrypts them.
    std::uint8_t gss_service = 0;
};

/// An RPC record's XID and msg_type, to find a reply's call before parsing
/// it. Fails (truncated, bad_msg_type) on fewer than 8 bytes or a msg_type
/// that is neither CALL nor REPLY.
std::optional<rpc_error> peek_rpc(std::span<const std::uint8_t> record, std::uint32_t& xid, msg_kind& kind) noexcept;

/// Parses one call record. `record` is the record or its prefix; `total_len`
/// the record's length (record.size() when held whole). nullopt on success.
/// `key`, when given, gets what parse_rpc_reply needs (also on errors past
/// the header).
std::optional<rpc_error> parse_rpc_call(std::span<const std::uint8_t> record, std::uint32_t total_len,
                                        app_message& out, rpc_call_key* key = nullptr) noexcept;

/// Parses one reply record to the call `call` (by XID; proto rpc when the
/// call is not known: then only the RPC reply header is read). Sets status
/// to the accept_stat (rpc_status_denied when denied), or to the
/// nfsstat3 / mountstat3 / nfsstat4 of an accepted NFS or MOUNT result.
std::optional<rpc_error> parse_rpc_reply(std::span<const std::uint8_t> record, std::uint32_t total_len,
                                         const rpc_call_key& call, app_message& out) noexcept;

}  // namespace cg::dp::mirror
