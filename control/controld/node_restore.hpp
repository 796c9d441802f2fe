// A failed node's connections carried on by its spare (requirements 6.4;
// docs/architecture.md "Carrying a failed node's connections on"), before
// the node is marked failed and the rest of its clients are reset:
//  1. asks gatewayd for the node's restore plans, every page of every
//     parser lcore (restore_plans_pages: what its mirror parser knows), and
//     takes them most recently used first;
//  2. hands them to the spare's agent in restores of at most
//     shadow::max_restore_conns connections and one frame each, one after
//     the other (the agent takes one position after another from this
//     querier), each within the deadline plus per_conn_allowance per
//     connection; the agent re-creates each connection's socket and bridges
//     it to its local service, and says which it could;
//  3. moves each restore's restored connections' entries to the spare in
//     gatewayd as its answer comes (bulk insert, replacing; beside the
//     spare's next restore), so that their next segments reach the socket
//     that now exists there, and not before, nor after the whole node.
// Whatever fails, `done` is called once; what was not moved stays the
// node's, and the caller's fail mark resets it as any failed node's. A
// spare that fails itself meanwhile (abandon) ends its restores at once:
// nothing more is asked of it or moved to it, and what it was asked is
// counted not restored.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/ctl_msg.hpp"
#include "common/restore_plans_pages.hpp"
#include "control/controld/conn_restore.hpp"
#include "control/controld/gw_link.hpp"
#include "control/controld/spare_ask.hpp"

namespace cg::control {

class node_restore {
public:
    /// What became of one node's connections: the view `show restore`
    /// lists (at_ms, the counts, the reasons, each step's ms).
    using outcome = common::api::node_restore_view;

    /// What a spare may take per connection of a restore, on top of the
    /// deadline: it connects to its service and repairs each before it answers.
    static constexpr std::chrono::milliseconds per_conn_allowance{10};

    /// `seq` signs the restores (its position sequence and key, options'
    /// querier and shadow_port); `deadline` bounds each step.
    node_restore(boost::asio::io_context& io, gw_link& link, conn_restore& seq, std::chrono::milliseconds deadline)
        : _io(io), _link(link), _seq(seq), _deadline(deadline) {}

    void run(common::ipv4_addr node, common::ipv4_addr spare, std::function<void(outcome)> done);
    /// `spare` failed: each restore onto it under way ends now (its `done`
    /// called, with the error); the answers still to come are ignored.
    /// Returns how many ended.
    std::size_t abandon(common::ipv4_addr spare);

private:
    struct state;
    void ask_plans(std::shared_ptr<state> s);
    void restore_next(std::shared_ptr<state> s);
    void move(std::shared_ptr<state> s);
    void finish(std::shared_ptr<state> s);

    boost::asio::io_context& _io;
    gw_link& _link;
    conn_restore& _seq;
    std::chrono::milliseconds _deadline;
    std::vector<std::weak_ptr<state>> _running;  ///< the restores under way (abandon's)
};

}  // namespace cg::control
