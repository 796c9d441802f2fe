// The gateway pair's decisions (requirements 5.1, 5.3, 5.4), as a pure state
// machine: heartbeats heard, the clock, this gateway's own gatewayd health
// and the operator go in; what controld must do comes out (take over, or
// demote its gatewayd to standby). No sockets, no timers: pair_peer.hpp
// feeds it, and a unit test drives every transition with a table.
//
//   starting --peer active-----------------------------------> backup
//   starting --start wait over, no active peer, I win-------> taking_over
//   backup   --peer dead | peer's gatewayd sick | handover
//              | nobody active and I win -------------------> taking_over (epoch + 1)
//   taking_over --takeover done------------------------------> active
//   taking_over, active --peer active with a higher epoch,
//              or the same epoch and the peer wins ----------> backup (demote)
//   active   --peer a healthy backup that wins, heard without a break
//              for preempt_delay (when set) ---------------> handing over, as `ha switchover`
//   any      --the peer says this gateway was replaced -----> retired (demote; for good)
//
// "I win" (two gateways that could both become active): the higher
// priority, then the lower address. Epochs only grow: a gateway that takes
// over announces epoch + 1 before it has finished, so that an old active
// that comes back (or that was only cut off) sees it and demotes itself.
// Only a healthy gateway (its gatewayd up and its workers' loops advancing)
// takes over; a recovered one comes back as the backup, and stays it unless
// pre-emption is configured: then the active hands over to a peer that wins
// once it has been a healthy backup for preempt_delay. It cannot loop: the
// new active is the winner, and the old one does not win against it.
//
// Thread-safety: none; controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/net_types.hpp"

namespace cg::control::pair {

using clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

/// retired: the peer took another gateway in this one's place (auto-heal,
/// pair_peer.hpp); it forwards nothing and never takes over again, until
/// its controld is started again (by the operator, on purpose).
enum class role : std::uint8_t { starting, backup, taking_over, active, retired };
inline constexpr std::uint8_t role_count = 5;
std::string_view role_name(role r);

/// The health of a gateway's own gatewayd, as its controld sees it.
enum class health : std::uint8_t {
    down,  ///< not running, or not answering its control socket yet
    up,    ///< answering, its workers' loops advancing
    hung,  ///< running, but its main loop or a worker's stopped past the dead time
};
inline constexpr std::uint8_t health_count = 3;
std::string_view health_name(health h);

/// What a heartbeat says (agent::heartbeat, its numbers checked).
struct peer_state {
    common::ipv4_addr address = 0;
    role r = role::starting;
    std::uint64_t epoch = 0;
    health h = health::down;
    std::uint8_t priority = 0;
    bool handover = false;
    std::uint64_t conns = 0;
    bool retire = false;  ///< this gateway is no longer the sender's peer
};

/// What controld must do now.
enum class action : std::uint8_t {
    none,
    take_over,  ///< fence, query the nodes, insert, make gatewayd active, then call taken_over()
    demote,     ///< make gatewayd standby at once
};

class machine {
public:
    struct options {
        common::ipv4_addr address = 0;  ///< this controld's, for the tie-break
        std::uint8_t priority = 100;
        milliseconds dead_time{50};
        milliseconds handover_wait{3000};  ///< a switchover the backup has not taken by then is called off
        milliseconds preempt_delay{0};     ///< 0: no pre-emption
    };

    machine(options o, clock::time_point now);

    /// A heartbeat from the peer, authentic and fresh.
    action heard(const peer_state& p, clock::time_point now);
    /// The passing of time and this gateway's own health; call it at least
    /// every interval. Pre-emption starts here (when its delay is over).
    action tick(health own, clock::time_point now);
    /// The takeover ended: gatewayd active (ok), or not (tried again at the
    /// next tick).
    action taken_over(bool ok, clock::time_point now);
    /// `ha switchover`: the active asks its backup to take over, and stays
    /// active until it has. An error text when refused.
    std::optional<std::string> switchover(clock::time_point now);
    /// This gateway leaves the pair for good (its own instance is rebuilt
    /// elsewhere: auto-heal): retired, as if the peer had said so.
    void retire(std::string why);

    role current() const { return _role; }
    std::uint64_t epoch() const { return _epoch; }
    bool handing_over() const { return _handover_until.has_value(); }
    /// Whether the current takeover is a planned one (the active handed
    /// over, and forwards until this side is active).
    bool planned() const { return _planned; }
    /// Whether gatewayd may forward: active, or taking over (then once its
    /// connections are back).
    bool may_forward() const { return _role == role::active || _role == role::taking_over; }
    bool peer_alive(clock::time_point now) const;
    const std::optional<peer_state>& peer() const { return _peer; }
    std::optional<clock::time_point> peer_heard() const { return _heard; }
    /// Why the latest transition happened, in words ("peer silent for 52 ms").
    const std::string& why() const { return _why; }
    health own() const { return _own; }

    struct counts {
        std::uint64_t takeovers = 0, demotions = 0, split_brains = 0, switchovers = 0, preemptions = 0, retirements = 0;
    };
    const counts& counters() const { return _n; }

private:
    action begin_takeover(std::string why, bool planned = false);
    action demote(std::string why);
    /// Whether this gateway wins against the peer for the active role.
    bool wins(const peer_state& p) const;
    action decide(clock::time_point now);
    /// Asks the backup to take over (switchover's and pre-emption's end).
    void hand_over(clock::time_point now, std::string why);
    /// Whether this active would hand over to its peer if that lasted.
    bool peer_should_lead(clock::time_point now) const;
    /// Starts pre-emption's wait, or calls it off.
    void watch_preemption(clock::time_point now);

    options _opt;
    role _role = role::starting;
    std::uint64_t _epoch = 0;
    health _own = health::down;
    clock::time_point _started;
    std::optional<peer_state> _peer;
    std::optional<clock::time_point> _heard;
    std::optional<clock::time_point> _handover_until;
    bool _planned = false;
    /// Since when peer_should_lead() has held without a break.
    std::optional<clock::time_point> _preempt_since;
    std::string _why = "starting: listening for the peer";
    counts _n;
};

}  // namespace cg::control::pair
