// Gives a gatewayd that lost its connection table (restarted, started as
// standby) the connections the cluster still holds, then makes it active:
//  1. asks every node's agent for its sockets on the cluster addresses, all
//     in parallel (shadow_query.hpp); a node silent for the deadline
//     (before its answer's first chunk or between two) is presumed down,
//     and its connections are not put back;
//  2. merges the answers (shadow_merge.hpp);
//  3. puts them into gatewayd with bulk inserts of up to max_bulk_conns
//     records each, pipelined on the link (gw_link.hpp), a node's own
//     answer replacing whatever gatewayd may have made meanwhile;
//  4. sets gatewayd's role to active, whatever came of 1-3: a gateway that
//     forwards nothing is worse than one that lost some connections; for
//     `reset_window` after, it resets the connections nobody holds (their
//     node is down, or they ended meanwhile), so their clients reconnect at
//     once instead of hanging. A restore whose inserts failed opens no
//     window: a connection it did not put back may be alive; nor does a
//     hot table's reconcile (below) that heard from no node in
//     reconcile_tries passes.
//
// With a catch-up (a planned handover, while the old active still
// forwards): step 4 opens no reset window and `done` is called (the caller
// tells the old active, which stops forwarding); `after` later, 1-3 run
// once more, keeping what gatewayd has learned since it went active, then
// the window opens and the catch-up's `done` is called. So a connection
// opened through the old gateway until it stopped is not reset. With a hot
// table (catch_up::hot), step 4 comes first and 1-3 after, replacing.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/controld/gw_link.hpp"
#include "control/controld/shadow_merge.hpp"
#include "control/proto/shadow_msg.hpp"

namespace cg::control {

class conn_restore {
public:
    /// A followed table's reconcile that hears from no node asks again,
    /// this often, this far apart, before it gives up (and opens no window).
    static constexpr int reconcile_tries = 5;
    static constexpr std::chrono::milliseconds reconcile_pause{1000};

    struct options {
        shadow::key key;                ///< the agents' key
        common::ipv4_addr querier = 0;  ///< this controld's address, as the agents know it
        std::uint16_t shadow_port = 0;  ///< where every node's agent answers
        std::chrono::milliseconds deadline{1000};
        std::chrono::milliseconds reset_window{0};  ///< set_role_req::reset_unknown_ms
    };
    struct outcome {
        std::size_t nodes = 0, answered = 0;
        std::vector<std::string> failures;  ///< "198.18.0.12: connection refused", one per node that did not answer
        std::uint64_t sockets = 0;          ///< in all answers
        merged_conns merged;                ///< counts only: its conns are gone into gatewayd
        common::api::insert_conns_rep inserted;  ///< summed over the inserts
        common::api::insert_conns_rep caught_up;  ///< the catch-up pass's
        std::size_t inserts_failed = 0;     ///< bulk inserts gatewayd refused or did not answer
        bool active = false;                ///< gatewayd said yes to set_role active
        std::string no_window;              ///< why no reset window was opened; empty when it was
        std::string why_not_active;
        std::chrono::milliseconds took{0};  ///< from run() to gatewayd's answer to set_role
        std::chrono::milliseconds queried{0};  ///< from run() to the last node's answer (or deadline)
    };

    struct catch_up {
        std::chrono::milliseconds after{0};
        std::function<void(outcome)> done;
        /// gatewayd's table is hot already (it followed the active's
        /// mirror): make it active at once, without a first pass, then
        /// reconcile with the nodes' answers, which win on ownership.
        bool hot = false;
    };

    conn_restore(boost::asio::io_context& io, gw_link& link, options opt);

    /// The next position of this controld's sequence towards the agents'
    /// listeners. The agents keep one last position per querier, so a
    /// spare's restore (node_restore) takes its position from here too.
    auth::position next_position() { return {_epoch, ++_seq}; }
    const options& opts() const { return _opt; }

    /// One restore, of the connections `nodes` hold toward `clusters`; calls
    /// `done` once, on the io_context. One at a time: not again before done.
    void run(std::vector<common::ipv4_addr> nodes, std::vector<common::ipv4_addr> clusters,
             std::function<void(outcome)> done, std::optional<catch_up> later = std::nullopt);

private:
    struct state;
    void query_all(std::shared_ptr<state> s);
    void insert_all(std::shared_ptr<state> s);
    void activate(std::shared_ptr<state> s);

    boost::asio::io_context& _io;
    gw_link& _link;
    options _opt;
    std::uint64_t _epoch;  ///< this controld's start, in wall-clock ms: above any earlier one's
    std::uint64_t _seq = 0;
};

}  // namespace cg::control
