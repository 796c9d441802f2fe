#include "control/nodeagent/sock_diag.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <stdexcept>

#include <fmt/format.h>

namespace cg::control::sockdiag {

namespace {

/// Appends one condition: `family` address `addr` (network order, 4 or 16
/// bytes) with prefix length 8 * its size, any port.
void put_cond(std::vector<std::uint8_t>& out, std::uint8_t family, std::span<const std::uint8_t> addr,
              std::uint16_t no) {
    const std::size_t len = sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + addr.size();
    const inet_diag_bc_op op{INET_DIAG_BC_S_COND, static_cast<unsigned char>(len), no};
    inet_diag_hostcond cond{};
    cond.family = family;
    cond.prefix_len = static_cast<std::uint8_t>(8 * addr.size());
    cond.port = -1;
    const std::size_t at = out.size();
    out.resize(at + len);
    std::memcpy(out.data() + at, &op, sizeof op);
    std::memcpy(out.data() + at + sizeof op, &cond, sizeof cond);
    std::memcpy(out.data() + at + sizeof op + sizeof cond, addr.data(), addr.size());
}

template <class T>
T load(std::span<const std::uint8_t> bytes, std::size_t at) {
    T v;
    std::memcpy(&v, bytes.data() + at, sizeof v);
    return v;
}

bool state_asked(std::uint8_t protocol, std::uint8_t state) {
    const std::uint32_t asked = protocol == IPPROTO_TCP ? tcp_states : udp_states;
    return state < 32 && (asked >> state & 1u);
}

/// The IPv4 address of an IPv6 one: ::ffff:a.b.c.d, or :: for the wildcard.
std::optional<common::ipv4_addr> mapped(const __be32 (&a)[4]) {
    if (a[0] != 0 || a[1] != 0) return std::nullopt;
    if (a[2] == htonl(0xffff)) return ntohl(a[3]);
    if (a[2] == 0 && a[3] == 0) return 0;
    return std::nullopt;
}

}  // namespace

std::string_view error_name(error e) {
    static constexpr std::string_view names[] = {"truncated", "not_sock_diag", "bad_family",
                                                 "bad_state", "bad_attribute", "not_ipv4"};
    static_assert(std::size(names) == error_count);
    return names[static_cast<std::size_t>(e)];
}

std::vector<std::uint8_t> bytecode(const filter& f, std::uint8_t family) {
    if (family != AF_INET && family != AF_INET6)
        throw std::invalid_argument(fmt::format("sock_diag filter: family {} is neither AF_INET nor AF_INET6", family));
    if (f.locals.size() > max_locals)
        throw std::invalid_argument(
            fmt::format("sock_diag filter: {} addresses, at most {}", f.locals.size(), max_locals));
    struct cond {
        std::uint8_t family;
        std::array<std::uint8_t, 16> addr{};
        std::size_t addr_len;
    };
    std::vector<cond> conds;
    for (const common::ipv4_addr a : f.locals) {
        cond c{AF_INET, {}, 4};
        const std::uint32_t be = htonl(a);
        std::memcpy(c.addr.data(), &be, 4);
        conds.push_back(c);
    }
    // Bound to every address: 0.0.0.0 for IPv4 sockets; :: for IPv6 ones
    // (0.0.0.0 as an AF_INET condition would only match ::ffff:0.0.0.0).
    if (f.wildcard) conds.push_back(family == AF_INET ? cond{AF_INET, {}, 4} : cond{AF_INET6, {}, 16});
    if (conds.empty()) throw std::invalid_argument("sock_diag filter: no address to ask for");

    std::size_t total = 0;
    for (const cond& c : conds) total += sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + c.addr_len;
    total += sizeof(inet_diag_bc_op) * (conds.size() - 1);
    std::vector<std::uint8_t> out;
    out.reserve(total);
    for (std::size_t i = 0; i < conds.size(); ++i) {
        const std::size_t len = sizeof(inet_diag_bc_op) + sizeof(inet_diag_hostcond) + conds[i].addr_len;
        // Not this address: over the JMP that follows (the last one: past the end).
        put_cond(out, conds[i].family, std::span(conds[i].addr).first(conds[i].addr_len),
                 static_cast<std::uint16_t>(len + sizeof(inet_diag_bc_op)));
        if (i + 1 < conds.size()) {
            // This address: jump to the very end, where the socket is taken.
            const std::size_t to_end = total - out.size();
            const inet_diag_bc_op jmp{INET_DIAG_BC_JMP, sizeof(inet_diag_bc_op), static_cast<std::uint16_t>(to_end)};
            const std::size_t at = out.size();
            out.resize(at + sizeof jmp);
            std::memcpy(out.data() + at, &jmp, sizeof jmp);
        }
    }
    return out;
}

std::variant<shadow::socket_entry, refusal> parse(std::span<const std::uint8_t> m, std::uint8_t protocol) {
    if (protocol != IPPROTO_TCP && protocol != IPPROTO_UDP)
        return refusal{error::not_sock_diag, fmt::format("protocol {} is neither TCP nor UDP", protocol)};
    constexpr std::size_t head = NLMSG_HDRLEN;
    constexpr std::size_t body = NLMSG_ALIGN(sizeof(inet_diag_msg));
    if (m.size() < head)
        return refusal{error::truncated, fmt::format("{} bytes, less than a netlink header", m.size())};
    const auto h = load<nlmsghdr>(m, 0);
    if (h.nlmsg_len != m.size())
        return refusal{error::truncated,
                       fmt::format("the netlink header says {} bytes, the message has {}", h.nlmsg_len, m.size())};
    if (h.nlmsg_type != SOCK_DIAG_BY_FAMILY)
        return refusal{error::not_sock_diag, fmt::format("netlink message type {}", h.nlmsg_type)};
    if (m.size() < head + sizeof(inet_diag_msg))
        return refusal{error::truncated, fmt::format("{} bytes, less than an inet_diag_msg", m.size())};
    const auto d = load<inet_diag_msg>(m, head);
    if (d.idiag_family != AF_INET && d.idiag_family != AF_INET6)
        return refusal{error::bad_family, fmt::format("address family {}", d.idiag_family)};
    if (!state_asked(protocol, d.idiag_state))
        return refusal{error::bad_state, fmt::format("state {} for protocol {}", d.idiag_state, protocol)};

    bool v6only = false;
    std::size_t at = std::min(head + body, m.size());
    while (at < m.size()) {
        const std::size_t left = m.size() - at;
        if (left < sizeof(nlattr))
            return refusal{error::bad_attribute, fmt::format("{} stray bytes after the attributes", left)};
        const auto a = load<nlattr>(m, at);
        const std::uint16_t type = a.nla_type & NLA_TYPE_MASK;
        if (a.nla_len < sizeof(nlattr) || a.nla_len > left)
            return refusal{error::bad_attribute,
                           fmt::format("attribute {} says {} bytes, {} are left", type, a.nla_len, left)};
        const std::size_t payload = a.nla_len - NLA_HDRLEN;
        if (type == INET_DIAG_PROTOCOL || type == INET_DIAG_SKV6ONLY || type == INET_DIAG_SHUTDOWN) {
            if (payload != 1)
                return refusal{error::bad_attribute,
                               fmt::format("attribute {} has {} bytes, a u8 takes 1", type, payload)};
            const std::uint8_t v = m[at + NLA_HDRLEN];
            if (type == INET_DIAG_PROTOCOL && v != protocol)
                return refusal{error::bad_attribute,
                               fmt::format("protocol attribute {} in a dump of protocol {}", v, protocol)};
            if (type == INET_DIAG_SKV6ONLY) v6only = v != 0;
        }
        // Attributes are padded to 4 bytes; the last one's padding may be missing.
        at += std::min<std::size_t>(NLA_ALIGN(a.nla_len), left);
    }

    shadow::socket_entry e;
    e.proto = protocol;
    e.state = d.idiag_state;
    e.local_port = ntohs(d.id.idiag_sport);
    e.remote_port = ntohs(d.id.idiag_dport);
    if (d.idiag_family == AF_INET) {
        e.local = ntohl(d.id.idiag_src[0]);
        e.remote = ntohl(d.id.idiag_dst[0]);
        return e;
    }
    if (v6only) return refusal{error::not_ipv4, "an IPV6_V6ONLY socket"};
    const auto local = mapped(d.id.idiag_src);
    const auto remote = mapped(d.id.idiag_dst);
    if (!local || !remote) return refusal{error::not_ipv4, "IPv6 addresses that are not IPv4-mapped"};
    e.local = *local;
    e.remote = *remote;
    return e;
}

}  // namespace cg::control::sockdiag
