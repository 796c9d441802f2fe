#include "dataplane/eal/control_job.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

namespace cg::dp {

namespace {
constexpr unsigned job_ring_size = 64;
constexpr unsigned learned_ring_size = 256;
}  // namespace

control_job::control_job(router& r, worker_stats& stats, unsigned worker, int socket) : _router(r), _stats(stats) {
    _jobs = rte_ring_create(fmt::format("cg_jobs_{}", worker).c_str(), job_ring_size, socket,
                            RING_F_SP_ENQ | RING_F_SC_DEQ);
    _learned = rte_ring_create_elem(fmt::format("cg_arp_{}", worker).c_str(), sizeof(arp_learned),
                                    learned_ring_size, socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!_jobs || !_learned) {
        rte_ring_free(_jobs);
        rte_ring_free(_learned);
        throw std::runtime_error(fmt::format("worker {}: cannot create its rings", worker));
    }
}

control_job::~control_job() {
    rte_ring_free(_jobs);
    rte_ring_free(_learned);
}

unsigned control_job::run(const loop_tick& t) noexcept {
    if (const auto learned = _router.learned(); !learned.empty()) {
        const unsigned n = rte_ring_sp_enqueue_burst_elem(_learned, learned.data(), sizeof(arp_learned),
                                                          static_cast<unsigned>(learned.size()), nullptr);
        _stats.arp_learn_lost.add(learned.size() - n);
        _router.clear_learned();
    }
    std::uint32_t budget = job_budget;
    while (budget > 0) {
        if (!_current) {
            void* job = nullptr;
            if (rte_ring_sc_dequeue(_jobs, &job) != 0) break;
            _current = static_cast<worker_job*>(job);
        }
        if (!run_job(*_current, _router, *t.snap, t.now_ms, budget)) break;
        _current = nullptr;
    }
    return 0;
}

bool control_job::post(worker_job* job) noexcept { return rte_ring_sp_enqueue(_jobs, job) == 0; }

void control_job::take_learned(std::vector<arp_learned>& out) noexcept {
    arp_learned buf[32];
    unsigned n;
    while ((n = rte_ring_sc_dequeue_burst_elem(_learned, buf, sizeof(arp_learned), 32, nullptr)) > 0)
        out.insert(out.end(), buf, buf + n);
}

}  // namespace cg::dp
