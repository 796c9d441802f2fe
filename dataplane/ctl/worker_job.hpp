// Work the control thread hands to a worker lcore: the worker owns its
// connection table and WRR state outright, so reads and bulk writes of them
// run on the worker, between two bursts, and the results come back in the
// job. A big job (a bulk dump or insert) runs in slices of a budget of
// entries per loop, so that it never stalls forwarding for long.
//
// Ownership: the control thread allocates the job (outputs pre-sized, so the
// worker never allocates), passes a pointer over the worker's SPSC job ring,
// and must keep it alive until `done` is set. The worker writes the outputs,
// then sets `done` with release order; the control thread reads `done` with
// acquire order before it reads the outputs.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <vector>

#include "dataplane/router/router.hpp"

namespace cg::dp {

struct worker_job {
    enum class kind : std::uint8_t { dump, simulate, insert } what = kind::dump;

    // dump: a page of the table from slot `cursor` (the worker moves it on)
    std::uint32_t cursor = 0;
    std::vector<conn_entry> page;  ///< dump: capacity = page size, filled up to `count`; insert: the entries
    std::uint32_t count = 0;
    std::uint32_t next_cursor = 0;  ///< slot_count() when the table is done
    std::uint32_t table_size = 0;
    std::uint32_t slot_count = 0;
    std::uint32_t now_ms = 0;       ///< the worker clock when it ran the job

    // simulate
    common::flow_key flow;
    simulation sim;
    common::ipv4_addr sim_address = 0;  ///< of node slot sim.node in the snapshot the worker ran it with

    // insert: every entry of `page` through router::restore()
    bool replace = false;
    std::uint32_t next = 0;  ///< entries of `page` done so far
    /// How many entries ended each way, by router::restore_result.
    std::array<std::uint32_t, 4> results{};

    std::atomic<bool> done{false};
};

/// Runs a job on the calling worker, spending at most `budget` entries of
/// work (a simulation costs one) and taking what it spent off `budget`.
/// Returns true once the job is done (and `done` is set); false when the
/// budget ran out first: call again, with the same job, at a later loop.
/// Called from: the worker that owns `r`.
bool run_job(worker_job& job, router& r, const snapshot& snap, std::uint32_t now_ms, std::uint32_t& budget) noexcept;
/// The whole job at once (tests, the fake data plane).
inline void run_job(worker_job& job, router& r, const snapshot& snap, std::uint32_t now_ms) noexcept {
    std::uint32_t unlimited = ~0u;
    run_job(job, r, snap, now_ms, unlimited);
}

/// The worker that owns a flow when a dispatch lcore spreads flows by hash.
inline std::uint32_t worker_for_hash(std::uint32_t hash, std::uint32_t workers) noexcept {
    return static_cast<std::uint32_t>((std::uint64_t{hash} * workers) >> 32);
}

}  // namespace cg::dp
