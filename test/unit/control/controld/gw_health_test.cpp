// gatewayd's health from its hello answers: up while it answers and every
// worker's loop moves, hung when either stops for the dead time, down
// before its first answer.
#include <catch2/catch.hpp>

#include "control/controld/gw_health.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
using cg::common::api::lcore_view;
using pair::health;

namespace {

const pair::clock::time_point t0{};

std::vector<lcore_view> lcores(std::uint64_t w0, std::uint64_t w1) {
    std::vector<lcore_view> v(3);
    v[0].role = "main";  // never counts its loops: answering is its sign of life
    v[1].role = "worker 0";
    v[1].loops = w0;
    v[2].role = "worker 1";
    v[2].loops = w1;
    return v;
}

}  // namespace

TEST_CASE("health: down before the first answer, up while loops move", "[health]") {
    loop_watch w(50ms);
    CHECK(w.at(t0) == health::down);
    CHECK(w.why(t0) == "not answered since it started");
    w.answered(lcores(10, 10), t0);
    CHECK(w.at(t0 + 10ms) == health::up);
    for (int i = 1; i <= 20; ++i) {
        w.answered(lcores(10 + i, 10 + i), t0 + 10ms * i);
        CHECK(w.at(t0 + 10ms * i + 5ms) == health::up);
    }
    CHECK(w.why(t0 + 205ms) == "forwarding");
}

TEST_CASE("health: a worker whose loop stops makes gatewayd hung after the dead time", "[health]") {
    loop_watch w(50ms);
    w.answered(lcores(1, 1), t0);
    for (int i = 1; i <= 10; ++i) w.answered(lcores(1 + i, 1), t0 + 10ms * i);  // worker 1 stuck from the start
    CHECK(w.at(t0 + 49ms) == health::up);
    CHECK(w.at(t0 + 100ms) == health::hung);
    CHECK(w.why(t0 + 100ms) == "worker 1's loop stopped 100 ms ago");
    w.answered(lcores(12, 2), t0 + 110ms);  // it moves again
    CHECK(w.at(t0 + 111ms) == health::up);
}

TEST_CASE("health: no answer for the dead time is hung; a restart is down until it answers", "[health]") {
    loop_watch w(50ms);
    w.answered(lcores(1, 1), t0);
    CHECK(w.at(t0 + 49ms) == health::up);
    CHECK(w.at(t0 + 50ms) == health::hung);
    CHECK(w.why(t0 + 80ms) == "its control socket silent for 80 ms");
    w.restarted();
    CHECK(w.at(t0 + 81ms) == health::down);
    w.answered(lcores(0, 0), t0 + 90ms);  // a new gatewayd counts from 0 again
    CHECK(w.at(t0 + 91ms) == health::up);
}

TEST_CASE("stalled: the time since the latest progress, none before the first answer", "[health]") {
    loop_watch w(50ms);
    CHECK_FALSE(w.stalled(t0 + 10s));  // starting (EAL), not hung
    w.answered(lcores(1, 1), t0);
    CHECK(w.stalled(t0 + 30ms) == 30ms);
    w.answered(lcores(2, 2), t0 + 40ms);
    CHECK(w.stalled(t0 + 50ms) == 10ms);
    // Answers go on but worker 1 stands still: its stop counts.
    for (int i = 1; i <= 5; ++i) w.answered(lcores(2 + i, 2), t0 + 40ms + 10ms * i);
    CHECK(w.stalled(t0 + 100ms) == 60ms);
    // No answer at all (SIGSTOP): the silence counts.
    w.answered(lcores(9, 3), t0 + 110ms);
    CHECK(w.stalled(t0 + 1110ms) == 1000ms);
    w.restarted();
    CHECK_FALSE(w.stalled(t0 + 2s));
}
