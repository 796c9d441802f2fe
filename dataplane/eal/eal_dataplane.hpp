// The running data plane: mbuf pool, ports, workers (and the dispatch lcore
// and the mirror parser lcores when configured), launched on their lcores; the real dp_adapter the
// controller drives. Requires rte_eal_init() done.
//
// Lifecycle: construct (ports started, nothing polled yet), give bindings()
// to the controller, which publishes the first snapshot, then start();
// stop() (or the destructor) joins the lcores and closes the ports.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <vector>

#include "common/config.hpp"
#include "dataplane/ctl/dp_adapter.hpp"
#include "dataplane/eal/dispatch.hpp"
#include "dataplane/eal/parser_lcore.hpp"
#include "dataplane/eal/ports.hpp"
#include "dataplane/eal/snapshot_publisher.hpp"
#include "dataplane/eal/worker.hpp"
#include "dataplane/tables/snapshot_builder.hpp"

struct rte_mempool;
struct rte_ring;

namespace cg::dp {

class eal_dataplane final : public dp_adapter {
public:
    /// Throws std::runtime_error with the reason (ports, memory, lcores).
    explicit eal_dataplane(const common::gateway_cfg& cfg);
    ~eal_dataplane() override;

    std::vector<port_binding> bindings() const;
    void start();
    void stop() noexcept;

    void publish(std::unique_ptr<snapshot> s) override { _pub.publish(std::move(s)); }
    const snapshot& current() const override { return *_pub.acquire(); }
    std::size_t worker_count() const override { return _workers.size(); }
    const worker_stats& stats(std::size_t w) const override { return _workers[w]->stats(); }
    std::span<const node_stats> nodes(std::size_t w) const override { return _workers[w]->nodes(); }
    std::span<const service_stats> services(std::size_t w) const override { return _workers[w]->services(); }
    const worker_stats* io_stats() const override { return _dispatcher ? &_dispatcher->stats() : nullptr; }
    bool post_job(std::size_t w, std::shared_ptr<worker_job> job) override;
    std::optional<std::size_t> owner_of(std::uint32_t hash) const override {
        if (!_dispatcher && _workers.size() > 1) return std::nullopt;  // RSS: the NIC's choice
        return dp_adapter::owner_of(hash);
    }
    std::size_t parser_count() const override { return _parsers.size(); }
    bool post_parser(std::size_t p, std::shared_ptr<parser_request> req) override;
    std::array<std::uint64_t, span_event_count> span_counts() const override;
    std::vector<arp_learned> take_learned() override;
    std::vector<common::api::port_view> port_views() const override;
    std::vector<common::api::lcore_view> lcore_views() const override;
    std::uint32_t now_ms() const override;

private:
    struct pool_free {
        void operator()(rte_mempool* p) const noexcept;
    };
    struct ring_free {
        void operator()(rte_ring* r) const noexcept;
    };
    /// Started ports, stopped and closed however construction or life ends.
    struct started_ports {
        std::vector<port_info> list;
        ~started_ports() { stop_ports(list); }
    };

    /// The parser lcores, their jobs given to the worker of the same lcore or a loop of their own.
    void start_parsers(const common::gateway_cfg& cfg, std::vector<span_queue> span_queues);

    common::gateway_cfg _cfg;
    std::unique_ptr<rte_mempool, pool_free> _pool;
    std::unique_ptr<rte_mempool, pool_free> _clones;  ///< indirect mbufs for the mirror's copies (mirror only)
    started_ports _ports;
    snapshot_publisher _pub;
    std::vector<std::unique_ptr<rte_ring, ring_free>> _rings;
    /// Before the workers: a worker that runs a parser's jobs refers to its table and rings.
    std::vector<std::unique_ptr<parser_lcore>> _parsers;
    std::vector<std::unique_ptr<worker>> _workers;
    std::unique_ptr<dispatcher> _dispatcher;
    std::atomic<bool> _stop{false};
    bool _started = false;
    /// What each launched lcore runs; lives until stop() has joined them.
    std::list<std::function<void()>> _lcore_tasks;
    /// Jobs on the workers' rings or running: kept until done, whoever waits for them.
    std::vector<std::shared_ptr<worker_job>> _posted;
    std::vector<std::shared_ptr<parser_request>> _posted_parser;  ///< the same for the parser lcores
};

}  // namespace cg::dp
