#include "control/controld/supervisor.hpp"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <fmt/format.h>

#include "common/log.hpp"

extern char** environ;

namespace cg::control {

namespace log = common::log;
using namespace std::chrono_literals;

std::string describe_status(int status) {
    if (WIFEXITED(status)) return fmt::format("exited with status {}", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
    return fmt::format("ended with wait status {:#x}", status);
}

failure failure_of(int status) { return WIFSIGNALED(status) ? failure::died : failure::exited; }

supervisor::supervisor(boost::asio::io_context& io, std::vector<std::string> argv, std::function<void(pid_t)> on_start,
                       exit_handler on_exit)
    : _io(io),
      _argv(std::move(argv)),
      _on_start(std::move(on_start)),
      _on_exit(std::move(on_exit)),
      _sigchld(io, SIGCHLD),
      _restart(io) {}

supervisor::~supervisor() { stop(); }

void supervisor::start() {
    watch();
    spawn();
}

void supervisor::spawn() {
    std::vector<char*> args;
    for (auto& a : _argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
    ++_starts;
    _started = std::chrono::steady_clock::now();
    if (rc != 0) {
        // Reported like a death, so that the same pause and retry apply.
        log::error("cannot start {}: {}", _argv[0], std::strerror(rc));
        ++_deaths;
        if (!_on_exit(failure::start_failed, fmt::format("could not start: {}", std::strerror(rc)))) return;
        _restart.expires_after(std::chrono::seconds(std::min(30u, 1u << std::min(_quick_deaths++, 5u))));
        _restart.async_wait([this](const boost::system::error_code& ec) {
            if (!ec && !_stopping) spawn();
        });
        return;
    }
    _pid = pid;
    log::info("started {} (pid {})", _argv[0], pid);
    _on_start(pid);
}

void supervisor::watch() {
    _sigchld.async_wait([this](const boost::system::error_code& ec, int) {
        if (ec) return;
        reap();
        watch();
    });
}

void supervisor::reap() {
    if (_pid <= 0) return;
    int status = 0;
    if (::waitpid(_pid, &status, WNOHANG) != _pid) return;  // another child of ours (a user metric's command)
    const auto killed_as = std::exchange(_killed_as, std::nullopt);
    const std::string why = killed_as ? fmt::format("{}; {}", killed_as->second, describe_status(status))
                                      : describe_status(status);
    _pid = -1;
    ++_deaths;
    if (_stopping) return;
    const auto lived = std::chrono::steady_clock::now() - _started;
    // The first death restarts at once; deaths in a row, each within 10 s
    // of its start, wait 1 s, 2 s, 4 s... up to 30 s.
    _quick_deaths = lived < 10s ? _quick_deaths + 1 : 0;
    const std::chrono::seconds pause =
        _quick_deaths <= 1 ? 0s : std::min<std::chrono::seconds>(1s * (1 << std::min(_quick_deaths - 2, 5u)), 30s);
    log::warn("{} {} after {} ms", _argv[0], why, std::chrono::duration_cast<std::chrono::milliseconds>(lived).count());
    if (!_on_exit(killed_as ? killed_as->first : failure_of(status), why)) return;
    if (pause.count()) log::info("starting {} again in {} s ({} deaths in a row, each young)", _argv[0], pause.count(), _quick_deaths);
    _restart.expires_after(pause);
    _restart.async_wait([this](const boost::system::error_code& ec) {
        if (!ec && !_stopping) spawn();
    });
}

void supervisor::kill_as(failure kind, std::string why) {
    if (_pid <= 0 || _killed_as) return;
    _killed_as.emplace(kind, std::move(why));
    ::kill(_pid, SIGKILL);
}

void supervisor::start_again() {
    if (_pid <= 0 && !_stopping) spawn();
}

void supervisor::stop() {
    _stopping = true;
    _restart.cancel();
    if (_pid <= 0) return;
    ::kill(_pid, SIGTERM);
    for (int i = 0; i < 500; ++i) {
        int status = 0;
        if (::waitpid(_pid, &status, WNOHANG) == _pid) {
            log::info("{} {}", _argv[0], describe_status(status));
            _pid = -1;
            return;
        }
        std::this_thread::sleep_for(10ms);
    }
    log::warn("{} did not stop within 5 s of SIGTERM: SIGKILL", _argv[0]);
    ::kill(_pid, SIGKILL);
    ::waitpid(_pid, nullptr, 0);
    _pid = -1;
}

}  // namespace cg::control
