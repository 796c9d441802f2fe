// sock_diag as the kernel has it, for the tests, the fuzzer and its seeds:
// the netlink messages it sends in a dump (nlmsghdr + inet_diag_msg +
// attributes), built byte by byte, and its rules for a filter program
// (net/ipv4/inet_diag.c), re-stated for the ops sock_diag.cpp writes, so that
// a program is checked as the kernel checks it (inet_diag_bc_audit) and run
// as it runs it (inet_diag_bc_run). The live tests ask the kernel itself.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/net_types.hpp"

namespace cg::test {

struct diag_spec {
    std::uint16_t type = 20;    ///< SOCK_DIAG_BY_FAMILY
    std::uint8_t family = 2;    ///< AF_INET; 10 (AF_INET6) writes the addresses IPv4-mapped (0 as ::)
    std::uint8_t state = 1;     ///< ESTABLISHED
    common::ipv4_addr local = 0xc6120064;   // 198.18.0.100
    std::uint16_t local_port = 80;
    common::ipv4_addr remote = 0xc6120a01;  // 198.18.10.1
    std::uint16_t remote_port = 40000;
    std::optional<std::array<std::uint8_t, 16>> local6, remote6;  ///< AF_INET6 addresses as they are
    /// (type, payload) in order; each padded to 4 bytes.
    std::vector<std::pair<std::uint16_t, std::vector<std::uint8_t>>> attrs;
};

std::vector<std::uint8_t> make_diag_msg(const diag_spec& s);

/// Whether the kernel takes `bc` as a filter (inet_diag_bc_audit: NOP, JMP
/// and S_COND; any other op is refused here).
bool bytecode_audit(const std::vector<std::uint8_t>& bc);

/// A socket as a filter sees it: family, local address (network order; 4
/// bytes for AF_INET) and local port.
struct diag_sock {
    std::uint8_t family = 2;
    std::array<std::uint8_t, 16> addr{};
    int port = 80;
};
diag_sock v4_sock(common::ipv4_addr a);
diag_sock v4_mapped_sock(common::ipv4_addr a);  ///< AF_INET6 ::ffff:a
diag_sock v6_sock(const std::array<std::uint8_t, 16>& a);

/// Whether the kernel dumps `s` under the (audited) filter `bc`
/// (inet_diag_bc_run). Throws std::logic_error for an op other than NOP,
/// JMP and S_COND.
bool bytecode_takes(const std::vector<std::uint8_t>& bc, const diag_sock& s);

}  // namespace cg::test
