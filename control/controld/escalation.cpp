#include "control/controld/escalation.hpp"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

#include "common/duration.hpp"

namespace cg::control {

namespace {

constexpr std::string_view rung_names[] = {"PH0.5", "PH1.0", "PH2.0", "PH2.5", "PH3.0", "auto-heal"};
constexpr std::string_view rung_actions[] = {
    "restart gatewayd alone, its connections restored",
    "restart gatewayd from the running configuration, connections from the nodes",
    "as PH1.0, with gatewayd's EAL state from scratch",
    "restart controld and gatewayd together (controld executes itself again)",
    "restart from the last good configuration backup",
    "a new instance elsewhere",
};
constexpr std::string_view failure_names[] = {"died", "hung", "exited", "start_failed", "instance_dead"};
constexpr std::string_view outcome_names[] = {"pending", "up", "held", "failed_again"};
static_assert(std::size(rung_names) == rung_count && std::size(rung_actions) == rung_count);
static_assert(std::size(failure_names) == failure_count && std::size(outcome_names) == outcome_count);

rung above(rung r) { return static_cast<rung>(static_cast<std::uint8_t>(r) + 1); }

/// The lowest rung a failure of this kind can be recovered by.
rung floor_of(failure f) { return f == failure::instance_dead ? rung::ph2_5 : rung::ph0_5; }

}  // namespace

std::string_view rung_name(rung r) { return rung_names[static_cast<std::size_t>(r)]; }

std::string_view rung_key(rung r) {
    return r == rung::auto_heal ? "auto_heal" : common::rung_keys[static_cast<std::size_t>(r)];
}

std::string_view rung_action(rung r) { return rung_actions[static_cast<std::size_t>(r)]; }

std::string_view failure_name(failure f) { return failure_names[static_cast<std::size_t>(f)]; }

std::string_view outcome_name(outcome o) { return outcome_names[static_cast<std::size_t>(o)]; }

escalation::escalation(common::supervision_cfg cfg, escalation_state saved) : _cfg(std::move(cfg)), _s(std::move(saved)) {
    auto& h = _s.history;
    if (h.size() > _cfg.history) h.erase(h.begin(), h.end() - _cfg.history);
}

std::uint32_t escalation::used(rung r, wall_time now) const {
    if (r == rung::auto_heal) return 0;
    const auto& times = _s.used[static_cast<std::size_t>(r)];
    const wall_time since = held_back(now) - limit(r).window;
    return static_cast<std::uint32_t>(std::count_if(times.begin(), times.end(), [&](wall_time t) { return t > since; }));
}

bool escalation::healthy(wall_time now) const {
    return _up_since && held_back(now) - *_up_since >= _cfg.healthy_after;
}

decision escalation::next(wall_time now, failure kind) const {
    // Up long enough: the counts clear before this failure is counted.
    const bool fresh = healthy(now);
    const auto count = [&](rung r) { return fresh ? 0u : used(r, now); };
    const rung stood = fresh ? rung::ph0_5 : _s.reached;
    const rung floor = floor_of(kind);
    decision d;
    d.short_cut = floor > stood;
    std::vector<std::string> why;
    if (d.short_cut)
        why.push_back(fmt::format("short cut: {} needs {} at least", failure_name(kind), rung_name(floor)));
    rung r = std::max(stood, floor);
    for (; r != rung::auto_heal; r = above(r)) {
        const common::rung_limit_cfg& l = limit(r);
        const std::uint32_t c = count(r);
        if (c < l.failures) {
            why.push_back(fmt::format("{}: recovery {} of {} within {}", rung_name(r), c + 1, l.failures,
                                      common::format_duration(l.window)));
            break;
        }
        why.push_back(l.failures == 0 ? fmt::format("{} passed over (0 allowed)", rung_name(r))
                                      : fmt::format("{} spent ({} of {} within {})", rung_name(r), c, l.failures,
                                                    common::format_duration(l.window)));
    }
    if (r == rung::auto_heal) why.emplace_back("auto-heal: no limit");
    d.r = r;
    d.escalated = r > stood;
    for (std::size_t i = 0; i < why.size(); ++i) d.why += (i ? "; " : "") + why[i];
    return d;
}

decision escalation::failed(failure kind, std::string detail, wall_time now) {
    now = held_back(now);
    if (healthy(now)) clear_counts();
    _up_since.reset();
    if (!_s.history.empty() && (_s.history.back().result == outcome::pending || _s.history.back().result == outcome::up))
        _s.history.back().result = outcome::failed_again;
    for (std::size_t i = 0; i < common::limited_rungs; ++i) {
        auto& times = _s.used[i];
        const wall_time since = now - _cfg.ladder[i].window;
        times.erase(times.begin(), std::find_if(times.begin(), times.end(), [&](wall_time t) { return t > since; }));
    }
    decision d = next(now, kind);
    if (d.r != rung::auto_heal) _s.used[static_cast<std::size_t>(d.r)].push_back(now);
    _s.reached = d.r;
    _s.latest = now;
    ++_s.failures[static_cast<std::size_t>(kind)];
    ++_s.decided[static_cast<std::size_t>(d.r)];
    _s.history.push_back({now, kind, std::move(detail), d.r, d.r, outcome::pending, {}});
    if (_s.history.size() > _cfg.history) _s.history.erase(_s.history.begin());
    return d;
}

void escalation::applied(rung r) {
    if (_s.history.empty()) return;
    recovery& last = _s.history.back();
    if (last.applied == r) return;
    if (last.applied == last.decided) ++_s.fallbacks;  // counted once per recovery
    last.applied = r;
}

bool escalation::up(wall_time now) {
    now = held_back(now);
    _s.latest = now;
    if (!_up_since) _up_since = now;  // up since the first report after a start
    if (_s.history.empty() || _s.history.back().result != outcome::pending) return false;
    _s.history.back().result = outcome::up;
    _s.history.back().took = now - _s.history.back().at;
    return true;
}

bool escalation::tick(wall_time now) { return healthy(now) && clear_counts(); }

bool escalation::clear_counts() {
    const bool counted = std::any_of(_s.used.begin(), _s.used.end(), [](const auto& t) { return !t.empty(); });
    const bool held = !_s.history.empty() && _s.history.back().result == outcome::up;
    if (!counted && !held && _s.reached == rung::ph0_5) return false;
    for (auto& t : _s.used) t.clear();
    _s.reached = rung::ph0_5;
    if (held) _s.history.back().result = outcome::held;
    ++_s.clears;
    return true;
}

}  // namespace cg::control
