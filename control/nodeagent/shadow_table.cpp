#include "control/nodeagent/shadow_table.hpp"

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <ctime>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <system_error>

#include <fmt/format.h>

namespace cg::control::sockdiag {

namespace {

/// The kernel fills a dump's reads up to 32 KiB (netlink_dump); a larger
/// buffer would stay empty, a smaller one would truncate messages.
constexpr std::size_t recv_size = 32768;

struct socket_closer {
    void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using nl_socket = std::unique_ptr<mnl_socket, socket_closer>;

[[noreturn]] void fail(const char* what) { throw std::system_error(errno, std::generic_category(), what); }

struct dump_state {
    std::uint8_t protocol;
    std::vector<shadow::socket_entry>* out;
    read_stats* stats;
    std::string error;  ///< a message parse() refused: the dump stops
};

int on_socket(const nlmsghdr* nlh, void* data) {
    auto& st = *static_cast<dump_state*>(data);
    ++st.stats->messages;
    auto r = parse(std::span(reinterpret_cast<const std::uint8_t*>(nlh), nlh->nlmsg_len), st.protocol);
    if (auto* e = std::get_if<shadow::socket_entry>(&r)) {
        st.out->push_back(*e);
        return MNL_CB_OK;
    }
    const refusal& why = std::get<refusal>(r);
    if (why.why == error::not_ipv4) {
        ++st.stats->skipped;
        return MNL_CB_OK;
    }
    st.error = fmt::format("{}: {}", error_name(why.why), why.detail);
    errno = EBADMSG;
    return MNL_CB_ERROR;
}

// Control messages: libmnl's defaults, except that NLMSG_DONE's error code
// is read (a dump that fails in the kernel, e.g. without udp_diag, says so
// there, not in an NLMSG_ERROR).
int on_noop(const nlmsghdr*, void*) { return MNL_CB_OK; }
int on_error(const nlmsghdr* nlh, void*) {
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
        errno = EBADMSG;
        return MNL_CB_ERROR;
    }
    const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
    if (err->error == 0) return MNL_CB_STOP;
    errno = err->error < 0 ? -err->error : err->error;
    return MNL_CB_ERROR;
}
int on_done(const nlmsghdr* nlh, void*) {
    if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
        int code = 0;
        std::memcpy(&code, mnl_nlmsg_get_payload(nlh), sizeof code);
        if (code < 0) {
            errno = -code;
            return MNL_CB_ERROR;
        }
    }
    return MNL_CB_STOP;
}
int on_overrun(const nlmsghdr*, void*) {
    errno = ENOSPC;
    return MNL_CB_ERROR;
}

/// One SOCK_DIAG_BY_FAMILY dump of `protocol` sockets of `family`. False
/// when the kernel has no handler for the family (IPv6 off).
bool dump(mnl_socket* nl, std::uint32_t seq, std::uint8_t family, std::uint8_t protocol, const filter& f,
          const batch_sink& each, read_stats& stats) {
    std::vector<shadow::socket_entry> out;
    const auto program = bytecode(f, family);
    std::vector<std::uint8_t> request(MNL_NLMSG_HDRLEN + MNL_ALIGN(sizeof(inet_diag_req_v2)) + MNL_ATTR_HDRLEN +
                                      MNL_ALIGN(program.size()));
    nlmsghdr* nlh = mnl_nlmsg_put_header(request.data());
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    auto* req = static_cast<inet_diag_req_v2*>(mnl_nlmsg_put_extra_header(nlh, sizeof(inet_diag_req_v2)));
    req->sdiag_family = family;
    req->sdiag_protocol = protocol;
    req->idiag_states = protocol == IPPROTO_TCP ? tcp_states : udp_states;
    mnl_attr_put(nlh, INET_DIAG_REQ_BYTECODE, program.size(), program.data());
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) fail("sock_diag: send");

    std::array<mnl_cb_t, NLMSG_MIN_TYPE> control{};
    control[NLMSG_NOOP] = on_noop;
    control[NLMSG_ERROR] = on_error;
    control[NLMSG_DONE] = on_done;
    control[NLMSG_OVERRUN] = on_overrun;
    dump_state st{protocol, &out, &stats, {}};
    const unsigned portid = mnl_socket_get_portid(nl);
    // Aligned for the nlmsghdr casts libmnl makes.
    auto buf = std::make_unique<std::uint64_t[]>(recv_size / sizeof(std::uint64_t));
    for (;;) {
        const ssize_t n = mnl_socket_recvfrom(nl, buf.get(), recv_size);
        if (n < 0) fail("sock_diag: receive");
        ++stats.recvs;
        const int r = mnl_cb_run2(buf.get(), static_cast<std::size_t>(n), seq, portid, on_socket, &st,
                                  control.data(), static_cast<unsigned>(control.size()));
        if (!out.empty() && r != MNL_CB_ERROR) {
            each(std::move(out));
            out.clear();
        }
        if (r == MNL_CB_STOP) break;
        if (r == MNL_CB_ERROR) {
            if (!st.error.empty())
                throw std::runtime_error(fmt::format("sock_diag: the kernel sent a socket message this reader "
                                                     "refuses ({})", st.error));
            if (family == AF_INET6 && (errno == ENOENT || errno == EAFNOSUPPORT)) return false;
            fail(family == AF_INET ? "sock_diag: AF_INET dump" : "sock_diag: AF_INET6 dump");
        }
    }
    ++stats.dumps;
    return true;
}

}  // namespace

std::vector<shadow::socket_entry> read_shadow_table(const filter& f, read_stats* stats) {
    std::vector<shadow::socket_entry> all;
    read_shadow_table(
        f, [&](std::vector<shadow::socket_entry>&& some) { all.insert(all.end(), some.begin(), some.end()); }, stats);
    return all;
}

void read_shadow_table(const filter& f, const batch_sink& each, read_stats* stats) {
    read_stats ignored;
    read_stats& st = stats ? *stats : ignored;
    if (f.locals.empty() && !f.wildcard) return;
    nl_socket nl(mnl_socket_open(NETLINK_SOCK_DIAG));
    if (!nl) fail("sock_diag: socket");
    if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) fail("sock_diag: bind");
    std::uint32_t seq = static_cast<std::uint32_t>(::time(nullptr));
    for (const std::uint8_t protocol : {std::uint8_t{IPPROTO_TCP}, std::uint8_t{IPPROTO_UDP}})
        for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}})
            dump(nl.get(), ++seq, family, protocol, f, each, st);
}

}  // namespace cg::control::sockdiag
