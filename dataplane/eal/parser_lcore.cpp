#include "dataplane/eal/parser_lcore.hpp"

#include <stdexcept>

#include <fmt/format.h>
#include <rte_ring.h>

#include "dataplane/eal/parser_job.hpp"

namespace cg::dp {

namespace {
constexpr unsigned request_ring_size = 16;
}

parser_lcore::parser_lcore(const parser_lcore_config& cfg)
    : _cfg(cfg), _stats(std::make_unique<worker_stats>()) {
    _frames = rte_ring_create(fmt::format("cg_span_{}", cfg.index).c_str(), cfg.ring_size, cfg.socket,
                              RING_F_SP_ENQ | RING_F_SC_DEQ);
    _requests = rte_ring_create(fmt::format("cg_parse_req_{}", cfg.index).c_str(), request_ring_size, cfg.socket,
                                RING_F_SP_ENQ | RING_F_SC_DEQ);
    if (!_frames || !_requests) {
        rte_ring_free(_frames);
        rte_ring_free(_requests);
        throw std::runtime_error(fmt::format("mirror parser lcore {}: cannot create its rings", cfg.lcore));
    }
    try {
        _table = std::make_unique<mirror::parser_table>(cfg.table);
    } catch (const std::bad_alloc&) {
        rte_ring_free(_frames);
        rte_ring_free(_requests);
        throw std::runtime_error(fmt::format(
            "mirror parser lcore {}: cannot allocate {} MiB for {} connections (mirror_parser.connections, "
            "mirror_parser.request_chunks)",
            cfg.lcore, mirror::parser_table::bytes_total(cfg.table) >> 20, cfg.table.capacity));
    }
}

parser_lcore::~parser_lcore() {
    _loop.reset();  // its jobs use the rings and the table
    rte_ring_free(_frames);
    rte_ring_free(_requests);
}

std::vector<std::unique_ptr<lcore_job>> parser_lcore::make_jobs(std::vector<span_queue> reader,
                                                                std::vector<rte_ring*> to_parsers) {
    std::vector<std::unique_ptr<lcore_job>> jobs;
    if (!reader.empty())
        jobs.push_back(std::make_unique<span_reader_job>(std::move(reader), std::move(to_parsers), _span, _cfg.burst));
    jobs.push_back(std::make_unique<parser_job>(*_table, _frames, _requests, _cfg.burst));
    return jobs;
}

void parser_lcore::own_jobs(std::vector<std::unique_ptr<lcore_job>> jobs) {
    _loop = std::make_unique<lcore_loop>(lcore_loop_config{nullptr, 0, _cfg.idle_sleep, _stats.get()});
    for (auto& j : jobs) _loop->add(std::move(j));
}

bool parser_lcore::post(parser_request* r) noexcept { return rte_ring_sp_enqueue(_requests, r) == 0; }

}  // namespace cg::dp
