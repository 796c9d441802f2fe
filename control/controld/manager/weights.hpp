// The weight formula of requirements 4.6 and the threshold of 4.7, for one cluster
// port. Pure: numbers in, numbers out; docs/weights.md is its reading.
//
//   B[j]  node j's base weight (as configured), S0 = sum of B over the adaptive nodes
//   CWP[j] = W[j] / sum W                          its share of the current weight
//   MP[i][j] = M[i][j] / AM[i]                      its share of metric i
//   fair[i][j] = CWP[j] (metric follows weight) or 1/N (a level)
//   NWV[i][j] = B[j] + (fair[i][j] - MP[i][j]) * S0 / SF
//   NW[j] = sum_i imp[i] * NWV[i][j] / sum_i imp[i], within min..bound
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace cg::control {

/// How a metric is judged balanced.
enum class metric_kind : std::uint8_t {
    per_weight,  ///< grows with the traffic a node is given (connections, rates): balanced at CWP
    level,       ///< a node's state (load, CPU, answer time): balanced when equal
};

struct metric_param {
    std::string name;
    metric_kind kind = metric_kind::level;
    double importance = 1.0;  ///< w[i]; 0 switches the metric off
};

enum class node_mode : std::uint8_t {
    adaptive,  ///< the formula sets its weight
    quiesced,  ///< NW = 0 (requirements 4.6)
    fixed,     ///< NW = its fixed weight
    blocked,   ///< NW = 0 until it is healthy again: stale report, failed probe, rule window
};

struct node_state {
    node_mode mode = node_mode::adaptive;
    double weight = 0;        ///< current weight (adaptive), or the fixed weight
    double base = 0;          ///< the weight it has when every metric says the load is balanced
    std::uint32_t bound = 0;  ///< the effective weight bound
    /// One value per metric_param, none when not known. Higher = busier.
    std::vector<std::optional<double>> metrics;
};

struct formula_params {
    double smoothing = 4.0;  ///< SF >= 1: how far an imbalance moves a weight from its base
    double min_weight = 1.0;  ///< floor for adaptive nodes, so that they can win traffic back
};

/// The new weights (same order as `nodes`), real numbers in 0..bound.
std::vector<double> new_weights(std::span<const node_state> nodes, std::span<const metric_param> metrics,
                                const formula_params& p);

/// The weights as the data plane takes them.
std::vector<std::uint32_t> rounded(std::span<const double> weights);

/// requirements 4.7's threshold function: push when a node starts or stops taking
/// connections, or when the weights moved by at least `threshold` of the
/// total (sum of absolute differences over sum of current weights).
bool differs_enough(std::span<const std::uint32_t> current, std::span<const std::uint32_t> next, double threshold);

}  // namespace cg::control
