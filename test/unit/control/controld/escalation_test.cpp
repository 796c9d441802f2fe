// The restart escalation ladder (control/controld/escalation.hpp) as tables
// of failure sequences and the rungs they get, against a fake wall clock.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "control/controld/escalation.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
using cg::common::supervision_cfg;

namespace {

// A fixed day, so that nothing depends on the machine's clock.
const wall_time t0{std::chrono::milliseconds(1'700'000'000'000)};

wall_time at(std::chrono::milliseconds since) { return t0 + since; }

/// One step of a sequence: a failure (and the rung it must get), the
/// instance coming up, or a tick (and whether the counts clear then).
struct step {
    enum class kind { fail, up, tick } what;
    std::chrono::milliseconds when;
    failure f = failure::died;
    rung expect = rung::ph0_5;
    bool clears = false;
};

step fail(std::chrono::milliseconds when, rung expect, failure f = failure::died) {
    return {step::kind::fail, when, f, expect};
}
step up(std::chrono::milliseconds when) { return {step::kind::up, when}; }
step tick(std::chrono::milliseconds when, bool clears) { return {step::kind::tick, when, failure::died, {}, clears}; }

struct sequence {
    std::string name;
    std::vector<step> steps;
    supervision_cfg cfg = {};  ///< the defaults: 3/1m, 2/2m, 2/10m, 1/30m, 1/1h; healthy after 5m
};

constexpr rung p05 = rung::ph0_5, p10 = rung::ph1_0, p20 = rung::ph2_0, p25 = rung::ph2_5, p30 = rung::ph3_0,
               heal = rung::auto_heal;

supervision_cfg with_limits(std::array<cg::common::rung_limit_cfg, cg::common::limited_rungs> ladder) {
    supervision_cfg c;
    c.ladder = ladder;
    return c;
}

/// Runs a sequence; every failure also checks that next() foretold it.
void run(const sequence& s) {
    escalation e(s.cfg);
    for (std::size_t i = 0; i < s.steps.size(); ++i) {
        const step& st = s.steps[i];
        INFO(s.name << ", step " << i << " at " << st.when.count() << " ms");
        switch (st.what) {
            case step::kind::fail: {
                const escalation_state before = e.state();
                const decision foretold = e.next(at(st.when), st.f);
                CHECK(e.state() == before);  // next() changes nothing
                const decision d = e.failed(st.f, "test", at(st.when));
                INFO("why: " << d.why);
                CHECK(rung_name(d.r) == rung_name(st.expect));
                CHECK(foretold.r == d.r);
                CHECK(foretold.why == d.why);
                CHECK(e.state().reached == d.r);
                break;
            }
            case step::kind::up: e.up(at(st.when)); break;
            case step::kind::tick: CHECK(e.tick(at(st.when)) == st.clears); break;
        }
    }
}

}  // namespace

