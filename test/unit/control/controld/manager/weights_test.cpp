// requirements 4.6 and 4.7: the properties the manager's formula must have.
#include <catch2/catch.hpp>

#include <numeric>

#include "control/controld/manager/weights.hpp"

using namespace cg::control;

namespace {

const std::vector<metric_param> one_level{{"load", metric_kind::level, 1.0}};
const std::vector<metric_param> one_per_weight{{"conns", metric_kind::per_weight, 1.0}};

node_state adaptive(double w, double metric, std::uint32_t bound = 100) {
    return {node_mode::adaptive, w, w, bound, {metric}};
}

double sum(const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); }

}  // namespace

TEST_CASE("a node whose metric share exceeds its weight share loses weight, the others gain", "[weights]") {
    // Equal weights; n1 carries half of all the active connections.
    const std::vector<node_state> nodes{adaptive(30, 50), adaptive(30, 25), adaptive(30, 25)};
    const auto nw = new_weights(nodes, one_per_weight, {.smoothing = 1.0});
    CHECK(nw[0] < 30);
    CHECK(nw[1] > 30);
    CHECK(nw[2] > 30);
    CHECK(nw[1] == Approx(nw[2]));
    // SF = 1, shares scaled to S = 90: 30 + (1/3 - 1/2) * 90 = 15.
    CHECK(nw[0] == Approx(15));
    CHECK(sum(nw) == Approx(90));  // the formula moves weight, it does not make or lose it
}

TEST_CASE("a per-weight metric that follows the weights leaves them as they are", "[weights]") {
    // 3:2:1 weights and 3:2:1 connections: every node is as loaded as it was asked to be.
    const std::vector<node_state> nodes{adaptive(30, 300), adaptive(20, 200), adaptive(10, 100)};
    const auto nw = new_weights(nodes, one_per_weight, {});
    CHECK(nw[0] == Approx(30));
    CHECK(nw[1] == Approx(20));
    CHECK(nw[2] == Approx(10));
}

TEST_CASE("equal levels keep unequal weights; the busier level loses", "[weights]") {
    // Capacity differs (weights 3:2:1) but every node is at the same load: balanced.
    const std::vector<node_state> same{adaptive(30, 0.5), adaptive(20, 0.5), adaptive(10, 0.5)};
    const auto kept = new_weights(same, one_level, {});
    CHECK(kept[0] == Approx(30));
    CHECK(kept[1] == Approx(20));
    CHECK(kept[2] == Approx(10));
    // n2 answers three times slower than the others.
    const std::vector<node_state> slow{adaptive(20, 1), adaptive(20, 3), adaptive(20, 1)};
    const auto nw = new_weights(slow, one_level, {.smoothing = 2.0});
    CHECK(nw[1] < 20);
    CHECK(nw[0] > 20);
    // 20 + (1/3 - 3/5) * 60 / 2 = 12
    CHECK(nw[1] == Approx(12));
}

TEST_CASE("an idle node gains weight", "[weights]") {
    const std::vector<node_state> nodes{adaptive(20, 0.9), adaptive(20, 0.9), adaptive(20, 0.0)};
    const auto nw = new_weights(nodes, one_level, {});
    CHECK(nw[2] > 20);
    CHECK(nw[0] < 20);
}

TEST_CASE("smoothing damps the reaction: a larger SF moves a weight less from its base", "[weights]") {
    const std::vector<node_state> nodes{adaptive(30, 50), adaptive(30, 25), adaptive(30, 25)};
    const double step1 = 30 - new_weights(nodes, one_per_weight, {.smoothing = 1.0})[0];
    const double step4 = 30 - new_weights(nodes, one_per_weight, {.smoothing = 4.0})[0];
    const double step8 = 30 - new_weights(nodes, one_per_weight, {.smoothing = 8.0})[0];
    CHECK(step1 > step4);
    CHECK(step4 > step8);
    CHECK(step4 == Approx(step1 / 4));
    // A smoothing below 1 is taken as 1 (it would overshoot).
    CHECK(new_weights(nodes, one_per_weight, {.smoothing = 0.2})[0] == Approx(15));
}

TEST_CASE("a steady imbalance gives a steady weight, and balance brings the base weight back", "[weights]") {
    // A level that does not react to the weight (a slow disk), period after
    // period: the weight settles where the formula puts it, it does not drift.
    std::vector<node_state> s{adaptive(30, 3), adaptive(30, 1), adaptive(30, 1)};
    for (int round = 0; round < 40; ++round) {
        const auto nw = new_weights(s, one_level, {.smoothing = 4.0});
        CHECK(nw[0] == Approx(24));  // 30 + (1/3 - 3/5) * 90 / 4
        for (std::size_t j = 0; j < s.size(); ++j) s[j].weight = nw[j];
    }
    // The disk is fast again: back to the base weight at once.
    for (auto& n : s) n.metrics[0] = 1.0;
    CHECK(new_weights(s, one_level, {.smoothing = 4.0})[0] == Approx(30));
    // Noise around balance stays noise: it does not add up over periods.
    double lowest = 30;
    for (int round = 0; round < 200; ++round) {
        const double wobble = (round % 7) * 0.01;  // answer times within a few per cent of each other
        s[0].metrics[0] = 1.0 + wobble;
        s[1].metrics[0] = 1.03 - wobble;
        s[2].metrics[0] = 1.0;
        const auto nw = new_weights(s, one_level, {.smoothing = 4.0});
        for (std::size_t j = 0; j < s.size(); ++j) s[j].weight = nw[j];
        lowest = std::min(lowest, nw[0]);
    }
    CHECK(lowest > 29);
}

