// A router worker lcore: its connection table, WRR state, counters and
// router, and the poll loop (lcore_loop.hpp) that runs its jobs: route, then
// control, age, the ARP resolver when it is given one, and flush last. Run
// to completion, no locks, no allocation, no I/O but the NIC's (or the
// dispatch rings').
//
// Ownership: everything here belongs to the worker's lcore except
//  - the counter blocks: written by the worker only, read by the control thread;
//  - the control job's rings (control_job.hpp): SPSC each way.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/eal/burst_io.hpp"
#include "dataplane/eal/lcore_loop.hpp"
#include "dataplane/eal/snapshot_publisher.hpp"
#include "dataplane/eal/table_memory.hpp"
#include "dataplane/eal/mirror_copy.hpp"
#include "dataplane/eal/tx_batch.hpp"
#include "dataplane/router/router.hpp"

struct rte_mempool;

namespace cg::dp {

class control_job;

struct worker_config {
    unsigned index = 0;       ///< 0..workers-1; also the RCU reader id
    int socket = 0;           ///< NUMA socket for its memory
    std::uint32_t max_connections = 0;
    std::uint32_t services = 0, nodes = 0;  ///< slot counts
    std::uint16_t burst = 32;
    std::chrono::microseconds idle_sleep{0};
    std::uint32_t arp_refresh_ms = 30'000;
    bool arp_resolver = false;    ///< this worker asks node MACs and announces the gateway's (one worker does)
    rte_mempool* pool = nullptr;  ///< for the ARP requests and tickles it builds
    std::unique_ptr<burst_io> io;  ///< its queues (queue_io) or dispatch rings (ring_io)
    int mirror_port = -1;              ///< the mirror port's id; -1: no mirror
    rte_mempool* clones = nullptr;     ///< indirect mbufs for the mirror's copies (with mirror_port)
};

class worker {
public:
    /// Allocates the connection table from hugepage memory, on 1 GiB pages
    /// when EAL has them (table_memory.hpp). Throws std::runtime_error
    /// saying how much it wanted.
    worker(worker_config cfg, snapshot_publisher& pub);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// The lcore's loop, until `stop`. Called from: the worker's lcore.
    void run(const std::atomic<bool>& stop) noexcept { _loop->run(stop); }

    // Control thread side.
    const worker_stats& stats() const noexcept { return *_stats; }
    std::span<const node_stats> nodes() const noexcept { return _nodes; }
    std::span<const service_stats> services() const noexcept { return _services; }
    /// False if the job ring is full.
    bool post_job(worker_job* job) noexcept;
    void take_learned(std::vector<arp_learned>& out) noexcept;
    /// Appends jobs of another role that shares this lcore (a mirror parser's),
    /// run after the router's. Called from: the control thread, before run().
    void add_jobs(std::vector<std::unique_ptr<lcore_job>> jobs);
    /// The jobs its loop runs, in order (for the lcore views).
    const std::vector<std::unique_ptr<lcore_job>>& jobs() const noexcept { return _loop->jobs(); }
    /// The page size the connection table lies on ("1 GiB pages").
    std::string table_pages() const { return _table_mem.pages(); }

private:
    worker_config _cfg;
    table_memory _table_mem;  // declared first: freed after everything using it
    std::unique_ptr<conn_table> _table;
    std::vector<wrr_state> _wrr;
    std::unique_ptr<worker_stats> _stats;
    std::vector<node_stats> _nodes;
    std::vector<service_stats> _services;
    peer_macs _peers;
    std::unique_ptr<router> _router;
    std::unique_ptr<tx_batch> _tx;
    std::unique_ptr<mirror_copy> _mirror;
    std::unique_ptr<lcore_loop> _loop;
    control_job* _control = nullptr;  ///< owned by _loop; the loop is destroyed first
};

}  // namespace cg::dp