TEST_CASE("failure sequences get the rungs of the ladder", "[escalation]") {
    const std::vector<sequence> table{
        {"deaths in a row walk the rungs in order, then stay at auto-heal",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p10), fail(4s, p10), fail(5s, p20), fail(6s, p20),
          fail(7s, p25), fail(8s, p30), fail(9s, heal), fail(10s, heal)}},
        {"every kind but instance_dead starts at the bottom",
         {fail(0s, p05, failure::exited), fail(1s, p05, failure::hung), fail(2s, p05, failure::start_failed),
          fail(3s, p10, failure::died)}},
        {"a window that slides past old recoveries gives the rung its budget back",
         {fail(0s, p05), fail(10s, p05), fail(20s, p05),
          fail(65s, p05),    // the one at 0 s left the minute: 2 of 3 count
          fail(66s, p10)}},  // 10 s, 20 s and 65 s count: spent
        {"a rung's whole window passed: its full budget again",
         {fail(0s, p05), fail(10s, p05), fail(20s, p05), fail(81s, p05), fail(82s, p05), fail(83s, p05)}},
        {"the ladder does not step down while the instance has not held, however long ago",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p10), fail(10min, p10), fail(20min, p10),
          fail(20min + 1s, p10), fail(20min + 2s, p20)}},
        {"up for healthy_after: the counts clear at the tick, and the next failure starts at PH0.5",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p10), up(10s), tick(309s, false), tick(310s, true),
          tick(311s, false), fail(312s, p05)}},
        {"up for healthy_after clears before the next failure counts, without a tick",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p10), up(10s), fail(400s, p05)}},
        {"up, then failing before healthy_after: the counts stay",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), up(3s), fail(50s, p10)}},
        {"a failure ends the healthy time: up again starts it anew",
         {fail(0s, p05), up(1s), fail(200s, p05), up(201s), tick(400s, false), tick(501s, true)}},
        {"the short cut: a first failure that is the whole instance dead goes to PH2.5",
         {fail(0s, p25, failure::instance_dead), fail(1s, p30), fail(2s, heal)}},
        {"the short cut from a lower rung skips what is left of it",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p10), fail(4s, p25, failure::instance_dead)}},
        {"the short cut with PH2.5 spent goes on up the ladder",
         {fail(0s, p25, failure::instance_dead), up(1s), fail(2s, p30, failure::instance_dead)}},
        {"instance_dead above PH2.5 stays where the ladder stands",
         {fail(0s, p25, failure::instance_dead), fail(1s, p30), fail(2s, heal, failure::instance_dead)}},
        {"a rung allowed 0 recoveries is passed over",
         {fail(0s, p05), fail(1s, p05), fail(2s, p05), fail(3s, p20), fail(4s, p20), fail(5s, p25)},
         with_limits({{{3, 60s}, {0, 60s}, {2, 60s}, {1, 60s}, {1, 60s}}})},
        {"every rung allowed 0: auto-heal at once",
         {fail(0s, heal), fail(1h, heal)},
         with_limits({{{0, 60s}, {0, 60s}, {0, 60s}, {0, 60s}, {0, 60s}}})},
        {"limits of one in a second: each failure a second apart stays at PH0.5",
         {fail(0s, p05), fail(1001ms, p05), fail(2002ms, p05), fail(2500ms, p10)},
         with_limits({{{1, 1s}, {1, 1s}, {1, 1s}, {1, 1s}, {1, 1s}}})},
        {"a clock that steps back is held at the latest time seen",
         {fail(100s, p05), fail(101s, p05), fail(102s, p05),
          fail(30s, p10)}},  // as if at 102 s: three recoveries within the minute
    };
    for (const sequence& s : table) run(s);
}

TEST_CASE("a decision says why, with the counts and windows", "[escalation]") {
    escalation e{supervision_cfg{}};
    CHECK(e.failed(failure::died, "", at(0s)).why == "PH0.5: recovery 1 of 3 within 1m");
    CHECK(e.failed(failure::died, "", at(1s)).why == "PH0.5: recovery 2 of 3 within 1m");
    CHECK(e.next(at(2s)).why == "PH0.5: recovery 3 of 3 within 1m");
    e.failed(failure::died, "", at(2s));
    const decision d = e.failed(failure::died, "", at(3s));
    CHECK(d.why == "PH0.5 spent (3 of 3 within 1m); PH1.0: recovery 1 of 2 within 2m");
    CHECK(d.escalated);
    CHECK_FALSE(d.short_cut);
    const decision same = e.failed(failure::died, "", at(4s));
    CHECK(same.why == "PH1.0: recovery 2 of 2 within 2m");
    CHECK_FALSE(same.escalated);  // the ladder stood at PH1.0 already
    const decision dead = e.next(at(5s), failure::instance_dead);
    CHECK(dead.short_cut);
    CHECK(dead.escalated);
    CHECK(dead.why == "short cut: instance_dead needs PH2.5 at least; PH2.5: recovery 1 of 1 within 30m");

    supervision_cfg none;
    for (auto& l : none.ladder) l.failures = 0;
    CHECK(escalation(none).next(at(0s)).why ==
          "PH0.5 passed over (0 allowed); PH1.0 passed over (0 allowed); PH2.0 passed over (0 allowed); PH2.5 "
          "passed over (0 allowed); PH3.0 passed over (0 allowed); auto-heal: no limit");
}

