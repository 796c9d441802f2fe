// A worker lcore: polls its packet sources, routes bursts, sends the
// results, ages its connection table, answers control jobs, and (worker 0)
// asks for node MACs by ARP. Run to completion, no locks, no allocation,
// no I/O but the NIC's.
//
// Ownership: everything here belongs to the worker's lcore except
//  - the counter blocks: written by the worker only, read by the control thread;
//  - the job ring (control thread enqueues, worker dequeues) and the learned
//    ring (worker enqueues, control thread dequeues): single producer,
//    single consumer each.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/eal/snapshot_publisher.hpp"
#include "dataplane/router/router.hpp"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

namespace cg::dp {

struct worker_config {
    unsigned index = 0;       ///< 0..workers-1; also the RCU reader id
    int socket = 0;           ///< NUMA socket for its memory
    std::uint32_t max_connections = 0;
    std::uint32_t services = 0, nodes = 0;  ///< slot counts
    std::uint16_t burst = 32;
    std::chrono::microseconds idle_sleep{0};
    std::uint32_t arp_refresh_ms = 30'000;
    rte_mempool* pool = nullptr;  ///< for the ARP requests it builds
    // Run to completion (RSS): RX and TX queue `queue` of every port.
    std::vector<std::uint16_t> ports;
    std::uint16_t queue = 0;
    // Behind a dispatch lcore: packets arrive on rx_ring, leave on tx_ring.
    rte_ring* rx_ring = nullptr;
    rte_ring* tx_ring = nullptr;
};

class worker {
public:
    /// Allocates the connection table from hugepage memory. Throws
    /// std::runtime_error saying how much it wanted.
    worker(const worker_config& cfg, snapshot_publisher& pub);
    ~worker();
    worker(const worker&) = delete;
    worker& operator=(const worker&) = delete;

    /// The lcore's loop, until `stop`. Called from: the worker's lcore.
    void run(const std::atomic<bool>& stop) noexcept;

    // Control thread side.
    const worker_stats& stats() const noexcept { return *_stats; }
    std::span<const node_stats> nodes() const noexcept { return _nodes; }
    std::span<const service_stats> services() const noexcept { return _services; }
    /// False if the job ring is full.
    bool post_job(worker_job* job) noexcept;
    void take_learned(std::vector<arp_learned>& out) noexcept;

private:
    void poll(const snapshot& snap, std::uint32_t now, std::uint32_t& got) noexcept;
    void handle(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept;
    void send(std::uint16_t port, rte_mbuf* m) noexcept;
    void flush(std::uint16_t port) noexcept;
    void flush_all() noexcept;
    void push_learned() noexcept;
    void run_jobs(const snapshot& snap, std::uint32_t now) noexcept;
    void ask_node_macs(const snapshot& snap, std::uint32_t now) noexcept;

    struct tx_buffer {
        std::uint16_t n = 0;
        rte_mbuf* pkts[router::max_burst];
    };

    worker_config _cfg;
    snapshot_publisher& _pub;
    conn_entry* _table_mem = nullptr;
    std::unique_ptr<conn_table> _table;
    std::vector<wrr_state> _wrr;
    std::unique_ptr<worker_stats> _stats;
    std::vector<node_stats> _nodes;
    std::vector<service_stats> _services;
    std::unique_ptr<router> _router;
    std::vector<tx_buffer> _tx;  ///< by port id
    std::uint64_t _tx_pending = 0;  ///< bit p: _tx[p] holds packets (flush_all visits only those)
    rte_ring* _jobs = nullptr;
    rte_ring* _learned = nullptr;
    std::vector<std::uint32_t> _arp_asked;  ///< by node slot: when we last asked (worker 0)
    std::uint32_t _last_arp_round = 0;
};

}  // namespace cg::dp
