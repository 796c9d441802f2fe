// What controld does for each rung (control/controld/recovery_plan.hpp),
// and, as a table against a fake wall clock, the failure sequences of the
// system tests with the rungs and the actions they get.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "control/controld/recovery_plan.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
using cg::common::supervision_cfg;

namespace {

const wall_time t0{std::chrono::milliseconds(1'700'000'000'000)};

constexpr rung p05 = rung::ph0_5, p10 = rung::ph1_0, p20 = rung::ph2_0, p25 = rung::ph2_5, p30 = rung::ph3_0,
               heal = rung::auto_heal;

/// What a plan does, in the words of docs/operations.md's table.
struct act {
    bool rebuild_tables, fresh_eal, restart_controld, from_backup;
};

struct step {
    std::chrono::milliseconds when;
    failure f;
    rung decided;
    rung applied;
    act does;
    std::chrono::milliseconds up_after = 0ms;  ///< the instance comes up this long after (0: not)
};

constexpr act patch{false, false, false, false}, rebuilt{true, false, false, false}, fresh{true, true, false, false},
    whole{true, true, true, false}, backup{true, true, true, true};

struct sequence {
    std::string name;
    std::vector<step> steps;
    supervision_cfg cfg;
};

supervision_cfg one_each() {  // the system tests': 1 in 1m at every rung
    supervision_cfg c;
    for (auto& l : c.ladder) l = {1, 1min};
    return c;
}

}  // namespace

TEST_CASE("each rung's plan: what it throws away before gatewayd starts again", "[escalation][plan]") {
    CHECK(plan_for(p05) == recovery_plan{p05, false, false, false, false});
    CHECK(plan_for(p10) == recovery_plan{p10, true, false, false, false});
    CHECK(plan_for(p20) == recovery_plan{p20, true, true, false, false});
    CHECK(plan_for(p25) == recovery_plan{p25, true, true, true, false});
    CHECK(plan_for(p30) == recovery_plan{p30, true, true, true, true});
    // Not carried out yet: PH2.0 in its place, which keeps this controld.
    CHECK(plan_for(heal) == recovery_plan{p20, true, true, false, false});
    // In a pair with a pool: elsewhere, nothing restarted here.
    CHECK(plan_for(heal, true) == recovery_plan{heal, false, false, false, false, true});
    for (rung r : {p05, p10, p20, p25, p30}) CHECK(plan_for(r, true) == plan_for(r));
    for (rung r : {p05, p10, p20, p25, p30}) CHECK(plan_for(r).applied == r);
}

TEST_CASE("failure sequences -> rungs -> actions", "[escalation][plan]") {
    const std::vector<sequence> cases{
        {"kill -9 in a row with one recovery per rung: the system test's walk",
         {{0s, failure::died, p05, p05, patch, 900ms},
          {5s, failure::died, p10, p10, rebuilt, 900ms},
          {10s, failure::died, p20, p20, fresh, 1200ms},
          {15s, failure::died, p25, p25, whole, 1500ms},
          {20s, failure::died, p30, p30, backup},
          {21s, failure::died, heal, p20, fresh}},
         one_each()},
        {"a hung gatewayd (killed by the watchdog) climbs as a death does",
         {{0s, failure::hung, p05, p05, patch, 1s}, {3s, failure::hung, p10, p10, rebuilt}}, one_each()},
        {"a window that slid past gives its rung back, but the ladder does not go down",
         {{0s, failure::died, p05, p05, patch},
          {5s, failure::died, p10, p10, rebuilt},
          {70s, failure::died, p10, p10, rebuilt}},
         one_each()},
        {"up for healthy_after: the counts clear, back to PH0.5 and its plan",
         {{0s, failure::died, p05, p05, patch, 1s},
          {10s, failure::exited, p10, p10, rebuilt, 1s},
          {11s + 5min, failure::died, p05, p05, patch}},
         one_each()},
        {"the short cut: a dead instance starts at PH2.5 and restarts controld",
         {{0s, failure::instance_dead, p25, p25, whole}}, one_each()},
        {"the defaults: three PH0.5, two PH1.0, two PH2.0, then PH2.5",
         {{0s, failure::died, p05, p05, patch},
          {1s, failure::died, p05, p05, patch},
          {2s, failure::died, p05, p05, patch},
          {3s, failure::start_failed, p10, p10, rebuilt},
          {4s, failure::died, p10, p10, rebuilt},
          {5s, failure::died, p20, p20, fresh},
          {6s, failure::died, p20, p20, fresh},
          {7s, failure::died, p25, p25, whole},
          {8s, failure::died, p30, p30, backup}},
         {}},
    };
    for (const auto& c : cases) {
        escalation e(c.cfg);
        for (std::size_t i = 0; i < c.steps.size(); ++i) {
            const step& s = c.steps[i];
            INFO(c.name << ", step " << i);
            const decision d = e.failed(s.f, "", t0 + s.when);
            CHECK(d.r == s.decided);
            const recovery_plan p = plan_for(d.r);
            e.applied(p.applied);
            CHECK(p.applied == s.applied);
            CHECK(p.rebuild_tables == s.does.rebuild_tables);
            CHECK(p.fresh_eal == s.does.fresh_eal);
            CHECK(p.restart_controld == s.does.restart_controld);
            CHECK(p.from_backup == s.does.from_backup);
            CHECK(e.state().history.back().applied == s.applied);
            if (s.up_after > 0ms) {
                CHECK(e.up(t0 + s.when + s.up_after));
                CHECK(e.state().history.back().took == s.up_after);
            }
        }
        std::uint64_t fallbacks = 0;
        for (const auto& s : c.steps) fallbacks += s.applied != s.decided;
        INFO(c.name);
        CHECK(e.state().fallbacks == fallbacks);
    }
}