TEST_CASE("never above the bound, never below the floor", "[weights]") {
    const std::vector<node_state> nodes{adaptive(40, 100, 100), adaptive(40, 100, 100), adaptive(40, 0, 45)};
    const auto nw = new_weights(nodes, one_level, {.smoothing = 1.0, .min_weight = 2.0});
    CHECK(nw[2] == Approx(45));  // the formula wanted 80
    CHECK(nw[0] >= 2.0);
    CHECK(nw[1] >= 2.0);
    // A bound below the floor wins.
    const std::vector<node_state> tiny{adaptive(1, 5, 1), adaptive(1, 0, 1)};
    const auto t = new_weights(tiny, one_level, {.smoothing = 1.0, .min_weight = 2.0});
    CHECK(t[0] == Approx(1));
    CHECK(t[1] == Approx(1));
}

TEST_CASE("quiesced and blocked nodes get 0, a fixed node keeps its weight", "[weights]") {
    std::vector<node_state> nodes{adaptive(30, 90), adaptive(30, 10), adaptive(30, 10), adaptive(30, 10)};
    nodes[1].mode = node_mode::quiesced;
    nodes[2].mode = node_mode::fixed;
    nodes[2].weight = 7;
    nodes[3].mode = node_mode::blocked;
    const auto nw = new_weights(nodes, one_level, {});
    CHECK(nw[1] == 0);
    CHECK(nw[2] == 7);
    CHECK(nw[3] == 0);
    // The only adaptive node is the whole of its own aggregate: balanced with itself.
    CHECK(nw[0] == Approx(30));
    // A fixed weight above the bound is held to the bound.
    nodes[2].weight = 500;
    CHECK(new_weights(nodes, one_level, {})[2] == 100);
}

TEST_CASE("metrics combine by importance; missing or empty metrics abstain", "[weights]") {
    const std::vector<metric_param> two{{"conns", metric_kind::per_weight, 3.0},
                                        {"cpu", metric_kind::level, 1.0}};
    // conns say n1 is overloaded, cpu says the reverse.
    const std::vector<node_state> nodes{{node_mode::adaptive, 30, 30, 100, {75.0, 0.2}},
                                        {node_mode::adaptive, 30, 30, 100, {25.0, 0.6}}};
    const auto nw = new_weights(nodes, two, {.smoothing = 1.0});
    // conns: 30 + (0.5 - 0.75) * 60 = 15; cpu: 30 + (0.5 - 0.25) * 60 = 45
    CHECK(nw[0] == Approx((3 * 15 + 1 * 45) / 4.0));
    CHECK(nw[1] == Approx((3 * 45 + 1 * 15) / 4.0));

    // cpu unknown for one node: only conns speak.
    auto partial = nodes;
    partial[1].metrics[1].reset();
    CHECK(new_weights(partial, two, {.smoothing = 1.0})[0] == Approx(15));
    // conns zero everywhere (no traffic yet): only cpu speaks.
    auto idle = nodes;
    idle[0].metrics[0] = 0.0;
    idle[1].metrics[0] = 0.0;
    CHECK(new_weights(idle, two, {.smoothing = 1.0})[0] == Approx(45));
    // Importance 0 switches a metric off; nothing left means no change.
    const std::vector<metric_param> off{{"conns", metric_kind::per_weight, 0.0}, {"cpu", metric_kind::level, 0.0}};
    CHECK(new_weights(nodes, off, {})[0] == 30);
    // Bad numbers (negative, NaN) are as good as missing.
    auto bad = nodes;
    bad[0].metrics[1] = -1.0;
    bad[1].metrics[0] = std::numeric_limits<double>::quiet_NaN();
    CHECK(new_weights(bad, two, {})[0] == 30);
}

TEST_CASE("with no metric to go by, nodes have their base weights; a base of 0 stays 0", "[weights]") {
    std::vector<node_state> nodes{adaptive(0, 1), adaptive(55, 1), adaptive(20, 1)};
    nodes[0].base = 10;  // at 0 now (it was blocked): its base brings it back
    nodes[1].base = 10;
    nodes[2].base = 0;   // the operator set 0
    const auto nw = new_weights(nodes, one_level, {.smoothing = 4.0, .min_weight = 1.0});
    CHECK(nw[0] == Approx(10));
    CHECK(nw[1] == Approx(10));
    CHECK(nw[2] == 0);
    const std::vector<metric_param> none;
    CHECK(new_weights(nodes, none, {})[1] == Approx(10));
}

TEST_CASE("the threshold function suppresses small changes and passes eligibility changes", "[weights]") {
    const std::vector<std::uint32_t> cur{30, 30, 30};
    CHECK_FALSE(differs_enough(cur, cur, 0.05));
    CHECK_FALSE(differs_enough(cur, std::vector<std::uint32_t>{31, 30, 29}, 0.05));  // 2/90 < 5%
    CHECK(differs_enough(cur, std::vector<std::uint32_t>{33, 30, 27}, 0.05));        // 6/90
    CHECK(differs_enough(cur, std::vector<std::uint32_t>{31, 30, 29}, 0.0));         // any change
    CHECK(differs_enough(cur, std::vector<std::uint32_t>{30, 30, 0}, 0.9));          // stops taking connections
    CHECK(differs_enough(std::vector<std::uint32_t>{30, 30, 0}, std::vector<std::uint32_t>{30, 30, 1}, 0.9));
    CHECK(differs_enough(cur, std::vector<std::uint32_t>{30, 30}, 0.05));  // a node came or went
    CHECK(rounded(std::vector<double>{0.4, 0.5, 29.6, -3}) == std::vector<std::uint32_t>{0, 1, 30, 0});
}
