// controld's hold on its gatewayd: starts it, notices at once when it dies
// (SIGCHLD), and starts it again: at once after a death, with a growing
// pause when it keeps dying young (each within 10 s of its start: 1 s, 2 s,
// 4 s... up to 30 s). Each death goes to `on_exit` with its kind first, so
// that controld takes it up the escalation ladder (escalation.hpp) and
// prepares the rung's recovery (recovery_plan.hpp) before the start; or
// says not to start it (controld restarts itself, PH2.5). A child that
// controld found hung is killed through kill_as(), and its death told as
// `hung`.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/controld/escalation.hpp"

namespace cg::control {

class supervisor {
public:
    /// `argv[0]` is the program. `on_start(pid)` runs after each start,
    /// `on_exit(kind, description)` after each death (died, exited, hung)
    /// or failed start (start_failed), before the restart is planned; it
    /// returns false to have no restart (start_again() starts it later).
    using exit_handler = std::function<bool(failure, const std::string&)>;
    supervisor(boost::asio::io_context& io, std::vector<std::string> argv, std::function<void(pid_t)> on_start,
               exit_handler on_exit);
    ~supervisor();  ///< stops the child (SIGTERM, then SIGKILL after 5 s)

    void start();
    /// Takes over `pid`, a gatewayd that an earlier controld started and
    /// that outlived it: not our child, so its death is seen through a
    /// pidfd (its exit status is not ours to read) and handled like a
    /// child's. False (nothing done) when the process is gone already.
    bool adopt(pid_t pid);
    /// Stops the child and does not start it again.
    void stop();
    /// SIGKILL to the child; its death goes to on_exit as `kind`, with `why`
    /// before the signal in its description. Nothing without a child.
    void kill_as(failure kind, std::string why);
    /// Starts the child after an on_exit that said not to.
    void start_again();

    pid_t pid() const { return _pid; }
    unsigned starts() const { return _starts; }
    unsigned deaths() const { return _deaths; }

private:
    void spawn();
    void watch();
    void reap();
    void watch_adopted();
    /// After the death of the child (or the adopted process): on_exit, and
    /// the restart with its pause.
    void died(failure kind, const std::string& why);

    boost::asio::io_context& _io;
    std::vector<std::string> _argv;
    std::function<void(pid_t)> _on_start;
    exit_handler _on_exit;
    boost::asio::signal_set _sigchld;
    boost::asio::steady_timer _restart;
    pid_t _pid = -1;
    bool _adopted = false;  ///< _pid is not our child (adopt())
    boost::asio::posix::stream_descriptor _pidfd;  ///< the adopted process's, readable once it has ended
    bool _stopping = false;
    std::optional<std::pair<failure, std::string>> _killed_as;  ///< kill_as() of the running child
    unsigned _starts = 0, _deaths = 0;
    unsigned _quick_deaths = 0;  ///< deaths in a row, each within 10 s of its start
    std::chrono::steady_clock::time_point _started{};
};

/// "exited with status 1", "killed by signal 9 (Killed)".
std::string describe_status(int status);
/// died (a signal) or exited, for a wait status.
failure failure_of(int status);

}  // namespace cg::control
