// The node's shadow connection table (requirements 5.3): its own TCP connections and
// listeners, and its UDP sockets, whose local address is a cluster address,
// read from the kernel when asked (NETLINK_SOCK_DIAG through libmnl). Exact
// and kept nowhere: nothing to keep in sync, nothing costs until a gateway
// asks. The kernel filters (sock_diag.hpp's bytecode); this side only parses.
//
// Four dumps: TCP and UDP, each AF_INET and AF_INET6 (a dual-stack server's
// IPv4 connections are IPv6 sockets with IPv4-mapped addresses). A dump is
// not a snapshot: a connection opening or closing meanwhile may be in it or
// not, as with `ss`.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "control/nodeagent/sock_diag.hpp"
#include "control/proto/socket_entry.hpp"

namespace cg::control::sockdiag {

struct read_stats {
    std::size_t dumps = 0;     ///< dump requests the kernel answered
    std::size_t recvs = 0;     ///< netlink reads (a dump takes several when it is large)
    std::size_t messages = 0;  ///< socket messages received
    std::size_t skipped = 0;   ///< IPv6-only sockets the wildcard condition brought (not_ipv4)
};

/// Takes the sockets one netlink read brought (never called with none).
using batch_sink = std::function<void(std::vector<shadow::socket_entry>&&)>;

/// The sockets `f` asks for, in the kernel's order, handed to `each` as the
/// kernel sends them, so that an answer can leave before the dump ends.
/// Throws std::system_error when netlink fails (an AF_INET6 dump on a
/// kernel without IPv6 counts as empty), std::runtime_error when the kernel
/// sends a message parse() refuses (other than an IPv6-only socket).
void read_shadow_table(const filter& f, const batch_sink& each, read_stats* stats = nullptr);

/// The same, all at once.
std::vector<shadow::socket_entry> read_shadow_table(const filter& f, read_stats* stats = nullptr);

}  // namespace cg::control::sockdiag
