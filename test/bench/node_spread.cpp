#include "node_spread.hpp"

#include <cmath>
#include <numeric>

namespace cg::bench {

spread_result judge_spread(std::span<const std::uint32_t> weights, std::span<const std::uint64_t> counts) {
    spread_result r;
    const std::size_t n = std::min(weights.size(), counts.size());
    const double wsum = std::accumulate(weights.begin(), weights.begin() + static_cast<std::ptrdiff_t>(n), 0.0);
    r.total = std::accumulate(counts.begin(), counts.begin() + static_cast<std::ptrdiff_t>(n), std::uint64_t{0});
    r.nodes.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        node_share& s = r.nodes[i];
        s.expected_pct = wsum > 0 ? 100.0 * weights[i] / wsum : 0;
        s.observed_pct = r.total ? 100.0 * static_cast<double>(counts[i]) / static_cast<double>(r.total) : 0;
        if (weights[i] == 0) {
            r.zero_weight_hits += counts[i];
            continue;
        }
        if (r.total == 0) continue;
        s.dev_pct = 100.0 * (s.observed_pct - s.expected_pct) / s.expected_pct;
        r.max_abs_dev_pct = std::max(r.max_abs_dev_pct, std::fabs(s.dev_pct));
    }
    return r;
}

}  // namespace cg::bench
