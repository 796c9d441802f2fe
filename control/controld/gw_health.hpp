// Whether this gateway's gatewayd can forward, as controld sees it: it asks
// gatewayd (hello, on a link of its own so that bulk inserts never delay
// it) every interval, one question at a time, and checks that every
// worker's and dispatcher's loop counter went on. The gateway pair's
// heartbeats carry the answer, so that a half-failed gateway (controld
// alive, data plane hung) is seen by its peer; controld's watchdog kills a
// gatewayd that has made no progress for supervision.hung_after (stalled()).
//
//   down: not running, or not answered since it (re)started
//   hung: no answer, or a loop counter that has not moved, for the dead time
//   up:   answered within the dead time, every loop counter moving
//
// Thread-safety: none; controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/ctl_msg.hpp"
#include "control/controld/gw_link.hpp"
#include "control/controld/pair/pair_state.hpp"

namespace cg::control {

/// The verdict from gatewayd's answers alone (pure, tested).
class loop_watch {
public:
    explicit loop_watch(std::chrono::milliseconds dead_time) : _dead_time(dead_time) {}

    /// A hello answer at `now`.
    void answered(const std::vector<common::api::lcore_view>& lcores, pair::clock::time_point now);
    /// gatewayd was started again: nothing it said before counts.
    void restarted();
    pair::health at(pair::clock::time_point now) const;
    /// How long since the latest sign of progress: its latest answer, or the
    /// latest move of the loop counter that has stood still longest. None
    /// until it has answered once since its start (EAL's start takes as long
    /// as it takes: a gatewayd that never answers is not hung but starting).
    std::optional<std::chrono::milliseconds> stalled(pair::clock::time_point now) const;
    /// Why it is not up, in words ("worker 0's loop stopped 80 ms ago").
    std::string why(pair::clock::time_point now) const;

private:
    struct lcore_seen {
        std::uint64_t loops = 0;
        pair::clock::time_point moved;
    };
    std::chrono::milliseconds _dead_time;
    std::optional<pair::clock::time_point> _answered;
    std::map<std::string, lcore_seen> _lcores;  ///< by role: "worker 0", "dispatch"
};

class gw_health {
public:
    gw_health(boost::asio::io_context& io, const std::string& socket_path, std::chrono::milliseconds interval,
              std::chrono::milliseconds dead_time);

    void start();
    /// gatewayd was started again (or stopped): forget what it said.
    void restarted() { _watch.restarted(); }
    pair::health at(pair::clock::time_point now, bool running) const;
    std::string why(pair::clock::time_point now, bool running) const;
    std::optional<std::chrono::milliseconds> stalled(pair::clock::time_point now) const { return _watch.stalled(now); }

private:
    void poll();

    gw_link _link;
    boost::asio::steady_timer _timer;
    std::chrono::milliseconds _interval;
    loop_watch _watch;
};

}  // namespace cg::control
