// The mirror parser's reader (requirements 6.2): takes the frames a
// switch's SPAN port copied off every queue of the SPAN ports and hands
// each to a parser lcore by a hash of its connection that is the same both
// ways (mirror/conn_key.hpp), over that parser's SPSC ring; frames that are
// not TCP or UDP go to parser 0, which counts them. With one parser lcore
// nothing is chosen: each frame goes to it unread. A full ring drops the
// frame and counts it (ring_full): the reader never waits, and nothing is
// ever sent on a SPAN port.
//
// Ownership: runs on the first parser lcore (its own loop, or a worker's);
// it is the only producer of every parser ring. Its counters are written by
// that lcore only.
#pragma once

#include <cstdint>
#include <vector>

#include "dataplane/ctl/parser_request.hpp"
#include "dataplane/eal/lcore_job.hpp"

struct rte_mbuf;
struct rte_ring;

namespace cg::dp {

struct span_queue {
    std::uint16_t port = 0;
    std::uint16_t queue = 0;
};

class span_reader_job final : public lcore_job {
public:
    span_reader_job(std::vector<span_queue> queues, std::vector<rte_ring*> to_parsers, span_stats& stats,
                    std::uint16_t burst)
        : _queues(std::move(queues)), _to(std::move(to_parsers)), _stats(stats), _burst(burst) {}
    std::string_view name() const noexcept override { return "span reader"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    /// Onto one parser's ring; what does not fit is dropped and counted.
    void hand_over(std::uint32_t parser, rte_mbuf** pkts, std::uint16_t n) noexcept;

    std::vector<span_queue> _queues;
    std::vector<rte_ring*> _to;
    span_stats& _stats;
    std::uint16_t _burst;
};

/// The parser lcore (index into `parsers`) that follows the connection of
/// this frame. Pure. Called from: the SPAN reader, tests.
std::uint32_t parser_for_frame(const std::uint8_t* frame, std::uint32_t len, std::uint32_t parsers) noexcept;

}  // namespace cg::dp
