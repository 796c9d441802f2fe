#include "control/controld/supervisor.hpp"

#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
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

namespace {

/// The process of `pidfd` has ended. Not kill(pid, 0): an adopted process
/// that ended stays a zombie until init (which may not reap) collects it.
bool ended(int pidfd) {
    pollfd p{pidfd, POLLIN, 0};
    return ::poll(&p, 1, 0) == 1;
}

}  // namespace

supervisor::supervisor(boost::asio::io_context& io, std::vector<std::string> argv, std::function<void(pid_t)> on_start,
                       exit_handler on_exit)
    : _io(io),
      _argv(std::move(argv)),
      _on_start(std::move(on_start)),
      _on_exit(std::move(on_exit)),
      _sigchld(io, SIGCHLD),
      _restart(io),
      _pidfd(io) {}

supervisor::~supervisor() { stop(); }

void supervisor::start() {
    watch();
    spawn();
}

bool supervisor::adopt(pid_t pid) {
    const int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd < 0) return false;
    watch();  // SIGCHLD of later children
    _pidfd.assign(fd);
    _pid = pid;
    _adopted = true;
    _started = std::chrono::steady_clock::now();
    log::info("adopted {} (pid {}), started by an earlier controld", _argv[0], pid);
    watch_adopted();
    return true;
}

void supervisor::watch_adopted() {
    _pidfd.async_wait(boost::asio::posix::stream_descriptor::wait_read, [this](const boost::system::error_code& ec) {
        if (ec || !_adopted) return;
        _pidfd.close();
        _adopted = false;
        const auto killed_as = std::exchange(_killed_as, std::nullopt);
        const std::string ended = "ended (adopted: its exit status went to init)";
        _pid = -1;
        ++_deaths;
        if (_stopping) return;
        died(killed_as ? killed_as->first : failure::died, killed_as ? killed_as->second + "; " + ended : ended);
    });
}

void supervisor::spawn() {
    std::vector<char*> args;
    for (auto& a : _argv) args.push_back(a.data());
    args.push_back(nullptr);
    pid_t pid = -1;
    // gatewayd gets none of controld's descriptors: it may outlive this
    // controld, and the next one must bind the same sockets.
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    const int rc = ::posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
    ::posix_spawn_file_actions_destroy(&fa);
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
    if (_pid <= 0 || _adopted) return;  // an adopted process's end comes through its pidfd
    int status = 0;
    if (::waitpid(_pid, &status, WNOHANG) != _pid) return;  // another child of ours (a user metric's command)
    const auto killed_as = std::exchange(_killed_as, std::nullopt);
    const std::string why = killed_as ? fmt::format("{}; {}", killed_as->second, describe_status(status))
                                      : describe_status(status);
    _pid = -1;
    ++_deaths;
    if (_stopping) return;
    died(killed_as ? killed_as->first : failure_of(status), why);
}

void supervisor::died(failure kind, const std::string& why) {
    const auto lived = std::chrono::steady_clock::now() - _started;
    // The first death restarts at once; deaths in a row, each within 10 s
    // of its start, wait 1 s, 2 s, 4 s... up to 30 s.
    _quick_deaths = lived < 10s ? _quick_deaths + 1 : 0;
    const std::chrono::seconds pause =
        _quick_deaths <= 1 ? 0s : std::min<std::chrono::seconds>(1s * (1 << std::min(_quick_deaths - 2, 5u)), 30s);
    log::warn("{} {} after {} ms", _argv[0], why, std::chrono::duration_cast<std::chrono::milliseconds>(lived).count());
    if (!_on_exit(kind, why)) return;
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
    const auto forget = [this] {
        _pid = -1;
        _adopted = false;
        if (_pidfd.is_open()) _pidfd.close();
    };
    for (int i = 0; i < 500; ++i) {
        int status = 0;
        if (_adopted ? ended(_pidfd.native_handle()) : ::waitpid(_pid, &status, WNOHANG) == _pid) {
            log::info("{} {}", _argv[0], _adopted ? "ended (adopted)" : describe_status(status));
            forget();
            return;
        }
        std::this_thread::sleep_for(10ms);
    }
    log::warn("{} did not stop within 5 s of SIGTERM: SIGKILL", _argv[0]);
    ::kill(_pid, SIGKILL);
    if (!_adopted) ::waitpid(_pid, nullptr, 0);
    forget();
}

}  // namespace cg::control
