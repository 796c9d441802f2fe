// Alive monitoring of the server nodes (requirements 6.3; docs/operations.md
// "A node fails"): each node's agent sends a sign of life every 20 ms
// (agent::alive) beside its reports; a node heard from before and silent
// for `timeout` is failed, and live again once heard from. controld marks
// a failed node in gatewayd (fail_node_req: its clients are reset and
// reconnect to live nodes) and lifts the mark when it is back.
//
// Only a node whose agent has spoken once can fail: a node without an agent
// is never judged by this. An agent that dies while its node serves makes
// the node failed too: the agent is the node's witness (and its shadow
// table for a takeover), and the operator is told which it was by the log.
//
// Pure: times in, changes out. Owned by controld; its event loop calls it.
// Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "common/net_types.hpp"

namespace cg::control {

class alive_monitor {
public:
    using clock = std::chrono::steady_clock;

    /// A node that went failed (silent for the timeout) or live again.
    struct change {
        common::ipv4_addr node = 0;
        bool failed = false;
        std::chrono::milliseconds silent{0};  ///< how long it had been silent (failed), or was (live again)
        friend bool operator==(const change&, const change&) = default;
    };

    /// `timeout` > 0.
    explicit alive_monitor(std::chrono::milliseconds timeout) noexcept : _timeout(timeout) {}

    /// Any authenticated datagram from `node`'s agent, at `now`.
    void heard(common::ipv4_addr node, clock::time_point now);

    /// The nodes that changed since the last call: newly silent for the
    /// timeout, and failed ones heard from again (once each).
    std::vector<change> check(clock::time_point now);

    /// The nodes failed now (to mark again in a restarted gatewayd).
    const std::set<common::ipv4_addr>& failed() const noexcept { return _failed; }
    std::chrono::milliseconds timeout() const noexcept { return _timeout; }

    /// How many times a node was found failed, and found back.
    std::uint64_t failures() const noexcept { return _failures; }
    std::uint64_t recoveries() const noexcept { return _recoveries; }

private:
    struct node {
        clock::time_point last;      ///< heard last
        clock::time_point silent_since;  ///< when it was judged failed: its last sign before that
    };

    std::chrono::milliseconds _timeout;
    std::map<common::ipv4_addr, node> _nodes;
    std::set<common::ipv4_addr> _failed;
    std::uint64_t _failures = 0, _recoveries = 0;
};

}  // namespace cg::control
