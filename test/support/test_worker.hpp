// One worker's routing state without EAL: the connection table and its
// memory, WRR states, counters, and the router over them. Shared by the
// router fixture, the fake data plane and the router fuzzer.
#pragma once

#include <vector>

#include "dataplane/router/router.hpp"

namespace cg::test {

struct test_worker {
    std::vector<dp::conn_entry> table_mem;
    dp::conn_table table;
    std::vector<dp::wrr_state> wrr;
    dp::worker_stats stats{};
    std::vector<dp::node_stats> nstats;
    std::vector<dp::service_stats> sstats;
    dp::peer_macs peers;
    dp::router router;

    test_worker(std::uint32_t max_conns, std::size_t services, std::size_t nodes)
        : table_mem(dp::conn_table::slots_for(max_conns)),
          table(table_mem, max_conns),
          wrr(services),
          nstats(nodes),
          sstats(services),
          router(dp::router_state{table, wrr, stats, nstats, sstats, peers}) {}
    test_worker(const test_worker&) = delete;
    test_worker& operator=(const test_worker&) = delete;
};

}  // namespace cg::test
