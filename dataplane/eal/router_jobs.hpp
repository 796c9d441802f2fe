// The router role's jobs on a worker lcore: route (poll the packet sources,
// route_burst, queue the verdicts' packets and the mirror's copies; frames
// from the mirror port go to the standby's follower instead) and age (one slice of the
// connection table's timers per iteration, and the table-size gauge).
//
// Ownership: the worker's lcore; they borrow the worker's router and table.
#pragma once

#include "dataplane/eal/burst_io.hpp"
#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/mirror_copy.hpp"
#include "dataplane/mirror/follower.hpp"
#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/router/router.hpp"

namespace cg::dp {

class route_job final : public lcore_job {
public:
    /// `mirror`: copies forwarded frames marked for the mirror; nullptr: no mirror port.
    route_job(router& r, burst_io& io, tx_batch& tx, std::uint16_t burst, mirror_copy* mirror = nullptr);
    std::string_view name() const noexcept override { return "route"; }
    unsigned run(const loop_tick& t) noexcept override;
    /// The last turn took a full burst from some source: its RX queue may
    /// hold more than one turn drains (the tickle job then holds back).
    bool backlogged() const noexcept { return _backlogged; }
    std::uint16_t burst() const noexcept { return _burst; }

private:
    void handle(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept;
    /// Gives the frames of the mirror port to the follower (and frees them);
    /// moves the others to the front. Returns how many are left.
    std::uint16_t follow_mirrored(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept;

    router& _router;
    follower _follower;
    burst_io& _io;
    tx_batch& _tx;
    mirror_copy* _mirror;
    std::uint16_t _burst;
    bool _backlogged = false;
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
