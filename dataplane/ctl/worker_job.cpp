#include "dataplane/ctl/worker_job.hpp"

#include <algorithm>

namespace cg::dp {

namespace {

/// Slots a dump may visit per entry of budget: a sparse table is scanned
/// faster than entries are copied.
constexpr std::uint32_t slots_per_entry = 16;
/// How far ahead an insert prefetches the home slot of the entries to come.
constexpr std::uint32_t insert_ahead = 8;

bool dump_some(worker_job& job, const conn_table& t, std::uint32_t& budget) noexcept {
    const std::uint32_t room = static_cast<std::uint32_t>(job.page.size()) - job.count;
    const std::uint32_t take = std::min(room, budget);
    const std::uint64_t slots = std::uint64_t{std::max(budget, 1u)} * slots_per_entry;
    const std::uint32_t copied = t.dump(job.cursor, std::span(job.page).subspan(job.count, take),
                                        static_cast<std::uint32_t>(std::min<std::uint64_t>(slots, ~0u)));
    job.count += copied;
    budget -= std::min(budget, std::max(copied, 1u));
    return job.count == job.page.size() || job.cursor >= t.slot_count();
}

bool insert_some(worker_job& job, router& r, std::uint32_t now_ms, std::uint32_t& budget) noexcept {
    const auto n = static_cast<std::uint32_t>(job.page.size());
    const std::uint32_t end = job.next + std::min(budget, n - job.next);
    for (std::uint32_t i = job.next; i < std::min(job.next + insert_ahead, n); ++i) r.conns().prefetch(job.page[i].hash);
    for (std::uint32_t i = job.next; i < end; ++i) {
        if (i + insert_ahead < n) r.conns().prefetch(job.page[i + insert_ahead].hash);
        ++job.results[static_cast<std::size_t>(r.restore(job.page[i], job.replace, now_ms))];
    }
    budget -= end - job.next;
    job.next = end;
    return job.next == n;
}

}  // namespace

bool run_job(worker_job& job, router& r, const snapshot& snap, std::uint32_t now_ms, std::uint32_t& budget) noexcept {
    bool finished = true;
    switch (job.what) {
    case worker_job::kind::dump: finished = dump_some(job, r.conns(), budget); break;
    case worker_job::kind::insert: finished = insert_some(job, r, now_ms, budget); break;
    case worker_job::kind::simulate:
        job.sim = r.simulate(snap, job.flow, now_ms);
        // The address now, from the snapshot the worker used: the control
        // thread reads the result later, when that snapshot may be gone.
        job.sim_address = job.sim.what == simulation::outcome::dropped ? 0 : snap.nodes[job.sim.node].address;
        budget -= std::min(budget, 1u);
        break;
    }
    if (!finished) return false;
    job.now_ms = now_ms;
    job.table_size = r.conns().size();
    job.slot_count = r.conns().slot_count();
    job.next_cursor = job.cursor;
    job.done.store(true, std::memory_order_release);
    return true;
}

}  // namespace cg::dp
