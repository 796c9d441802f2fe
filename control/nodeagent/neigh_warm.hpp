// The first hops of a restore's clients resolved before their sockets are
// repaired (docs/architecture.md "Spares and restoration"). A spare has
// usually never spoken to a failed node's clients: without this, the first
// segments of hundreds of repaired sockets wait together on one ARP
// resolution, whose queue (the kernel's unres_qlen_bytes) keeps a few
// hundred packets and drops the rest, which go out again only at their
// retransmission timeout, hundreds of ms later.
//
// For each distinct client address: the route to it (RTM_GETROUTE: the
// output interface and the gateway, or the address itself on a link), then
// for each distinct first hop an RTM_NEWNEIGH with NTF_USE, which has the
// kernel resolve it as if a packet were waiting, sending nothing to the
// client itself; resolved() asks each entry's state (RTM_GETNEIGH) until
// all are valid. Each call is a few netlink round trips of a few
// microseconds: the caller polls on its own timer.
//
// Thread-safety: none. Called from: the restorer (nodeagent's io_context), tests.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/net_types.hpp"

struct mnl_socket;

namespace cg::control {

struct neigh_hop {
    std::uint32_t ifindex = 0;
    common::ipv4_addr addr = 0;  ///< the gateway, or the client on a link
    friend bool operator==(const neigh_hop&, const neigh_hop&) = default;
};

class neigh_warm {
public:
    /// At most this many client addresses are looked up per start(): a
    /// restore's clients are mostly behind a few routers.
    static constexpr std::size_t max_clients = 1024;

    neigh_warm();
    ~neigh_warm();
    neigh_warm(const neigh_warm&) = delete;
    neigh_warm& operator=(const neigh_warm&) = delete;

    /// Finds the first hops of `clients` and has each resolved. Returns an
    /// error (and resolves nothing more) when netlink fails; a client with
    /// no route is skipped (its socket cannot send either).
    std::string start(std::span<const common::ipv4_addr> clients);
    /// True once every hop start() found is resolved (or was already).
    bool resolved();
    const std::vector<neigh_hop>& hops() const noexcept { return _hops; }

private:
    std::unique_ptr<mnl_socket, void (*)(mnl_socket*)> _nl;
    std::uint32_t _seq = 0;
    std::vector<neigh_hop> _hops, _pending;
};

}  // namespace cg::control
