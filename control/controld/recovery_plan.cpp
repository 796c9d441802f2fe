#include "control/controld/recovery_plan.hpp"

namespace cg::control {

bool rung_implemented(rung r, bool pool) { return r <= rung::ph3_0 || pool; }

recovery_plan plan_for(rung decided, bool pool) {
    if (decided == rung::auto_heal && pool) return {rung::auto_heal, false, false, false, false, true};
    const rung r = rung_implemented(decided) ? decided : rung::ph2_0;
    return {r, r >= rung::ph1_0, r >= rung::ph2_0, r >= rung::ph2_5, r == rung::ph3_0};
}

}  // namespace cg::control
