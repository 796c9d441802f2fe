// Announces this gateway's addresses by gratuitous ARP when it becomes the
// active one (and when it starts active): on every port that has an address
// of its own, that address and every cluster address, `rounds` times
// `interval_ms` apart (one lost announcement must not leave a switch or a
// client pointing at the old gateway). One worker runs it, the same that
// resolves node MACs (eal_dataplane gives both to worker 0).
//
// Ownership: the lcore that runs it.
#pragma once

#include <cstdint>

#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/tables/snapshot.hpp"

struct rte_mempool;

namespace cg::dp {

class garp_job final : public lcore_job {
public:
    static constexpr unsigned rounds = 3;
    static constexpr std::uint32_t interval_ms = 100;

    garp_job(tx_batch& tx, worker_stats& stats, rte_mempool* pool) : _tx(tx), _stats(stats), _pool(pool) {}
    std::string_view name() const noexcept override { return "garp"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    unsigned announce(const snapshot& snap) noexcept;

    tx_batch& _tx;
    worker_stats& _stats;
    rte_mempool* _pool;
    gateway_role _last_role = gateway_role::standby;  ///< so that a gateway that starts active announces
    unsigned _left = 0;                                ///< announcement rounds still to send
    std::uint32_t _last_round_ms = 0;
};

}  // namespace cg::dp
