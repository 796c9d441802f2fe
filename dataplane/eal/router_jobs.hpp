// The router role's jobs on a worker lcore: route (poll the packet sources,
// route_burst, queue the verdicts' packets) and age (one slice of the
// connection table's timers per iteration, and the table-size gauge).
//
// Ownership: the worker's lcore; they borrow the worker's router and table.
#pragma once

#include "dataplane/eal/burst_io.hpp"
#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/router/router.hpp"

namespace cg::dp {

class route_job final : public lcore_job {
public:
    route_job(router& r, burst_io& io, tx_batch& tx, std::uint16_t burst);
    std::string_view name() const noexcept override { return "route"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    void handle(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept;

    router& _router;
    burst_io& _io;
    tx_batch& _tx;
    std::uint16_t _burst;
};

class age_job final : public lcore_job {
public:
    age_job(router& r, const conn_table& table, worker_stats& stats) : _router(r), _table(table), _stats(stats) {}
    std::string_view name() const noexcept override { return "age"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    router& _router;
    const conn_table& _table;
    worker_stats& _stats;
};

}  // namespace cg::dp
