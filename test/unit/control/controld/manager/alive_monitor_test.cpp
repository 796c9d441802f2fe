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

TEST_CASE("a terminator's report of its server unreachable fails the server while its own agent speaks", "[alive]") {
    constexpr common::ipv4_addr term = 0xc612006f;  // 198.18.0.111: n1's terminator at +100
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    const auto beat = [&](std::chrono::milliseconds at) {
        m.heard(n1, t0 + at);
        m.heard(term, t0 + at);
    };
    beat(0ms);
    m.reported(term, n1, false, t0);
    CHECK(m.check(t0).empty());  // reachable: nothing
    beat(20ms);
    m.reported(term, n1, true, t0 + 20ms);
    CHECK(m.check(t0 + 20ms) == std::vector{change{n1, true, 0ms, term}});
    beat(40ms);
    CHECK(m.check(t0 + 40ms).empty());  // told once; n1's agent speaking changes nothing
    CHECK(m.failed() == std::set{n1});

    // Reachable again: n1, heard since it was failed, is live at once.
    m.reported(term, n1, false, t0 + 60ms);
    CHECK(m.check(t0 + 60ms) == std::vector{change{n1, false, 20ms}});
    CHECK(m.failures() == 1);
    CHECK(m.recoveries() == 1);
}

TEST_CASE("a silent terminator's report lapses; a node is failed while any live terminator says so", "[alive]") {
    constexpr common::ipv4_addr t1 = 0xc612006f, t2 = 0xc6120070;
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    m.heard(t1, t0);
    m.heard(t2, t0);
    m.reported(t1, n2, true, t0);  // n2 has no agent: judged by its terminators alone
    m.reported(t2, n2, true, t0);
    CHECK(m.check(t0) == std::vector{change{n2, true, 0ms, t1}});
    m.heard(n2, t0 + 10ms);
    m.reported(t1, n2, false, t0 + 50ms);
    m.heard(t1, t0 + 50ms);
    CHECK(m.check(t0 + 50ms).empty());  // t2 still says unreachable
    // t2 falls silent (t1 keeps speaking): its word lapses with it, and t2 fails itself.
    for (auto t = 60ms; t < 100ms; t += 20ms) {
        m.heard(t1, t0 + t);
        m.heard(n2, t0 + t);
        CHECK(m.check(t0 + t).empty());
    }
    m.heard(t1, t0 + 100ms);
    m.heard(n2, t0 + 100ms);
    CHECK(m.check(t0 + 100ms) == std::vector{change{n2, false, 100ms}, change{t2, true, 100ms}});
}

TEST_CASE("a report on a node failed by silence keeps it failed once its agent speaks again", "[alive]") {
    constexpr common::ipv4_addr term = 0xc612006f;
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    m.heard(n1, t0);
    m.heard(term, t0 + 100ms);
    CHECK(m.check(t0 + 100ms) == std::vector{change{n1, true, 100ms}});
    m.reported(term, n1, true, t0 + 110ms);
    m.heard(term, t0 + 150ms);
    m.heard(n1, t0 + 150ms);  // its agent is back, its terminator still cannot reach it
    CHECK(m.check(t0 + 150ms).empty());
    m.reported(term, n1, false, t0 + 170ms);
    m.heard(term, t0 + 170ms);
    m.heard(n1, t0 + 170ms);
    CHECK(m.check(t0 + 170ms) == std::vector{change{n1, false, 170ms}});
}

TEST_CASE("a node the mirror finds silent while its clients retransmit fails; its agent's word does not lift it",
          "[alive]") {
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    m.heard(n1, t0);
    m.heard(n2, t0);
    m.mirrored({{n2, 250ms}}, t0 + 10ms);
    m.heard(n2, t0 + 10ms);  // its agent still speaks: its kernel does not acknowledge, its link half down
    CHECK(m.check(t0 + 10ms) == std::vector{change{n2, true, 250ms, 0, true}});
    CHECK(m.failed() == std::set{n2});
    m.heard(n1, t0 + 50ms);
    m.heard(n2, t0 + 50ms);
    m.mirrored({{n2, 290ms}}, t0 + 50ms);
    CHECK(m.check(t0 + 50ms).empty());  // still silent on the mirror
    m.mirrored({}, t0 + 60ms);          // the mirror hears it again
    m.heard(n1, t0 + 60ms);
    m.heard(n2, t0 + 60ms);
    const auto back = m.check(t0 + 60ms);
    REQUIRE(back.size() == 1);
    CHECK((back[0].node == n2 && !back[0].failed));
    CHECK(m.failed().empty());
}

TEST_CASE("a node the mirror finds silent whose agent is silent too comes back only with its agent", "[alive]") {
    alive_monitor m(100ms);
    const auto t0 = alive_monitor::clock::time_point{} + 1h;
    m.heard(n2, t0);
    m.mirrored({{n2, 220ms}}, t0 + 20ms);
    CHECK(m.check(t0 + 20ms) == std::vector{change{n2, true, 220ms, 0, true}});
    m.mirrored({}, t0 + 300ms);  // a gatewayd restarted: its parser knows nothing yet
    CHECK(m.check(t0 + 300ms).empty());  // the agent, silent since t0, keeps it failed
    m.heard(n2, t0 + 400ms);
    CHECK(m.check(t0 + 400ms).size() == 1);
    CHECK(m.failed().empty());
}
