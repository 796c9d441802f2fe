// controld's hold on its gatewayd: starts it, notices at once when it dies
// (SIGCHLD), and starts it again: at once after a death, with a growing
// pause when it keeps dying young (each within 10 s of its start: 1 s, 2 s,
// 4 s... up to 30 s). The full escalation of requirements 8 grows from here.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

namespace cg::control {

class supervisor {
public:
    /// `argv[0]` is the program. `on_start(pid)` runs after each start,
    /// `on_exit(description)` after each death, before the restart is planned.
    supervisor(boost::asio::io_context& io, std::vector<std::string> argv, std::function<void(pid_t)> on_start,
               std::function<void(const std::string&)> on_exit);
    ~supervisor();  ///< stops the child (SIGTERM, then SIGKILL after 5 s)

    void start();
    /// Stops the child and does not start it again.
    void stop();

    pid_t pid() const { return _pid; }
    unsigned starts() const { return _starts; }
    unsigned deaths() const { return _deaths; }

private:
    void spawn();
    void watch();
    void reap();

    boost::asio::io_context& _io;
    std::vector<std::string> _argv;
    std::function<void(pid_t)> _on_start;
    std::function<void(const std::string&)> _on_exit;
    boost::asio::signal_set _sigchld;
    boost::asio::steady_timer _restart;
    pid_t _pid = -1;
    bool _stopping = false;
    unsigned _starts = 0, _deaths = 0;
    unsigned _quick_deaths = 0;  ///< deaths in a row, each within 10 s of its start
    std::chrono::steady_clock::time_point _started{};
};

/// "exited with status 1", "killed by signal 9 (Killed)".
std::string describe_status(int status);

}  // namespace cg::control
