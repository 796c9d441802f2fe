// Alive monitoring of the server nodes (requirements 6.3; docs/operations.md
// "A node fails"): each node's agent sends a sign of life every 20 ms
// (agent::alive) beside its reports; a node heard from before and silent
// for `timeout` is failed, and live again once heard from. controld marks
// a failed node in gatewayd (fail_node_req: its clients are reset and
// reconnect to live nodes) and lifts the mark when it is back.
//
// A node is failed too while one of its terminators (its front-ends, the
// spares table's `terminators`) reports it unreachable (agent::upstream,
// requirements 7.2), even if its own agent speaks: the front-end cannot
// reach it, so its clients cannot either. Such a report holds while its
// terminator is live (heard within the timeout): a silent terminator's word
// lapses, and so does its last report.
//
// A node is failed too while gatewayd's mirror parser sees its clients
// retransmit to it with no frame from it since (for manager.agents.
// mirror_silence): its kernel no longer acknowledges. That holds until the
// mirror hears it again, whatever its agent says.
//
// Only a node whose agent has spoken once, or that a terminator reported,
// can fail: a node without either is never judged by this. An agent that dies while its node serves makes
// the node failed too: the agent is the node's witness (and its shadow
// table for a takeover), and the operator is told which it was by the log.
//
// Pure: times in, changes out. Owned by controld; its event loop calls it.
// Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
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
        std::chrono::milliseconds silent{0};  ///< how long it had been silent (failed), or was failed (live again)
        common::ipv4_addr reporter = 0;  ///< failed by a terminator's report: that terminator (0: silent)
        bool by_mirror = false;          ///< failed by the mirror (silent: how long its clients had retransmitted)
        friend bool operator==(const change&, const change&) = default;
    };

    /// `timeout` > 0.
    explicit alive_monitor(std::chrono::milliseconds timeout) noexcept : _timeout(timeout) {}

    /// Any authenticated datagram from `node`'s agent, at `now`.
    void heard(common::ipv4_addr node, clock::time_point now);

    /// A terminator's verdict on its server (agent::upstream) at `now`:
    /// `reporter` says `server` cannot be reached (`unreachable`), or can.
    /// The caller checks that `reporter` is a terminator of `server`.
    void reported(common::ipv4_addr reporter, common::ipv4_addr server, bool unreachable, clock::time_point now);

    /// What the mirror shows now: the nodes whose clients have been
    /// retransmitting to them for the mirror's timeout, with no frame from
    /// them since, and for how long; every other node is not (any more).
    void mirrored(const std::map<common::ipv4_addr, std::chrono::milliseconds>& silent, clock::time_point now);
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
        bool agent = false;          ///< its own agent was heard (silence counts)
        std::set<common::ipv4_addr> unreachable_by;  ///< terminators whose last report says unreachable
        std::optional<std::chrono::milliseconds> mirror_silent;  ///< the mirror's clients retransmitting for
    };

    /// The first terminator of `n` that is live at `now` and says it is unreachable, or 0.
    common::ipv4_addr reporter_of(const node& n, clock::time_point now) const;

    std::chrono::milliseconds _timeout;
    std::map<common::ipv4_addr, node> _nodes;
    std::set<common::ipv4_addr> _failed;
    std::uint64_t _failures = 0, _recoveries = 0;
};

}  // namespace cg::control
