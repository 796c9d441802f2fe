#include "support/diag_msgs.hpp"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace cg::test {

namespace {

void ipv6_of(__be32 (&out)[4], common::ipv4_addr a, const std::optional<std::array<std::uint8_t, 16>>& raw) {
    if (raw) {
        std::memcpy(out, raw->data(), 16);
        return;
    }
    out[0] = out[1] = 0;
    out[2] = a == 0 ? 0 : htonl(0xffff);
    out[3] = htonl(a);
}

}  // namespace

std::vector<std::uint8_t> make_diag_msg(const diag_spec& s) {
    inet_diag_msg d{};
    d.idiag_family = s.family;
    d.idiag_state = s.state;
    d.id.idiag_sport = htons(s.local_port);
    d.id.idiag_dport = htons(s.remote_port);
    if (s.family == 10) {
        ipv6_of(d.id.idiag_src, s.local, s.local6);
        ipv6_of(d.id.idiag_dst, s.remote, s.remote6);
    } else {
        d.id.idiag_src[0] = htonl(s.local);
        d.id.idiag_dst[0] = htonl(s.remote);
    }
    d.id.idiag_cookie[0] = 0x1234;
    d.idiag_inode = 4242;
    std::vector<std::uint8_t> out(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof d));
    std::memcpy(out.data() + NLMSG_HDRLEN, &d, sizeof d);
    for (const auto& [type, payload] : s.attrs) {
        const nlattr a{static_cast<std::uint16_t>(NLA_HDRLEN + payload.size()), type};
        const std::size_t at = out.size();
        out.resize(at + NLA_ALIGN(a.nla_len));
        std::memcpy(out.data() + at, &a, sizeof a);
        if (!payload.empty()) std::memcpy(out.data() + at + NLA_HDRLEN, payload.data(), payload.size());
    }
    nlmsghdr h{};
    h.nlmsg_len = static_cast<std::uint32_t>(out.size());
    h.nlmsg_type = s.type;
    h.nlmsg_flags = NLM_F_MULTI;
    h.nlmsg_seq = 7;
    h.nlmsg_pid = 1234;
    std::memcpy(out.data(), &h, sizeof h);
    return out;
}

namespace {

/// The op or condition at `i`, zeros past the end (which no check passes).
template <class T>
T at(const std::vector<std::uint8_t>& b, std::size_t i) {
    T v{};
    if (i + sizeof v <= b.size()) std::memcpy(&v, b.data() + i, sizeof v);
    return v;
}

/// valid_cc: does a jump that leaves `cc` bytes land on an op?
bool valid_jump_target(const std::vector<std::uint8_t>& bc, int cc) {
    int len = static_cast<int>(bc.size());
    std::size_t pc = 0;
    while (len >= 0) {
        if (cc > len) return false;
        if (cc == len) return true;
        const auto op = at<inet_diag_bc_op>(bc, pc);
        if (op.yes < 4 || op.yes & 3) return false;
        len -= op.yes;
        pc += op.yes;
    }
    return false;
}

bool prefix_match(const std::uint8_t* a, const std::uint8_t* b, int bits) {
    const int bytes = bits / 8;
    if (std::memcmp(a, b, static_cast<std::size_t>(bytes)) != 0) return false;
    const int rest = bits % 8;
    if (rest == 0) return true;
    const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
    return (a[bytes] & mask) == (b[bytes] & mask);
}

}  // namespace

bool bytecode_audit(const std::vector<std::uint8_t>& bc) {
    int len = static_cast<int>(bc.size());
    if (len < static_cast<int>(sizeof(inet_diag_bc_op))) return false;
    std::size_t pc = 0;
    while (len > 0) {
        int min_len = sizeof(inet_diag_bc_op);
        const auto op = at<inet_diag_bc_op>(bc, pc);
        switch (op.code) {
            case INET_DIAG_BC_S_COND: {
                min_len += sizeof(inet_diag_hostcond);
                if (len < min_len) return false;
                const auto cond = at<inet_diag_hostcond>(bc, pc + sizeof op);
                const int addr_len = cond.family == AF_INET ? 4 : cond.family == AF_INET6 ? 16 : cond.family == AF_UNSPEC ? 0 : -1;
                if (addr_len < 0) return false;
                min_len += addr_len;
                if (len < min_len || cond.prefix_len > 8 * addr_len) return false;
                break;
            }
            case INET_DIAG_BC_JMP:
            case INET_DIAG_BC_NOP:
                break;
            default:
                return false;
        }
        if (op.code != INET_DIAG_BC_NOP) {
            if (op.no < min_len || op.no > len + 4 || (op.no & 3)) return false;
            if (op.no < len && !valid_jump_target(bc, len - op.no)) return false;
        }
        if (op.yes < min_len || op.yes > len + 4 || (op.yes & 3)) return false;
        pc += op.yes;
        len -= op.yes;
    }
    return len == 0;
}

diag_sock v4_sock(common::ipv4_addr a) {
    diag_sock s{AF_INET};
    const std::uint32_t be = htonl(a);
    std::memcpy(s.addr.data(), &be, 4);
    return s;
}

diag_sock v4_mapped_sock(common::ipv4_addr a) {
    diag_sock s{AF_INET6};
    s.addr[10] = s.addr[11] = 0xff;
    const std::uint32_t be = htonl(a);
    std::memcpy(s.addr.data() + 12, &be, 4);
    return s;
}

diag_sock v6_sock(const std::array<std::uint8_t, 16>& a) { return diag_sock{AF_INET6, a}; }

bool bytecode_takes(const std::vector<std::uint8_t>& bc, const diag_sock& s) {
    int len = static_cast<int>(bc.size());
    std::size_t pc = 0;
    while (len > 0) {
        bool yes = true;
        const auto op = at<inet_diag_bc_op>(bc, pc);
        switch (op.code) {
            case INET_DIAG_BC_NOP:
                break;
            case INET_DIAG_BC_JMP:
                yes = false;
                break;
            case INET_DIAG_BC_S_COND: {
                const auto cond = at<inet_diag_hostcond>(bc, pc + sizeof op);
                const std::uint8_t* want = bc.data() + pc + sizeof op + sizeof cond;
                if (cond.port != -1 && cond.port != s.port) {
                    yes = false;
                    break;
                }
                if (cond.family != AF_UNSPEC && cond.family != s.family) {
                    // An AF_INET condition matches an IPv4-mapped IPv6 address.
                    const bool mapped = s.family == AF_INET6 && cond.family == AF_INET &&
                                        std::all_of(s.addr.begin(), s.addr.begin() + 10, [](auto b) { return b == 0; }) &&
                                        s.addr[10] == 0xff && s.addr[11] == 0xff;
                    if (!(mapped && prefix_match(s.addr.data() + 12, want, cond.prefix_len))) yes = false;
                    break;
                }
                if (cond.prefix_len != 0 && !prefix_match(s.addr.data(), want, cond.prefix_len)) yes = false;
                break;
            }
            default:
                throw std::logic_error("a filter op this checker does not know: " + std::to_string(op.code));
        }
        const int step = yes ? op.yes : op.no;
        len -= step;
        pc += static_cast<std::size_t>(step);
    }
    return len == 0;
}

}  // namespace cg::test
