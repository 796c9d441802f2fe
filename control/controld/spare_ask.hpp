// controld's side of a restore (requirements 6.4, shadow_msg.hpp types 3
// and 4): hands a spare's agent the connections of a failed node to carry
// on, over TCP, and takes its one answer (an outcome per connection),
// checked (open_restored), within a deadline.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct spare_answer {
    std::vector<shadow::restore_outcome> outcomes;  ///< one per connection asked, when ok()
    std::string error;                              ///< why there is none
    bool ok() const { return error.empty(); }
};

/// Sends `r` to the agent of `spare` listening at `agent`, signed by
/// `querier` at `at` (the querier's sequence, shared with its takeover
/// queries: conn_restore::next_position). Calls `done` exactly once.
void ask_spare(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& agent, common::ipv4_addr spare,
               const shadow::key& k, common::ipv4_addr querier, auth::position at, shadow::restore r,
               std::chrono::milliseconds deadline, std::function<void(spare_answer)> done);

}  // namespace cg::control
