#include "dataplane/eal/worker.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "dataplane/eal/arp_resolver_job.hpp"
#include "dataplane/eal/control_job.hpp"
#include "dataplane/eal/garp_job.hpp"
#include "dataplane/eal/router_jobs.hpp"
#include "dataplane/eal/tickle_job.hpp"

namespace cg::dp {

worker::worker(worker_config cfg, snapshot_publisher& pub)
    : _cfg(std::move(cfg)),
      _wrr(_cfg.services),
      _stats(std::make_unique<worker_stats>()),
      _nodes(_cfg.nodes),
      _services(_cfg.services) {
    const std::uint32_t slots = conn_table::slots_for(_cfg.max_connections);
    const std::size_t bytes = std::size_t{slots} * sizeof(conn_entry);
    _table_mem = reserve_table_memory(fmt::format("cg_conns_{}", _cfg.index), bytes, _cfg.socket);
    if (!_table_mem.data())
        throw std::runtime_error(fmt::format(
            "worker {}: cannot allocate {} MiB of hugepage memory for {} connections "
            "(tables.connections; are enough hugepages reserved?)",
            _cfg.index, bytes >> 20, _cfg.max_connections));
    _table = std::make_unique<conn_table>(std::span(static_cast<conn_entry*>(_table_mem.data()), slots),
                                          _cfg.max_connections);
    _router = std::make_unique<router>(router_state{*_table, _wrr, *_stats, _nodes, _services, _peers});
    _tx = std::make_unique<tx_batch>(*_cfg.io, *_stats, _cfg.mirror_port);
    if (_cfg.mirror_port >= 0 && _cfg.clones)
        _mirror = std::make_unique<mirror_copy>(_cfg.clones, static_cast<std::uint16_t>(_cfg.mirror_port), *_tx,
                                                *_stats);

    // The router role, as jobs in the order each iteration runs them.
    _loop = std::make_unique<lcore_loop>(lcore_loop_config{&pub, _cfg.index, _cfg.idle_sleep, _stats.get()});
    const auto& route = _loop->emplace<route_job>(*_router, *_cfg.io, *_tx, _cfg.burst, _mirror.get());
    _control = &_loop->emplace<control_job>(*_router, *_stats, _cfg.index, _cfg.socket);
    _loop->emplace<age_job>(*_router, *_table, *_stats);
    _loop->emplace<tickle_job>(*_table, _peers, *_tx, *_stats, _cfg.pool, route);
    if (_cfg.arp_resolver) {
        _loop->emplace<arp_resolver_job>(*_tx, *_stats, _cfg.pool, _cfg.nodes, _cfg.arp_refresh_ms);
        _loop->emplace<garp_job>(*_tx, *_stats, _cfg.pool);
    }
    _loop->emplace<flush_job>(*_tx);
}

worker::~worker() = default;

void worker::add_jobs(std::vector<std::unique_ptr<lcore_job>> jobs) {
    for (auto& j : jobs) _loop->add(std::move(j));
}

bool worker::post_job(worker_job* job) noexcept { return _control->post(job); }

void worker::take_learned(std::vector<arp_learned>& out) noexcept { _control->take_learned(out); }

}  // namespace cg::dp
