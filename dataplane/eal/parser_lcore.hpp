// One mirror parser lcore's state (requirements 6.2; docs/config.md
// "mirror_parser"): its parser_table (all its memory, made here at start),
// its frame ring (from the SPAN reader) and request ring (from the control
// thread), and its jobs: parser_job, and on the first parser lcore the
// span_reader_job before it. The jobs run in a loop of its own on a
// dedicated lcore, or are handed to the worker whose lcore it shares
// (eal_dataplane.cpp), where they run beside the router's.
//
// Ownership: built by the control thread before the lcores start; then the
// table and the rings' consumer side belong to the parser lcore. The
// control thread posts requests (post(), single producer, under the
// controller's lock) and reads the SPAN counters.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "dataplane/ctl/parser_request.hpp"
#include "dataplane/eal/lcore_loop.hpp"
#include "dataplane/eal/span_reader_job.hpp"
#include "dataplane/mirror/parser_table.hpp"

struct rte_ring;

namespace cg::dp {

struct parser_lcore_config {
    unsigned index = 0;  ///< in mirror_parser.lcores
    unsigned lcore = 0;
    int socket = 0;
    mirror::parser_table_config table;
    std::uint32_t ring_size = 1024;
    std::uint16_t burst = 32;
    std::chrono::microseconds idle_sleep{0};
};

class parser_lcore {
public:
    /// Throws std::runtime_error (rings) or std::bad_alloc (the table), saying which.
    explicit parser_lcore(const parser_lcore_config& cfg);
    ~parser_lcore();
    parser_lcore(const parser_lcore&) = delete;
    parser_lcore& operator=(const parser_lcore&) = delete;

    rte_ring* frames() const noexcept { return _frames; }
    /// The jobs: the reader (first lcore only: `reader` given), then the
    /// parser. Either moved into a worker's loop, or kept for run().
    std::vector<std::unique_ptr<lcore_job>> make_jobs(std::vector<span_queue> reader,
                                                      std::vector<rte_ring*> to_parsers);
    /// A dedicated lcore: a loop of its own over `jobs`. Called from: the
    /// control thread, before the lcores start.
    void own_jobs(std::vector<std::unique_ptr<lcore_job>> jobs);
    bool dedicated() const noexcept { return _loop != nullptr; }
    /// The dedicated lcore's loop, until `stop`. Called from: that lcore.
    void run(const std::atomic<bool>& stop) noexcept { _loop->run(stop); }
    /// The dedicated loop's counters and jobs (for the lcore views).
    const worker_stats& loop_stats() const noexcept { return *_stats; }
    const std::vector<std::unique_ptr<lcore_job>>& jobs() const noexcept { return _loop->jobs(); }

    /// False if the request ring is full. Called from: the control thread.
    bool post(parser_request* r) noexcept;
    const span_stats& span() const noexcept { return _span; }
    const parser_lcore_config& config() const noexcept { return _cfg; }

private:
    parser_lcore_config _cfg;
    std::unique_ptr<mirror::parser_table> _table;
    rte_ring* _frames = nullptr;
    rte_ring* _requests = nullptr;
    span_stats _span;  ///< the reader's, on the first lcore
    std::unique_ptr<worker_stats> _stats;
    std::unique_ptr<lcore_loop> _loop;  ///< a dedicated lcore's; null when a worker runs the jobs
};

}  // namespace cg::dp
