// Asks node MACs by ARP: once a second it sends a request for every node
// still unresolved, and for resolved ones every `refresh_ms` (the replies
// are learned by the router and passed on by the control job). One worker
// runs it (eal_dataplane gives it to worker 0): the answers reach whichever
// worker the port's RSS or the dispatch lcore picks, and the control thread
// merges what all of them learn.
//
// Ownership: the lcore that runs it.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/eal/tx_batch.hpp"

struct rte_mempool;

namespace cg::dp {

class arp_resolver_job final : public lcore_job {
public:
    arp_resolver_job(tx_batch& tx, worker_stats& stats, rte_mempool* pool, std::uint32_t nodes,
                     std::uint32_t refresh_ms)
        : _tx(tx), _stats(stats), _pool(pool), _refresh_ms(refresh_ms), _asked(nodes) {}
    std::string_view name() const noexcept override { return "arp_resolver"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    tx_batch& _tx;
    worker_stats& _stats;
    rte_mempool* _pool;
    std::uint32_t _refresh_ms;
    std::vector<std::uint32_t> _asked;  ///< by node slot: when we last asked
    std::uint32_t _last_round = 0;
};

}  // namespace cg::dp
