// A mirror parser lcore's job (requirements 6.2, 6.5): feeds the frames of
// its ring to its parser_table (frame(), then the mbufs freed), ages the
// table in bounded slices, and answers the control thread's requests
// (parser_request.hpp) between two bursts. It only parses: nothing is sent.
//
// Ownership: the parser lcore (its own loop, or a worker's, beside the
// router's jobs); it is the only consumer of its frame ring and its request
// ring, the only user of its table.
#pragma once

#include <cstdint>

#include "dataplane/ctl/parser_request.hpp"
#include "dataplane/eal/lcore_job.hpp"
#include "dataplane/mirror/parser_table.hpp"

struct rte_ring;

namespace cg::dp {

class parser_job final : public lcore_job {
public:
    /// Connections aged per loop at most: a burst of expiries never stalls the lcore.
    static constexpr std::uint32_t age_budget = 64;

    parser_job(mirror::parser_table& t, rte_ring* frames, rte_ring* requests, std::uint16_t burst)
        : _table(t), _frames(frames), _requests(requests), _burst(burst) {}
    std::string_view name() const noexcept override { return "mirror parser"; }
    unsigned run(const loop_tick& t) noexcept override;

private:
    mirror::parser_table& _table;
    rte_ring* _frames;
    rte_ring* _requests;
    std::uint16_t _burst;
};

}  // namespace cg::dp
