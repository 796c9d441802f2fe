// The EAL glue of failed_sweep (dataplane/router/failed_sweep.hpp): on every
// worker, once a node is marked failed, a bare ACK to each of its clients,
// built in an mbuf of the worker's pool and sent through the worker's TX
// batch on the port the client's frames came in on. The client's answer
// gets the router's RST.
//
// Paced by the route job of the same loop: each tickle draws one answer
// into the RX queue the route job drains a burst a turn from, so a turn
// sends at most half a burst of tickles, and one while that queue is
// backlogged. Faster, the answers overflow the queue and are lost: with
// 64 a turn and af_packet's ring of 512 frames, 4,512 of 10,000 clients
// got no reset. The sweep's later rounds take those an answer was lost of.
//
// Ownership: one per worker, run by that worker's loop.
#pragma once

#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/router_jobs.hpp"
#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/router/failed_sweep.hpp"

struct rte_mempool;

namespace cg::dp {

class tickle_job final : public lcore_job, private failed_sweep::sink {
public:
    tickle_job(const conn_table& table, const peer_macs& peers, tx_batch& tx, worker_stats& stats, rte_mempool* pool,
               const route_job& route)
        : _table(table), _peers(peers), _tx(tx), _stats(stats), _pool(pool), _route(route) {}
    std::string_view name() const noexcept override { return "tickle"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    bool tickle(const conn_entry& e, const peer_macs::peer& to) noexcept override;

    const conn_table& _table;
    const peer_macs& _peers;
    tx_batch& _tx;
    worker_stats& _stats;
    rte_mempool* _pool;
    const route_job& _route;
    failed_sweep _sweep;
    const snapshot* _snap = nullptr;  ///< the turn's, for the ports' MACs
};

}  // namespace cg::dp
