// The working nodes' state backups (requirements 7.3; docs/operations.md
// "State backups"): every `every`, controld asks the agent of each working
// node that has a spare for the node's state (shadow_msg.hpp's backup
// query; the agent runs its --backup-command and streams the output back in
// chunks), and keeps the last `keep` of each node on disk (state_store.hpp).
// When a node fails, its newest good state goes to the spare's agent (a
// state restore and its chunks), which runs its --restore-command on it and
// says how that went; the spare takes the node's connections after that.
//
// Every frame is signed with the agents' key and takes its place in the
// sequence of the takeover queries and restores (conn_restore's), which the
// agents check for freshness: a copy of an earlier backup or handover is
// refused.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/api.hpp"
#include "common/config.hpp"
#include "control/controld/conn_restore.hpp"
#include "control/controld/state_store.hpp"

namespace cg::control {

class state_backups {
public:
    /// What a spare started from: the state handed over and what its
    /// restore command said, or why there was none.
    struct handover {
        bool ok = false;
        std::string what;                      ///< in words, for show restore and the log
        std::optional<std::uint64_t> age_ms;   ///< the state's age when handed over
        std::uint32_t took_ms = 0;             ///< transfer and restore command
    };

    /// Signs with `seq`'s key and positions, asks the agents at
    /// seq.opts().shadow_port of each node.
    state_backups(boost::asio::io_context& io, conn_restore& seq, common::state_backups_cfg cfg);

    /// One round: asks each of `nodes` (the working nodes with a spare:
    /// node -> spare) for its state, except those whose last backup is
    /// still under way.
    void round(const std::map<common::ipv4_addr, common::ipv4_addr>& nodes);
    /// Hands `failed`'s newest good state to `spare`'s agent; `done` once.
    void hand_over(common::ipv4_addr failed, common::ipv4_addr spare, std::function<void(handover)> done);
    /// `spare` failed: each handover to it under way ends now, not
    /// restored (its `done` called); the agent's late answer is ignored.
    void abandon(common::ipv4_addr spare);

    common::api::state_rep view();
    const common::state_backups_cfg& config() const { return _cfg; }

    struct counts {
        std::uint64_t asked = 0, saved = 0, failed = 0, handed_over = 0, handover_failed = 0;
    };
    const counts& counters() const { return _n; }

private:
    struct node_status {
        common::ipv4_addr spare = 0;
        std::uint64_t tries = 0, saved = 0, failed = 0;
        std::string last_error;
        std::uint32_t last_took_ms = 0;
        bool busy = false;
    };
    struct pending_handover {
        common::ipv4_addr spare = 0;
        std::string what;
        std::uint64_t age_ms = 0;
        std::chrono::steady_clock::time_point t0;
        std::function<void(handover)> done;
        bool ended = false;
    };
    /// Ends `p` once: counted, `done` called with `error` (empty: restored).
    void end_handover(const std::shared_ptr<pending_handover>& p, std::string error);
    void backup(common::ipv4_addr node);
    boost::asio::ip::tcp::endpoint agent(common::ipv4_addr node) const;

    boost::asio::io_context& _io;
    conn_restore& _seq;
    common::state_backups_cfg _cfg;
    state_store _store;
    std::map<common::ipv4_addr, node_status> _nodes;
    std::vector<std::shared_ptr<pending_handover>> _handovers;  ///< under way
    counts _n;
};

}  // namespace cg::control
