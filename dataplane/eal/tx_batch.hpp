// A worker's packets on their way out: one buffer per TX port, handed to
// its burst_io when full and at the end of every loop iteration (flush_job,
// registered last). Drops on a full TX queue or ring are counted as tx_full;
// on the mirror port's, the copies are counted mirror_sent and mirror_dropped
// instead (they are not forwarded frames).
//
// Ownership: one lcore's, like everything its jobs touch.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/eal/burst_io.hpp"
#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/router/counters.hpp"
#include "dataplane/router/router.hpp"

namespace cg::dp {

class tx_batch {
public:
    /// `mirror_port`: the mirror port's id, or -1 (no mirror).
    tx_batch(burst_io& io, worker_stats& stats, int mirror_port = -1);
    /// Queues `m` for `port` (sets m->port). Called from: the owning lcore.
    void send(std::uint16_t port, rte_mbuf* m) noexcept;
    /// Sends every non-empty buffer.
    void flush_all() noexcept;

private:
    void flush(std::uint16_t port) noexcept;

    struct buffer {
        std::uint16_t n = 0;
        rte_mbuf* pkts[router::max_burst];
    };
    burst_io& _io;
    worker_stats& _stats;
    std::vector<buffer> _by_port;
    int _mirror_port;
    std::uint64_t _pending = 0;  ///< bit p: _by_port[p] holds packets (flush_all visits only those)
};

class flush_job final : public lcore_job {
public:
    explicit flush_job(tx_batch& tx) : _tx(tx) {}
    std::string_view name() const noexcept override { return "flush"; }
    unsigned run(const loop_tick&) noexcept override {
        _tx.flush_all();
        return 0;  // the packets were counted as work by the job that queued them
    }

private:
    tx_batch& _tx;
};

}  // namespace cg::dp
