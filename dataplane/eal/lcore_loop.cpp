#include "dataplane/eal/lcore_loop.hpp"

#include <algorithm>

#include <rte_cycles.h>

#include "dataplane/eal/snapshot_publisher.hpp"
#include "dataplane/eal/tsc_clock.hpp"

namespace cg::dp {

lcore_job& lcore_loop::add(std::unique_ptr<lcore_job> job) {
    _jobs.push_back(std::move(job));
    return *_jobs.back();
}

void lcore_loop::run(const std::atomic<bool>& stop) noexcept {
    const std::uint64_t cycles_per_us = std::max<std::uint64_t>(1, rte_get_tsc_hz() / 1'000'000);
    snapshot_publisher* const pub = _cfg.pub;
    const unsigned id = _cfg.reader_id;
    worker_stats& stats = *_cfg.stats;
    if (pub) pub->reader_start(id);
    while (!stop.load(std::memory_order_relaxed)) {
        const std::uint64_t start = rte_rdtsc();
        const loop_tick tick{pub ? pub->acquire() : nullptr, clock_ms()};
        unsigned moved = 0;
        for (const auto& job : _jobs) moved += job->run(tick);
        stats.loops.add();
        if (pub) pub->quiescent(id);
        if (moved > 0) {
            stats.busy_loops.add();
            stats.loop_time[loop_time_bucket((rte_rdtsc() - start) / cycles_per_us)].add();
        } else if (_cfg.idle_sleep.count() > 0) {
            if (pub) pub->offline(id);
            rte_delay_us_sleep(static_cast<unsigned>(_cfg.idle_sleep.count()));
            if (pub) pub->online(id);
        }
    }
    if (pub) pub->reader_stop(id);
}

}  // namespace cg::dp
