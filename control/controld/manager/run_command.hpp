// A shell command run without blocking controld: `/bin/sh -c <command>` in
// its own process group, none of controld's descriptors, stdin from
// /dev/null, its standard output collected (up to a bound). A command that
// outlives its timeout is killed with everything it started in its group.
// User metrics (command_metric.hpp) and the pair's auto-heal start command
// (pair/pair_peer.hpp) run through it.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

namespace cg::control {

struct command_result {
    bool ok = false;     ///< exited with status 0 in time
    std::string output;  ///< its standard output
    std::string why;     ///< when not ok: "exit status 2", "killed by signal 9", "timeout", ...
};

/// Runs `command`; `done` is called once, on `io`. More than `max_output`
/// bytes of output kill it ("more than N bytes of output").
void run_command(boost::asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
                 std::size_t max_output, std::function<void(command_result)> done);

}  // namespace cg::control
