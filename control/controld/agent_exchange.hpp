// One exchange of controld with a node's agent over its shadow listener
// (shadow_msg.hpp): connect, send the request's frames, then read frames
// and give each to the caller's reader until it says the answer is whole;
// all within a deadline. The restore of a failed node's connections
// (spare_ask.hpp) and the state backups (state_backups.hpp) run through it.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

namespace cg::control {

/// What the reader makes of one frame of the answer.
struct frame_verdict {
    bool whole = false;  ///< the answer is complete: the exchange ends well
    std::string error;   ///< refused: the exchange ends with it
};
using frame_reader = std::function<frame_verdict(std::span<const std::uint8_t> frame)>;

/// Sends `request` (whole frames, back to back) to the agent at `agent`
/// and reads the answer's frames into `read`. `done` is called exactly
/// once: with "" when `read` said whole, else with why not ("connect: ...",
/// "no answer within 500 ms", "the agent closed the connection ...", the
/// reader's error). `what` names the request in those texts ("the restore").
void exchange_with_agent(boost::asio::io_context& io, const boost::asio::ip::tcp::endpoint& agent,
                         std::vector<std::uint8_t> request, std::chrono::milliseconds deadline, std::string what,
                         frame_reader read, std::function<void(std::string error)> done);

}  // namespace cg::control
