// The standby's mirror follower (requirements 3.2, docs/architecture.md "The mirror: a hot standby"): the
// active gateway copies the frames it forwards to its mirror port; the
// standby reads them on its own and keeps its connection table in step, so
// that it holds the active's connections when it takes over. Pure: frame
// bytes and a snapshot in, the worker's table (through its router) and
// counters out. The DPDK glue hands it the frames that arrive on the mirror
// port (dataplane/eal/router_jobs.cpp).
//
// A mirrored frame is the frame as the active forwarded it: its destination
// MAC names the node (as the standby knows it: configured, or resolved by
// its own ARP), its destination address and port the cluster port. The
// connection table change is the router's (router::follow).
//
// Ownership: one per worker lcore, on that worker's router. Not thread-safe.
#pragma once

#include <cstdint>

#include "dataplane/router/router.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

/// What became of one frame from the mirror port; each is counted in the
/// worker's mirror_* counters (or conn_table_full).
enum class follow_outcome : std::uint8_t {
    followed,         ///< the table holds what the active holds (entry made, refreshed, moved or removed)
    unknown_service,  ///< its destination is no cluster port of ours
    unknown_node,     ///< its destination MAC is no node of that cluster port
    ignored,          ///< we are active, or it is no TCP/UDP flow (ARP, ICMP, junk)
    table_full,       ///< a new connection, and the table is full
};

class follower {
public:
    explicit follower(router& r) noexcept : _router(r) {}

    /// Follows one frame received on the mirror port at `now_ms`. Reads the
    /// frame, never writes it. Called from: the worker that owns the flow.
    follow_outcome follow(const snapshot& snap, const std::uint8_t* frame, std::uint32_t len,
                          std::uint32_t now_ms) noexcept;

private:
    follow_outcome count(follow_outcome o) noexcept;

    router& _router;
};

}  // namespace cg::dp
