#include "dataplane/eal/eal_dataplane.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <fmt/format.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "common/log.hpp"
#include "dataplane/eal/tsc_clock.hpp"
#include "dataplane/mirror/parser_config.hpp"

namespace cg::dp {

namespace {

constexpr unsigned dispatch_ring_size = 1024;
constexpr unsigned mbuf_cache = 256;

void check_lcores(const common::lcore_cfg& l) {
    if (rte_get_main_lcore() != l.main)
        throw std::runtime_error(fmt::format("main lcore is {}, config says {}", rte_get_main_lcore(), l.main));
    auto enabled = [](unsigned id, const char* role) {
        if (!rte_lcore_is_enabled(id)) throw std::runtime_error(fmt::format("{} lcore {} is not enabled in EAL", role, id));
    };
    for (unsigned w : l.workers) enabled(w, "worker");
    if (l.dispatch) enabled(*l.dispatch, "dispatch");
}

void check_parser_lcores(const common::gateway_cfg& cfg) {
    if (!cfg.mirror_parser) return;
    for (unsigned l : cfg.mirror_parser->lcores)
        if (!rte_lcore_is_enabled(l))
            throw std::runtime_error(fmt::format("mirror parser lcore {} is not enabled in EAL (eal.args)", l));
}

/// Mbufs that sit in descriptor rings, caches and dispatch rings while
/// traffic flows; fewer than that and RX starves under load.
std::uint64_t mbufs_needed(const common::gateway_cfg& cfg, std::uint16_t queues) {
    std::uint64_t n = 0;
    for (const auto& p : cfg.ports) n += std::uint64_t{queues} * (p.rx_descriptors + p.tx_descriptors);
    const std::uint64_t lcores = cfg.lcores.workers.size() + 1 + (cfg.lcores.dispatch ? 1 : 0);
    n += lcores * (mbuf_cache + 2u * cfg.tables.burst);
    if (cfg.lcores.dispatch) n += 2ull * dispatch_ring_size * cfg.lcores.workers.size();
    if (cfg.mirror_parser) {
        // The SPAN ports' descriptors are counted above; the parser rings can hold as many again.
        n += std::uint64_t{cfg.mirror_parser->ring_size} * cfg.mirror_parser->lcores.size();
        n += cfg.mirror_parser->lcores.size() * (mbuf_cache + 2u * cfg.tables.burst);
    }
    return n;
}

int run_lcore_task(void* task) {
    (*static_cast<std::function<void()>*>(task))();
    return 0;
}

}  // namespace

void eal_dataplane::pool_free::operator()(rte_mempool* p) const noexcept { rte_mempool_free(p); }
void eal_dataplane::ring_free::operator()(rte_ring* r) const noexcept { rte_ring_free(r); }

eal_dataplane::eal_dataplane(const common::gateway_cfg& cfg)
    : _cfg(cfg), _pub(static_cast<unsigned>(cfg.lcores.workers.size())) {
    check_lcores(cfg.lcores);
    check_parser_lcores(cfg);
    const bool dispatch = cfg.lcores.dispatch.has_value();
    const auto n_workers = static_cast<std::uint32_t>(cfg.lcores.workers.size());
    const std::uint16_t queues = dispatch ? 1 : static_cast<std::uint16_t>(n_workers);

    _pool.reset(rte_pktmbuf_pool_create("cg_mbufs", cfg.tables.mbufs, mbuf_cache, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                        static_cast<int>(rte_socket_id())));
    if (!_pool)
        throw std::runtime_error(fmt::format("cannot create a pool of {} mbufs: {} (tables.mbufs; hugepages?)",
                                             cfg.tables.mbufs, rte_strerror(rte_errno)));
    if (const auto need = mbufs_needed(cfg, queues); cfg.tables.mbufs < need)
        common::log::warn("tables.mbufs is {}; ports, queues and lcores can hold up to {}: RX may starve under load",
                          cfg.tables.mbufs, need);

    start_ports(cfg, queues, _pool.get(), _ports.list);
    std::vector<std::uint16_t> port_ids;  // the router's: every port but the SPAN ports
    std::vector<span_queue> span_queues;
    int mirror_port = -1;
    for (const auto& p : _ports.list) {
        if (common::is_span_port(cfg, p.name)) {
            for (std::uint16_t q = 0; q < queues; ++q) span_queues.push_back({p.id, q});
            continue;
        }
        port_ids.push_back(p.id);
        if (cfg.mirror && p.name == cfg.mirror->port) mirror_port = p.id;
    }
    if (mirror_port >= 0) {
        // Copies in flight: the mirror port's TX queues, the workers' batches and caches, the mirror rings.
        _clones.reset(rte_pktmbuf_pool_create("cg_mirror_clones", cfg.tables.mbufs, mbuf_cache, 0, 0,
                                              static_cast<int>(rte_socket_id())));
        if (!_clones)
            throw std::runtime_error(fmt::format("cannot create a pool of {} mbufs for the mirror's copies: {}",
                                                 cfg.tables.mbufs, rte_strerror(rte_errno)));
    }

    dispatch_config dc{port_ids, {}, {}, {}, cfg.tables.burst, cfg.idle_sleep};
    for (std::uint32_t i = 0; i < n_workers; ++i) {
        worker_config wc;
        wc.index = i;
        wc.socket = static_cast<int>(rte_lcore_to_socket_id(cfg.lcores.workers[i]));
        wc.max_connections = (cfg.tables.connections + n_workers - 1) / n_workers;
        wc.services = cfg.tables.services;
        wc.nodes = cfg.tables.nodes;
        wc.burst = cfg.tables.burst;
        wc.idle_sleep = cfg.idle_sleep;
        wc.arp_refresh_ms = static_cast<std::uint32_t>(cfg.timers.arp_refresh.count());
        wc.pool = _pool.get();
        wc.arp_resolver = i == 0;
        wc.mirror_port = mirror_port;
        wc.clones = _clones.get();
        if (dispatch) {
            for (const char* dir : {"rx", "tx"}) {
                _rings.emplace_back(rte_ring_create(fmt::format("cg_{}_{}", dir, i).c_str(), dispatch_ring_size,
                                                    wc.socket, RING_F_SP_ENQ | RING_F_SC_DEQ));
                if (!_rings.back()) throw std::runtime_error(fmt::format("cannot create dispatch ring for worker {}", i));
            }
            rte_ring* rx = _rings[_rings.size() - 2].get();
            rte_ring* tx = _rings.back().get();
            dc.to_workers.push_back(rx);
            dc.from_workers.push_back(tx);
            rte_ring* mirror_tx = nullptr;
            if (mirror_port >= 0) {
                _rings.emplace_back(rte_ring_create(fmt::format("cg_mirror_{}", i).c_str(), dispatch_ring_size,
                                                    wc.socket, RING_F_SP_ENQ | RING_F_SC_DEQ));
                if (!_rings.back()) throw std::runtime_error(fmt::format("cannot create mirror ring for worker {}", i));
                mirror_tx = _rings.back().get();
                dc.mirror_from_workers.push_back(mirror_tx);
            }
            wc.io = std::make_unique<ring_io>(rx, tx, mirror_tx, mirror_port);
        } else {
            wc.io = std::make_unique<queue_io>(port_ids, static_cast<std::uint16_t>(i));
        }
        _workers.push_back(std::make_unique<worker>(std::move(wc), _pub));
    }
    if (dispatch) _dispatcher = std::make_unique<dispatcher>(std::move(dc));
    if (cfg.mirror_parser) start_parsers(cfg, std::move(span_queues));
    // Each worker's table on its own memzone: the first may take the one 1 GiB page there is.
    const auto table_pages = [this] {
        std::string all;
        for (const auto& w : _workers)
            if (all.find(w->table_pages()) == std::string::npos) all += (all.empty() ? "" : ", ") + w->table_pages();
        return all;
    };
    common::log::info("{} worker(s), {}; {} connections per worker, the tables on {}", n_workers,
                      dispatch ? "behind a dispatch lcore" : "polling their own queues",
                      (cfg.tables.connections + n_workers - 1) / n_workers, table_pages());
}

void eal_dataplane::start_parsers(const common::gateway_cfg& cfg, std::vector<span_queue> span_queues) {
    const common::mirror_parser_cfg& m = *cfg.mirror_parser;
    const mirror::parser_table_config table = mirror::parser_config_of(cfg);
    std::vector<rte_ring*> rings;
    for (std::size_t i = 0; i < m.lcores.size(); ++i) {
        parser_lcore_config pc;
        pc.index = static_cast<unsigned>(i);
        pc.lcore = m.lcores[i];
        pc.socket = static_cast<int>(rte_lcore_to_socket_id(m.lcores[i]));
        pc.table = table;
        pc.ring_size = m.ring_size;
        pc.burst = cfg.tables.burst;
        pc.idle_sleep = cfg.idle_sleep;
        _parsers.push_back(std::make_unique<parser_lcore>(pc));
        rings.push_back(_parsers.back()->frames());
    }
    for (std::size_t i = 0; i < _parsers.size(); ++i) {
        // The first parser lcore also reads the SPAN ports for all of them.
        auto jobs = _parsers[i]->make_jobs(i == 0 ? std::move(span_queues) : std::vector<span_queue>{}, rings);
        const auto w = std::find(cfg.lcores.workers.begin(), cfg.lcores.workers.end(), m.lcores[i]);
        if (w != cfg.lcores.workers.end())
            _workers[static_cast<std::size_t>(w - cfg.lcores.workers.begin())]->add_jobs(std::move(jobs));
        else
            _parsers[i]->own_jobs(std::move(jobs));
    }
    common::log::info("mirror parser: {} lcore(s), {} connections each, {} MiB each ({} bytes a connection, {} "
                      "request chunks of {} bytes)",
                      _parsers.size(), table.capacity, mirror::parser_table::bytes_total(table) >> 20,
                      mirror::parser_table::bytes_per_connection(table), table.pool_chunks, table.chunk_size);
}

eal_dataplane::~eal_dataplane() { stop(); }

bool eal_dataplane::post_parser(std::size_t p, std::shared_ptr<parser_request> req) {
    std::erase_if(_posted_parser, [](const auto& r) { return r->done.load(std::memory_order_acquire); });
    if (!_started || p >= _parsers.size()) return false;
    if (!_parsers[p]->post(req.get())) return false;
    _posted_parser.push_back(std::move(req));
    return true;
}

std::array<std::uint64_t, span_event_count> eal_dataplane::span_counts() const {
    std::array<std::uint64_t, span_event_count> out{};
    if (_parsers.empty()) return out;
    for (std::size_t i = 0; i < span_event_count; ++i) out[i] = _parsers[0]->span().read(static_cast<span_event>(i));
    return out;
}

std::vector<port_binding> eal_dataplane::bindings() const {
    std::vector<port_binding> out;
    for (const auto& p : _ports.list) out.push_back({p.name, p.id, p.mac, p.address});
    return out;
}

void eal_dataplane::start() {
    auto launch = [this](std::function<void()> task, unsigned lcore, const std::string& what) {
        auto& t = _lcore_tasks.emplace_back(std::move(task));
        if (rte_eal_remote_launch(run_lcore_task, &t, lcore) != 0)
            throw std::runtime_error(fmt::format("cannot launch {} on lcore {}", what, lcore));
        _started = true;  // from the first launch on, stop() must join
    };
    for (std::size_t i = 0; i < _workers.size(); ++i)
        launch([w = _workers[i].get(), this] { w->run(_stop); }, _cfg.lcores.workers[i], fmt::format("worker {}", i));
    if (_dispatcher) launch([this] { _dispatcher->run(_stop); }, *_cfg.lcores.dispatch, "the dispatch lcore");
    for (const auto& p : _parsers)
        if (p->dedicated())
            launch([p = p.get(), this] { p->run(_stop); }, p->config().lcore,
                   fmt::format("mirror parser {}", p->config().index));
}

void eal_dataplane::stop() noexcept {
    if (!_started) return;
    _stop.store(true);
    rte_eal_mp_wait_lcore();
    _lcore_tasks.clear();
    _started = false;
}

bool eal_dataplane::post_job(std::size_t w, std::shared_ptr<worker_job> job) {
    std::erase_if(_posted, [](const auto& j) { return j->done.load(std::memory_order_acquire); });
    if (!_started) return false;  // no lcore polls its job ring yet
    if (!_workers[w]->post_job(job.get())) return false;
    _posted.push_back(std::move(job));  // at most a ring's worth per worker
    return true;
}

std::vector<arp_learned> eal_dataplane::take_learned() {
    std::vector<arp_learned> out;
    for (auto& w : _workers) w->take_learned(out);
    return out;
}

std::vector<common::api::port_view> eal_dataplane::port_views() const {
    std::vector<common::api::port_view> out;
    for (const auto& p : _ports.list) out.push_back(port_view_of(p));
    return out;
}

std::vector<common::api::lcore_view> eal_dataplane::lcore_views() const {
    auto view = [](unsigned lcore, std::string role, const worker_stats& s, const auto& jobs) {
        common::api::lcore_view v{lcore,          std::move(role),  s.rx_pkts.read(), s.fwd_pkts.read(),
                                  s.tx_pkts.read(), s.drops_total(), s.conns.read(),   s.loops.read(),
                                  s.busy_loops.read(), {}, {}};
        for (const counter& c : s.loop_time) v.loop_time.push_back(c.read());
        for (const auto& j : jobs) v.jobs.emplace_back(j->name());
        return v;
    };
    std::vector<common::api::lcore_view> out;
    out.push_back({_cfg.lcores.main, "main", 0, 0, 0, 0, 0, 0, 0, {}, {"control socket", "housekeeping"}});
    for (std::size_t i = 0; i < _workers.size(); ++i)
        out.push_back(view(_cfg.lcores.workers[i], fmt::format("worker {}", i), _workers[i]->stats(),
                           _workers[i]->jobs()));
    if (_dispatcher)
        out.push_back(view(*_cfg.lcores.dispatch, "dispatch", _dispatcher->stats(), _dispatcher->jobs()));
    for (const auto& p : _parsers)
        if (p->dedicated())
            out.push_back(view(p->config().lcore, fmt::format("mirror parser {}", p->config().index), p->loop_stats(),
                               p->jobs()));
    return out;
}

std::uint32_t eal_dataplane::now_ms() const { return clock_ms(); }

}  // namespace cg::dp
