#include <catch2/catch.hpp>

#include "control/controld/manager/alive_monitor.hpp"

using namespace cg;
using namespace cg::control;
using namespace std::chrono_literals;
using change = alive_monitor::change;

namespace {

constexpr common::ipv4_addr n1 = 0xc612000b, n2 = 0xc612000c;  // 198.18.0.11, .12

}  // namespace

TEST_CASE("a node heard from, then silent for the timeout, fails once; heard again, it is live", "[alive]") {
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    CHECK(m.check(t0).empty());  // no node heard yet: none can fail
    for (auto t = t0; t <= t0 + 200ms; t += 20ms) {
        m.heard(n1, t);
        m.heard(n2, t);
        CHECK(m.check(t).empty());
    }
    // n2 goes silent after t0 + 200 ms; n1 keeps speaking.
    for (auto t = t0 + 220ms; t < t0 + 300ms; t += 10ms) {
        m.heard(n1, t);
        CHECK(m.check(t).empty());
    }
    m.heard(n1, t0 + 300ms);
    CHECK(m.check(t0 + 300ms) == std::vector{change{n2, true, 100ms}});
    m.heard(n1, t0 + 310ms);
    CHECK(m.check(t0 + 310ms).empty());  // told once
    CHECK(m.failed() == std::set{n2});
    CHECK(m.failures() == 1);

    m.heard(n1, t0 + 900ms);
    m.heard(n2, t0 + 900ms);
    CHECK(m.check(t0 + 905ms) == std::vector{change{n2, false, 700ms}});
    CHECK(m.failed().empty());
    CHECK(m.recoveries() == 1);
    CHECK(m.check(t0 + 910ms).empty());
}

TEST_CASE("a datagram older than the last one heard moves nothing back", "[alive]") {
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    m.heard(n1, t0 + 50ms);
    m.heard(n1, t0);  // a late one
    CHECK(m.check(t0 + 120ms).empty());
    CHECK(m.check(t0 + 150ms) == std::vector{change{n1, true, 100ms}});
    // A silence seen late (the loop was busy) says how long it was.
    m.heard(n2, t0);
    CHECK(m.check(t0 + 400ms) == std::vector{change{n2, true, 400ms}});
}
