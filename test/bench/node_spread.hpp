// Does the spread of new connections over nodes follow the weights?
// Pure arithmetic over counts; cg-pktgen counts, this judges.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cg::bench {

struct node_share {
    double expected_pct = 0;  ///< weight / total weight
    double observed_pct = 0;  ///< count / total count
    double dev_pct = 0;       ///< (observed - expected) / expected, in %; 0 for weight 0 (see zero_weight_hits)
};

struct spread_result {
    std::vector<node_share> nodes;
    std::uint64_t total = 0;
    double max_abs_dev_pct = 0;           ///< over nodes with a weight above 0
    std::uint64_t zero_weight_hits = 0;   ///< new connections to nodes of weight 0 (should be none)
};

/// `weights` and `counts` by node, same length. With no connections counted
/// every deviation is 0.
spread_result judge_spread(std::span<const std::uint32_t> weights, std::span<const std::uint64_t> counts);

}  // namespace cg::bench