TEST_CASE("the history keeps the last recoveries with what was applied and how they ended", "[escalation]") {
    supervision_cfg cfg;
    cfg.history = 3;
    escalation e(cfg);
    e.failed(failure::died, "killed by signal 9 (Killed)", at(0s));
    e.up(at(800ms));
    e.failed(failure::exited, "exited with status 1", at(10s));
    e.failed(failure::died, "a", at(11s));
    e.failed(failure::died, "b", at(12s));  // PH1.0 decided, another applied in its place
    e.applied(rung::ph0_5);
    e.applied(rung::ph0_5);  // said twice, counted once
    const auto& h = e.state().history;
    REQUIRE(h.size() == 3);  // the first fell out
    CHECK(h[0].detail == "exited with status 1");
    CHECK(h[0].kind == failure::exited);
    CHECK(h[0].result == outcome::failed_again);
    CHECK(h[2].decided == rung::ph1_0);
    CHECK(h[2].applied == rung::ph0_5);
    CHECK(h[2].result == outcome::pending);
    CHECK(e.state().fallbacks == 1);
    CHECK(e.up(at(12'500ms)));
    CHECK(h[2].result == outcome::up);
    CHECK(h[2].took == 500ms);
    CHECK_FALSE(e.up(at(13s)));  // up again: nothing new
    CHECK_FALSE(e.tick(at(12'500ms + 5min - 1ms)));
    CHECK(e.tick(at(12'500ms + 5min)));
    CHECK(h[2].result == outcome::held);
    CHECK(e.state().reached == rung::ph0_5);
    CHECK(e.state().clears == 1);
    CHECK(e.state().failures[static_cast<std::size_t>(failure::died)] == 3);
    CHECK(e.state().failures[static_cast<std::size_t>(failure::exited)] == 1);
    CHECK(e.state().decided[static_cast<std::size_t>(rung::ph0_5)] == 3);
    CHECK(e.state().decided[static_cast<std::size_t>(rung::ph1_0)] == 1);
}

TEST_CASE("a clock that steps back is held: recorded times only grow, and no recovery takes less than 0",
          "[escalation]") {
    escalation e{supervision_cfg{}};
    e.failed(failure::died, "", at(100s));
    e.up(at(40s));  // the clock stepped back a minute
    const auto& h = e.state().history;
    CHECK(h.back().took == 0ms);
    e.failed(failure::died, "", at(50s));
    CHECK(h.back().at == at(100s));
    CHECK(e.state().latest == at(100s));
    CHECK(e.state().used[0] == std::vector<wall_time>{at(100s), at(100s)});
    e.failed(failure::died, "", at(101s));  // past it again: the clock's own time
    CHECK(h.back().at == at(101s));
}

TEST_CASE("a ladder resumed from its saved state goes on where it was", "[escalation]") {
    escalation first{supervision_cfg{}};
    for (int i = 0; i < 3; ++i) first.failed(failure::died, "", at(std::chrono::seconds(i)));
    escalation again(supervision_cfg{}, first.state());
    CHECK(again.used(rung::ph0_5, at(3s)) == 3);
    CHECK(again.failed(failure::died, "", at(3s)).r == rung::ph1_0);
    // A shorter history than the saved one keeps the latest.
    supervision_cfg two;
    two.history = 2;
    escalation cut(two, again.state());
    REQUIRE(cut.state().history.size() == 2);
    CHECK(cut.state().history.back().decided == rung::ph1_0);
    CHECK(cut.state().history.back().at == at(3s));
}

TEST_CASE("rungs, failures and outcomes have names", "[escalation]") {
    CHECK(rung_name(rung::ph0_5) == "PH0.5");
    CHECK(rung_name(rung::auto_heal) == "auto-heal");
    CHECK(rung_key(rung::ph2_5) == "ph2_5");
    CHECK(rung_key(rung::auto_heal) == "auto_heal");
    CHECK(failure_name(failure::instance_dead) == "instance_dead");
    CHECK(outcome_name(outcome::failed_again) == "failed_again");
    for (rung r : {rung::ph0_5, rung::ph1_0, rung::ph2_0, rung::ph2_5, rung::ph3_0}) CHECK(rung_implemented(r));
    CHECK_FALSE(rung_implemented(rung::auto_heal));
    CHECK(rung_implemented(rung::auto_heal, true));  // a pair with a pool
}
