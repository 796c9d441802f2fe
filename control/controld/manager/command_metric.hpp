// User metrics (requirements 4.4): `/bin/sh -c <command>` with {node} replaced by
// the node's address; its standard output, a number 0 or more, is the
// metric. A command that fails, prints something else, or outlives its
// timeout (it is killed) gives no value, and the reason.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/net_types.hpp"

namespace cg::control {

struct command_outcome {
    std::optional<double> value;
    std::string why;  ///< for no value: "exit status 2", "timeout", "output 'abc' is not a number"
};

/// `command` with every {node} replaced by the address.
std::string expand_command(const std::string& command, common::ipv4_addr node);

/// The number a command printed: surrounding blanks and one final newline
/// allowed, nothing else.
std::optional<double> parse_command_output(std::string_view out);

void run_command_metric(boost::asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
                        std::function<void(command_outcome)> done);

}  // namespace cg::control
