#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "dataplane/router/wrr.hpp"

using namespace cg::dp;

namespace {

std::vector<wrr_member> members(std::vector<std::uint32_t> weights) {
    std::vector<wrr_member> m;
    for (std::size_t i = 0; i < weights.size(); ++i) m.push_back({weights[i], static_cast<std::uint16_t>(i)});
    return m;
}

/// Picks `n` times and spells the sequence with letters A, B, C...
std::string picks(const std::vector<wrr_member>& m, wrr_state& st, int n) {
    const auto p = wrr_compute(m);
    std::string s;
    for (int i = 0; i < n; ++i) {
        const int k = wrr_pick(m, p, st);
        s += k < 0 ? '-' : static_cast<char>('A' + k);
    }
    return s;
}

}  // namespace

TEST_CASE("weights 3:2 give 3 and 2 of every 5, in the spec's order", "[wrr]") {
    const auto m = members({3, 2});
    wrr_state st;
    CHECK(picks(m, st, 5) == "AABAB");
    CHECK(picks(m, st, 5) == "AABAB");
}

TEST_CASE("weights 5:3:1 follow the eligible-weight walk", "[wrr]") {
    const auto m = members({5, 3, 1});
    wrr_state st;
    // cw 5: A; 4: A; 3: A B; 2: A B; 1: A B C
    CHECK(picks(m, st, 9) == "AAABABABC");
    CHECK(picks(m, st, 9) == "AAABABABC");
}

TEST_CASE("all weights zero select no node", "[wrr]") {
    const auto m = members({0, 0, 0});
    wrr_state st;
    CHECK(wrr_compute(m).max_weight == 0);
    CHECK(picks(m, st, 3) == "---");
    wrr_state empty;
    CHECK(wrr_pick({}, wrr_params{}, empty) == -1);
}

TEST_CASE("a zero-weight node is never selected", "[wrr]") {
    const auto m = members({0, 3, 0, 1});
    wrr_state st;
    CHECK(picks(m, st, 8) == "BBBDBBBD");
}

TEST_CASE("weights with a common divisor interleave like the reduced weights", "[wrr]") {
    const auto m = members({200, 100});
    const auto p = wrr_compute(m);
    CHECK(p.gcd == 100);
    CHECK(p.max_weight == 200);
    wrr_state st;
    CHECK(picks(m, st, 6) == "AABAAB");
}

TEST_CASE("a weight change mid-stream continues the walk without a reset", "[wrr]") {
    auto m = members({3, 2});
    wrr_state st;
    CHECK(picks(m, st, 2) == "AA");
    m = members({1, 1});  // new snapshot: the walk goes on from B
    CHECK(picks(m, st, 6) == "BABABA");
    m = members({0, 4});  // A quiesced
    CHECK(picks(m, st, 3) == "BBB");
    m = members({2});     // list shrank under the old position
    CHECK(picks(m, st, 2) == "AA");
}

TEST_CASE("peek tells the next pick without taking it", "[wrr]") {
    const auto m = members({2, 1});
    const auto p = wrr_compute(m);
    wrr_state st;
    CHECK(wrr_peek(m, p, st) == 0);
    CHECK(wrr_peek(m, p, st) == 0);
    CHECK(wrr_pick(m, p, st) == 0);
    CHECK(wrr_pick(m, p, st) == 0);
    CHECK(wrr_peek(m, p, st) == 1);
}

TEST_CASE("over whole rounds every node gets exactly its share", "[wrr]") {
    std::mt19937 rng(GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));
    std::uniform_int_distribution<std::uint32_t> wd(0, 12), nd(1, 9);
    std::vector<std::uint32_t> w(nd(rng));
    for (auto& x : w) x = wd(rng);
    std::string shown;
    for (auto x : w) shown += std::to_string(x) + " ";
    INFO("weights " << shown);
    const auto m = members(w);
    const auto p = wrr_compute(m);

    std::uint32_t max = 0, gcd = 0;
    for (auto x : w) max = std::max(max, x), gcd = std::gcd(gcd, x);
    CHECK(p.max_weight == max);
    CHECK(p.gcd == gcd);

    // Three whole rounds; with every weight zero, as many picks that find no node.
    std::uint32_t round = 0;
    for (auto x : w) round += max ? x / gcd : 0;
    const std::uint32_t n = max ? 3 * round : 9;
    std::map<int, std::uint32_t> got;
    wrr_state st;
    for (std::uint32_t i = 0; i < n; ++i) ++got[wrr_pick(m, p, st)];
    for (std::size_t i = 0; i < w.size(); ++i) {
        INFO("weights index " << i << " weight " << w[i]);
        CHECK(got[static_cast<int>(i)] == (max ? 3 * w[i] / gcd : 0));
    }
    CHECK(got[-1] == (max ? 0 : n));
}
