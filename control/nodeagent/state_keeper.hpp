// The node's side of the state backups (requirements 7.3; docs/operations.md
// "State backups"): on controld's backup query, the agent runs the
// configured backup command and hands its standard output over as the
// node's state; on a spare, given a failed node's state, it runs the
// configured restore command with that state on its standard input (and in
// the file $CG_STATE_FILE; $CG_FAILED_NODE and $CG_STATE_TAKEN_MS say whose
// it is and when it was taken). `--state-dir DIR` is the common case spelled
// out: the backup is `tar -C DIR -cf - .`, the restore `tar -C DIR -xf -`.
//
// Both run as /bin/sh commands without blocking the agent (run_command.hpp),
// each within the timeout; one at a time (a query that finds one under way
// is answered with an error).
//
// Thread-safety: none; runs on nodeagent's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/net_types.hpp"
#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct state_commands {
    std::string backup;   ///< its standard output is the node's state; empty: this node keeps none
    std::string restore;  ///< takes a state on its standard input; empty: this node restores none
    std::chrono::milliseconds timeout{30'000};
    std::string tmp_dir = "/tmp";  ///< where a state to restore is written for the command
};

/// The commands of `--state-dir dir`.
state_commands state_dir_commands(const std::string& dir);

/// A backup: the state, when it was taken, or why there is none.
struct taken_state {
    std::vector<std::uint8_t> bytes;
    std::uint64_t taken_ms = 0;  ///< wall clock, when the command started
    std::string error;
};

class state_keeper {
public:
    state_keeper(boost::asio::io_context& io, state_commands c) : _io(io), _c(std::move(c)) {}

    /// Runs the backup command (at most `max_bytes` of output); `done` once.
    void backup(std::size_t max_bytes, std::function<void(taken_state)> done);
    /// Runs the restore command on `failed`'s state; `done` once.
    void restore(common::ipv4_addr failed, std::vector<std::uint8_t> bytes, std::uint64_t taken_ms,
                 std::function<void(shadow::state_restored)> done);

    struct counts {
        std::uint64_t backups = 0, backup_errors = 0, restores = 0, restore_errors = 0;
    };
    const counts& counters() const { return _n; }

private:
    boost::asio::io_context& _io;
    state_commands _c;
    bool _busy = false;
    counts _n;
};

}  // namespace cg::control
