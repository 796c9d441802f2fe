// The restart escalation ladder (requirements 8.2, 8.3; docs/operations.md
// "Restart escalation"), as a pure state machine: failures of this gateway's
// instance and its coming up go in, with the time; the rung of recovery to
// apply, and why, comes out. No I/O, no clock of its own: controld feeds it
// and escalation_store.hpp keeps its state on disk.
//
//   PH0.5  gatewayd restarted alone, its connections restored
//   PH1.0  gatewayd's tables and connection table re-initialised, no restart
//   PH2.0  gatewayd restarted with its EAL state from scratch
//   PH2.5  controld and gatewayd restarted together (the appliance's service)
//   PH3.0  restarted from the last good configuration backup
//   auto-heal  a new instance elsewhere; no limit
//
// Each limited rung has a restart intensity, as Erlang/OTP's supervisors
// (MaxR in MaxT): at most N recoveries at that rung within a sliding window
// of T; a failure that finds the budget of its rung spent goes to the next
// rung (and on, past rungs whose budget is spent or 0). The ladder only
// climbs: the next failure starts at the rung the last one reached, until
// the instance has been up for `healthy_after` without failing; then every
// count clears and it starts again at PH0.5. (OTP's tree starts again at
// the bottom after every wider restart: with the default limits that is 144
// failures before auto-heal instead of 10, each repeating a narrower
// recovery that already failed to hold.)
//
// The short cut (requirements 8.3): a failure that already needs PH2.5 or more
// (the whole instance dead, as the pair's heartbeats or a watchdog see it)
// starts at PH2.5, whatever rung the ladder stood at.
//
// Time is wall time in milliseconds (the counts outlive a reboot, and so
// must their windows). A clock that steps back is held at the latest time
// seen, so that a window never grows backwards.
//
// Thread-safety: none; one owner (controld's io_context).
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/config.hpp"

namespace cg::control {

using wall_time = std::chrono::sys_time<std::chrono::milliseconds>;
/// Now, on the wall clock, to the millisecond.
inline wall_time wall_now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()); }

enum class rung : std::uint8_t { ph0_5, ph1_0, ph2_0, ph2_5, ph3_0, auto_heal };
inline constexpr std::size_t rung_count = 6;
static_assert(common::limited_rungs == rung_count - 1, "every rung but auto-heal has a limit");
/// "PH0.5" ... "PH3.0", "auto-heal".
std::string_view rung_name(rung r);
/// "ph0_5" ... "ph3_0" (the config's keys), "auto_heal": for labels.
std::string_view rung_key(rung r);
/// What the rung does, in a few words.
std::string_view rung_action(rung r);
/// Whether controld carries the rung out; for the others it logs the
/// decision and applies another, saying so (recovery_plan.hpp). auto-heal
/// needs a gateway pair with a pool (`pool`).
bool rung_implemented(rung r, bool pool = false);

enum class failure : std::uint8_t {
    died,           ///< killed by a signal
    hung,           ///< running, but its main loop or a worker's stopped past the dead time
    exited,         ///< exited on its own (any status: nobody asked it to)
    start_failed,   ///< could not be started
    instance_dead,  ///< the whole instance, as the pair's heartbeats or a watchdog see it
};
inline constexpr std::size_t failure_count = 5;
std::string_view failure_name(failure f);

/// How a recovery turned out.
enum class outcome : std::uint8_t {
    pending,       ///< not up yet
    up,            ///< came up (took: from the failure)
    held,          ///< stayed up for healthy_after: the counts cleared
    failed_again,  ///< the next failure came before it held
};
inline constexpr std::size_t outcome_count = 4;
std::string_view outcome_name(outcome o);

/// One recovery of the history.
struct recovery {
    wall_time at{};
    failure kind = failure::died;
    std::string detail;  ///< "killed by signal 9 (Killed)"
    rung decided = rung::ph0_5;  ///< the ladder's
    rung applied = rung::ph0_5;  ///< what controld did (applied())
    outcome result = outcome::pending;
    std::chrono::milliseconds took{0};  ///< from the failure until up
    friend bool operator==(const recovery&, const recovery&) = default;
};

/// Everything that outlives controld (escalation_store.hpp writes it).
struct escalation_state {
    rung reached = rung::ph0_5;  ///< where the next failure starts (before the clear of healthy_after)
    /// The times of the recoveries at each limited rung, oldest first; those
    /// older than the rung's window no longer count.
    std::array<std::vector<wall_time>, common::limited_rungs> used;
    std::optional<wall_time> latest;  ///< the latest time seen
    // Totals, never cleared.
    std::array<std::uint64_t, failure_count> failures{};  ///< by kind
    std::array<std::uint64_t, rung_count> decided{};      ///< by rung
    std::uint64_t fallbacks = 0;  ///< decided a rung that is not implemented: another applied instead
    std::uint64_t clears = 0;     ///< times the counts cleared after healthy_after
    std::vector<recovery> history;  ///< the latest recoveries, oldest first
    friend bool operator==(const escalation_state&, const escalation_state&) = default;
};

/// What a failure gets.
struct decision {
    rung r = rung::ph0_5;
    bool short_cut = false;  ///< skipped rungs below PH2.5 (requirements 8.3)
    bool escalated = false;  ///< above the rung the ladder stood at
    std::string why;         ///< "PH0.5: recovery 2 of 3 within 1m"
};

class escalation {
public:
    /// Resumes from `saved` (escalation_store::load's), a fresh ladder by
    /// default. The history is cut to cfg.history.
    explicit escalation(common::supervision_cfg cfg, escalation_state saved = {});

    /// A failure at `now`: the rung to apply, recorded with its reason in
    /// the counts and the history (as applied at that rung: see applied()).
    decision failed(failure kind, std::string detail, wall_time now);
    /// What a failure of `kind` at `now` would get; changes nothing.
    decision next(wall_time now, failure kind = failure::died) const;
    /// controld applied `r` for the latest failure (another rung for one not
    /// implemented): the history says so, and `fallbacks` counts it.
    void applied(rung r);
    /// The instance is up at `now` (gatewayd answers with its tables back):
    /// the latest recovery is up, and healthy_after starts (at the first
    /// report after a failure; later ones change nothing). True when the
    /// state changed (worth saving).
    bool up(wall_time now);
    /// The passing of time: once up for healthy_after, the counts clear.
    /// True when they did (worth saving; say so).
    bool tick(wall_time now);

    const escalation_state& state() const { return _s; }
    const common::supervision_cfg& config() const { return _cfg; }
    std::optional<wall_time> up_since() const { return _up_since; }
    /// Recoveries at limited rung `r` that still count at `now`.
    std::uint32_t used(rung r, wall_time now) const;

private:
    wall_time held_back(wall_time now) const { return _s.latest && now < *_s.latest ? *_s.latest : now; }
    bool healthy(wall_time now) const;
    bool clear_counts();
    const common::rung_limit_cfg& limit(rung r) const { return _cfg.ladder[static_cast<std::size_t>(r)]; }

    common::supervision_cfg _cfg;
    escalation_state _s;
    std::optional<wall_time> _up_since;  ///< not kept on disk: a new controld sees gatewayd come up itself
};

}  // namespace cg::control
