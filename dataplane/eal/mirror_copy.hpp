// The active's side of the mirror (requirements 3.2): a worker that forwards a frame
// the router marked (verdict::mirror) also queues a copy for the mirror
// port. Zero-copy: the copy is an indirect mbuf (rte_pktmbuf_clone) from a
// pool of its own that shares the forwarded frame's data, which nobody
// writes after the router rewrote it. Never waits: no mbuf to clone into
// counts mirror_dropped, and so does a full mirror TX queue or ring
// (tx_batch), where forwarded frames have queues or rings of their own.
//
// Ownership: one per worker lcore; the pool is shared (per-lcore caches).
#pragma once

#include <cstdint>

#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/router/counters.hpp"

struct rte_mbuf;
struct rte_mempool;

namespace cg::dp {

class mirror_copy {
public:
    mirror_copy(rte_mempool* clones, std::uint16_t port, tx_batch& tx, worker_stats& stats)
        : _clones(clones), _port(port), _tx(tx), _stats(stats) {}

    /// Queues a copy of `m` for the mirror port. Call before `m` itself is
    /// queued: once sent, `m` may be freed. Called from: the owning worker.
    void copy(rte_mbuf* m) noexcept;

private:
    rte_mempool* _clones;
    std::uint16_t _port;
    tx_batch& _tx;
    worker_stats& _stats;
};

}  // namespace cg::dp
