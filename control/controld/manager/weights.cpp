#include "control/controld/manager/weights.hpp"

#include <algorithm>
#include <cmath>

namespace cg::control {

namespace {

double clamp_weight(double w, double lo, std::uint32_t bound) {
    const double hi = static_cast<double>(bound);
    return std::clamp(w, std::min(lo, hi), hi);
}

}  // namespace

std::vector<double> new_weights(std::span<const node_state> nodes, std::span<const metric_param> metrics,
                                const formula_params& p) {
    std::vector<double> out(nodes.size(), 0.0);
    std::vector<std::size_t> active;  // the adaptive nodes: the formula's "active nodes"
    double current = 0, base = 0;
    for (std::size_t j = 0; j < nodes.size(); ++j) {
        const node_state& n = nodes[j];
        switch (n.mode) {
        case node_mode::quiesced:
        case node_mode::blocked: out[j] = 0; break;
        case node_mode::fixed: out[j] = clamp_weight(n.weight, 0, n.bound); break;
        case node_mode::adaptive:
            if (n.base <= 0) break;  // weight 0 by the operator's choice: no connections, whatever the metrics
            active.push_back(j);
            current += n.weight;
            base += n.base;
            out[j] = n.weight;
            break;
        }
    }
    if (active.empty() || base <= 0) return out;  // nothing to share out
    const double count = static_cast<double>(active.size());
    const double sf = std::max(1.0, p.smoothing);

    std::vector<double> sum(nodes.size(), 0.0);
    double importance = 0;
    for (std::size_t i = 0; i < metrics.size(); ++i) {
        const metric_param& m = metrics[i];
        if (m.importance <= 0) continue;
        double aggregate = 0;  // AM
        bool complete = true;
        for (std::size_t j : active) {
            const auto& v = i < nodes[j].metrics.size() ? nodes[j].metrics[i] : std::nullopt;
            if (!v || !std::isfinite(*v) || *v < 0) {
                complete = false;
                break;
            }
            aggregate += *v;
        }
        // A metric some active node lacks, or that is zero everywhere, says
        // nothing about how the load is shared this round.
        if (!complete || aggregate <= 0) continue;
        importance += m.importance;
        for (std::size_t j : active) {
            const double cwp = current > 0 ? nodes[j].weight / current : 1.0 / count;
            const double mp = *nodes[j].metrics[i] / aggregate;
            const double fair = m.kind == metric_kind::per_weight ? cwp : 1.0 / count;
            sum[j] += m.importance * (nodes[j].base + (fair - mp) * base / sf);
        }
    }
    // No metric speaks: every adaptive node goes back to its base weight.
    for (std::size_t j : active)
        out[j] = clamp_weight(importance > 0 ? sum[j] / importance : nodes[j].base, p.min_weight, nodes[j].bound);
    return out;
}

std::vector<std::uint32_t> rounded(std::span<const double> weights) {
    std::vector<std::uint32_t> out;
    out.reserve(weights.size());
    for (double w : weights) out.push_back(static_cast<std::uint32_t>(std::lround(std::max(0.0, w))));
    return out;
}

bool differs_enough(std::span<const std::uint32_t> current, std::span<const std::uint32_t> next, double threshold) {
    if (current.size() != next.size()) return true;
    double moved = 0, total = 0;
    for (std::size_t j = 0; j < current.size(); ++j) {
        if ((current[j] == 0) != (next[j] == 0)) return true;
        moved += std::abs(static_cast<double>(next[j]) - static_cast<double>(current[j]));
        total += current[j];
    }
    if (moved == 0) return false;
    return total == 0 || moved / total >= threshold;
}

}  // namespace cg::control
