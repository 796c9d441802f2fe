// The dispatch lcore, for ports with a single queue (af_packet without
// fanout, pcap, memif with one queue): it receives every packet, hashes the
// 5-tuple to pick the worker that owns the flow, and hands bursts over SPSC
// rings; it also drains the workers' TX rings onto the ports. Same worker
// code as with RSS, only the packet sources and sinks differ.
//
// Ownership: its counter block is written by the dispatch lcore only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/router/counters.hpp"

struct rte_ring;

namespace cg::dp {

struct dispatch_config {
    std::vector<std::uint16_t> ports;
    std::vector<rte_ring*> to_workers;    ///< one per worker; this lcore produces
    std::vector<rte_ring*> from_workers;  ///< one per worker; this lcore consumes
    std::uint16_t burst = 32;
    std::chrono::microseconds idle_sleep{0};
};

class dispatcher {
public:
    explicit dispatcher(dispatch_config cfg) : _cfg(std::move(cfg)), _stats(std::make_unique<worker_stats>()) {}
    void run(const std::atomic<bool>& stop) noexcept;
    const worker_stats& stats() const noexcept { return *_stats; }

private:
    unsigned spread(std::uint16_t port) noexcept;
    unsigned drain(rte_ring* ring) noexcept;

    dispatch_config _cfg;
    std::unique_ptr<worker_stats> _stats;
};

}  // namespace cg::dp
