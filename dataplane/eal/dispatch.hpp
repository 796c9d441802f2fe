// The dispatch role, for ports with a single queue (af_packet without
// fanout, pcap, memif with one queue): one lcore receives every packet,
// hashes the 5-tuple to pick the worker that owns the flow, and hands bursts
// over SPSC rings; it also drains the workers' TX rings onto the ports. The
// workers run the same jobs as with RSS, on ring_io instead of queue_io.
//
// Ownership: its counter block is written by the dispatch lcore only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/lcore_loop.hpp"
#include "dataplane/router/counters.hpp"

struct rte_ring;

namespace cg::dp {

struct dispatch_config {
    std::vector<std::uint16_t> ports;
    std::vector<rte_ring*> to_workers;    ///< one per worker; this lcore produces
    std::vector<rte_ring*> from_workers;  ///< one per worker; this lcore consumes
    std::vector<rte_ring*> mirror_from_workers;  ///< copies for the mirror port, one per worker (when mirroring)
    std::uint16_t burst = 32;
    std::chrono::microseconds idle_sleep{0};
};

/// Spreads the ports' packets over the workers, and sends what they return.
class dispatch_job final : public lcore_job {
public:
    dispatch_job(const dispatch_config& cfg, worker_stats& stats) : _cfg(cfg), _stats(stats) {}
    std::string_view name() const noexcept override { return "dispatch"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    unsigned spread(std::uint16_t port) noexcept;
    /// Sends what `ring` holds; a full TX queue counts tx_full, or
    /// mirror_dropped for a ring of mirror copies.
    unsigned drain(rte_ring* ring, bool mirror) noexcept;

    const dispatch_config& _cfg;
    worker_stats& _stats;
};

class dispatcher {
public:
    explicit dispatcher(dispatch_config cfg);
    dispatcher(const dispatcher&) = delete;  // its job refers to _cfg and _stats
    dispatcher& operator=(const dispatcher&) = delete;
    void run(const std::atomic<bool>& stop) noexcept { _loop.run(stop); }
    const worker_stats& stats() const noexcept { return *_stats; }
    const std::vector<std::unique_ptr<lcore_job>>& jobs() const noexcept { return _loop.jobs(); }

private:
    dispatch_config _cfg;
    std::unique_ptr<worker_stats> _stats;
    lcore_loop _loop;
};

}  // namespace cg::dp
