// The pure half of reading a node's sockets from its kernel (NETLINK_SOCK_DIAG,
// inet_diag): the filter program the kernel runs over its socket tables, and
// the parser of one socket message it sends back. No I/O and no libmnl here,
// so unit tests feed crafted bytes and the fuzz build links it;
// shadow_table.hpp does the netlink conversation.
//
// The filter (INET_DIAG_REQ_BYTECODE) is built as iproute2's `ss src A or
// src B ...` builds it, and the kernel (net/ipv4/inet_diag.c,
// inet_diag_bc_run) runs it so: each op is {code, yes, no}; when its test
// holds the program goes `yes` bytes on, else `no` bytes; the socket is taken
// when the program ends exactly at its last byte, dropped when it jumps past.
// For addresses A1..An:
//
//   S_COND A1/32 {yes: next op (the JMP), no: skip the JMP to S_COND A2}
//   JMP          {no: to the end: taken}
//   ...
//   S_COND An/32 {yes: the end: taken, no: 4 bytes past the end: dropped}
//
// An AF_INET condition also matches an IPv6 socket whose address is the
// IPv4-mapped ::ffff:A (the kernel checks that), so the AF_INET6 dumps find
// the IPv4 connections of dual-stack servers with the same conditions.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/net_types.hpp"
#include "control/proto/socket_entry.hpp"

namespace cg::control::sockdiag {

/// Which sockets to ask for: those whose local address is one of `locals`,
/// and with `wildcard` also those bound to every address (0.0.0.0, or :: for
/// an IPv6 socket that takes IPv4 too): listeners and UDP servers that serve
/// the cluster addresses without naming them.
struct filter {
    std::vector<common::ipv4_addr> locals;
    bool wildcard = false;
};
/// Beyond this the kernel's 16-bit jump offsets would not reach the end.
inline constexpr std::size_t max_locals = 1024;

/// The INET_DIAG_REQ_BYTECODE program for a dump of `family` (AF_INET or
/// AF_INET6). Throws std::invalid_argument for an empty filter (nothing to
/// ask), more than max_locals addresses, or another family.
std::vector<std::uint8_t> bytecode(const filter& f, std::uint8_t family);

/// idiag_states of the dumps: every TCP state but CLOSE (the kernel reports
/// its request sockets as SYN_RECV), and UDP's two (bound, connected).
inline constexpr std::uint32_t tcp_states = 0xffeu & ~(1u << 7);
inline constexpr std::uint32_t udp_states = (1u << 1) | (1u << 7);

enum class error : std::uint8_t {
    truncated,      ///< shorter than a netlink header and an inet_diag_msg, or than its length field
    not_sock_diag,  ///< another netlink message type, or a protocol other than TCP/UDP asked
    bad_family,     ///< neither AF_INET nor AF_INET6
    bad_state,      ///< a state the dump did not ask for
    bad_attribute,  ///< an attribute running past the message, or of the wrong size
    not_ipv4,       ///< an IPv6 socket that is not IPv4-mapped (or is IPV6_V6ONLY): not ours, skipped
};
inline constexpr std::size_t error_count = 6;
std::string_view error_name(error e);

struct refusal {
    error why;
    std::string detail;
};

/// One netlink message of a SOCK_DIAG_BY_FAMILY dump of `protocol` (6 or
/// 17): exactly nlmsg_len bytes, from its nlmsghdr on, in the host's byte
/// order as the kernel sends it; no alignment needed. The socket, or why not.
std::variant<shadow::socket_entry, refusal> parse(std::span<const std::uint8_t> nlmsg, std::uint8_t protocol);

}  // namespace cg::control::sockdiag
