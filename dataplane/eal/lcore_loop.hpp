// One lcore's poll loop over its registered jobs (lcore_job.hpp): takes the
// current snapshot, runs every job, counts the iteration (loops, busy loops,
// loop-time histogram), passes an RCU quiescent point, and sleeps
// `idle_sleep` when no job found work.
//
// Ownership: built and filled by the control thread before the lcore is
// launched, then run and used by that lcore alone. The counter block belongs
// to the lcore's role (worker or dispatcher), which the loop writes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/router/counters.hpp"

namespace cg::dp {

class snapshot_publisher;

struct lcore_loop_config {
    snapshot_publisher* pub = nullptr;  ///< nullptr: the lcore reads no snapshot (loop_tick::snap is null)
    unsigned reader_id = 0;             ///< its RCU reader id, when `pub` is set
    std::chrono::microseconds idle_sleep{0};
    worker_stats* stats = nullptr;      ///< where loops, busy_loops and loop_time are counted
};

class lcore_loop {
public:
    explicit lcore_loop(lcore_loop_config cfg) : _cfg(cfg) {}

    /// Appends a job; the loop owns it. Called from: the control thread, before run().
    lcore_job& add(std::unique_ptr<lcore_job> job);
    template <class Job, class... Args>
    Job& emplace(Args&&... args) {
        return static_cast<Job&>(add(std::make_unique<Job>(std::forward<Args>(args)...)));
    }
    const std::vector<std::unique_ptr<lcore_job>>& jobs() const noexcept { return _jobs; }

    /// Until `stop`. Called from: the lcore.
    void run(const std::atomic<bool>& stop) noexcept;

private:
    lcore_loop_config _cfg;
    std::vector<std::unique_ptr<lcore_job>> _jobs;
};

}  // namespace cg::dp
