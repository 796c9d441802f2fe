// Work the control thread hands to a worker lcore: the worker owns its
// connection table and WRR state outright, so reads of them run on the
// worker, between two bursts, and the results come back in the job.
//
// Ownership: the control thread allocates the job (outputs pre-sized, so the
// worker never allocates), passes a pointer over the worker's SPSC job ring,
// and must keep it alive until `done` is set. The worker writes the outputs,
// then sets `done` with release order; the control thread reads `done` with
// acquire order before it reads the outputs.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/router/router.hpp"

namespace cg::dp {

struct worker_job {
    enum class kind : std::uint8_t { dump, simulate } what = kind::dump;

    // dump: a page of the table from slot `cursor`
    std::uint32_t cursor = 0;
    std::vector<conn_entry> page;  ///< capacity = page size, filled up to `count`
    std::uint32_t count = 0;
    std::uint32_t next_cursor = 0;  ///< slot_count() when the table is done
    std::uint32_t table_size = 0;
    std::uint32_t slot_count = 0;
    std::uint32_t now_ms = 0;       ///< the worker clock when it ran the job

    // simulate
    common::flow_key flow;
    simulation sim;
    common::ipv4_addr sim_address = 0;  ///< of node slot sim.node in the snapshot the worker ran it with

    std::atomic<bool> done{false};
};

/// Runs a job on the calling worker. Called from: the worker that owns `r`.
void run_job(worker_job& job, router& r, const snapshot& snap, std::uint32_t now_ms) noexcept;

/// The worker that owns a flow when a dispatch lcore spreads flows by hash.
inline std::uint32_t worker_for_hash(std::uint32_t hash, std::uint32_t workers) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{hash} * workers) >> 32);
}

}  // namespace cg::dp
