// controld's side of the takeover query (requirements 5.3, shadow_msg.hpp): asks one
// node's agent for its shadow connection table over TCP and collects the
// answer's chunks, each checked (answer_collector), within a deadline.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct shadow_request {
    common::ipv4_addr querier = 0;  ///< this gateway's address: the query's sender
    std::uint64_t epoch = 0;        ///< grows with every start of the querier
    std::uint64_t seq = 0;          ///< grows with every query in an epoch
    std::vector<common::ipv4_addr> clusters;
    bool wildcard = false;
};

struct shadow_result {
    std::vector<shadow::socket_entry> entries;  ///< the node's table, when ok()
    std::uint32_t chunks = 0;                   ///< chunks taken
    std::string error;                          ///< why there is no table; empty when ok()
    std::optional<shadow::refusal> refusal;     ///< when a frame of the answer was refused
    bool ok() const { return error.empty(); }
};

/// However fast its chunks come, an answer that takes longer than this is given up.
inline constexpr std::chrono::milliseconds max_answer_time{30'000};

/// Asks the agent listening at `agent`, whose chunks name `node` (its
/// --node address), for its sockets on the request's clusters. Calls `done`
/// exactly once: with the whole table, or with why not (connection refused,
/// a refused frame, the agent closed before the last chunk, `silence` without
/// a chunk, or max_answer_time in all). A node that streams a large table is
/// alive: each chunk gives it `silence` more.
void query_shadow_table(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& agent,
                        common::ipv4_addr node, const shadow::key& k, const shadow_request& req,
                        std::chrono::milliseconds silence, std::function<void(shadow_result)> done);

}  // namespace cg::control
