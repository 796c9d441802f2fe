// The worker's side of the control thread's requests: runs the jobs posted
// on its job ring (table dumps, bulk inserts, simulations: worker_job.hpp)
// between two bursts, at most `job_budget` entries of work per loop (a big
// job goes on at the next loop), and passes the node MACs its router
// learned back on the learned ring.
//
// Ownership: both rings are single producer, single consumer: the control
// thread posts jobs and takes learned MACs; the worker lcore (run()) takes
// jobs and posts learned MACs.
#pragma once

#include <vector>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/router/router.hpp"

struct rte_ring;

namespace cg::dp {

class control_job final : public lcore_job {
public:
    /// Creates the rings (names from `worker`). Throws std::runtime_error when it cannot.
    control_job(router& r, worker_stats& stats, unsigned worker, int socket);
    ~control_job() override;
    control_job(const control_job&) = delete;
    control_job& operator=(const control_job&) = delete;

    /// Entries of job work per loop: about 0.1 ms of a worker's time at
    /// the 20-50 ns an insert into a big table takes.
    static constexpr std::uint32_t job_budget = 2048;

    std::string_view name() const noexcept override { return "control"; }
    unsigned run(const loop_tick& t) noexcept override;

    /// False if the job ring is full. Called from: the control thread.
    bool post(worker_job* job) noexcept;
    /// Appends what the worker learned since the last call. Called from: the control thread.
    void take_learned(std::vector<arp_learned>& out) noexcept;

private:
    router& _router;
    worker_stats& _stats;
    rte_ring* _jobs = nullptr;
    worker_job* _current = nullptr;  ///< a job taken from the ring and not done yet
    rte_ring* _learned = nullptr;
};

}  // namespace cg::dp
