#include "dataplane/ctl/worker_job.hpp"

namespace cg::dp {

void run_job(worker_job& job, router& r, const snapshot& snap, std::uint32_t now_ms) noexcept {
    job.now_ms = now_ms;
    job.table_size = r.conns().size();
    job.slot_count = r.conns().slot_count();
    switch (job.what) {
    case worker_job::kind::dump: {
        std::uint32_t cursor = job.cursor;
        job.count = r.conns().dump(cursor, job.page);
        job.next_cursor = cursor;
        break;
    }
    case worker_job::kind::simulate:
        job.sim = r.simulate(snap, job.flow, now_ms);
        // The address now, from the snapshot the worker used: the control
        // thread reads the result later, when that snapshot may be gone.
        job.sim_address = job.sim.what == simulation::outcome::dropped ? 0 : snap.nodes[job.sim.node].address;
        break;
    }
    job.done.store(true, std::memory_order_release);
}

}  // namespace cg::dp
