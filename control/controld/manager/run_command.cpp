#include "control/controld/manager/run_command.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <memory>

#include <fmt/format.h>

extern char** environ;

namespace cg::control {

namespace asio = boost::asio;

namespace {

struct run : std::enable_shared_from_this<run> {
    run(asio::io_context& io, std::size_t max, std::function<void(command_result)> d)
        : pipe(io), timer(io), reaper(io), max_output(max), done(std::move(d)) {}

    asio::posix::stream_descriptor pipe;
    asio::steady_timer timer, reaper;
    std::size_t max_output;
    std::function<void(command_result)> done;
    pid_t pid = -1;
    std::string output;
    std::array<char, 16 * 1024> chunk{};  // a state backup runs through it too: megabytes
    std::optional<std::string> failure;
    bool finished = false;

    void read() {
        auto self = shared_from_this();
        pipe.async_read_some(asio::buffer(chunk), [self](const boost::system::error_code& ec, std::size_t n) {
            if (!ec) {
                if (self->output.size() + n > self->max_output) {
                    self->failure = fmt::format("more than {} bytes of output", self->max_output);
                    ::kill(-self->pid, SIGKILL);
                } else {
                    self->output.append(self->chunk.data(), n);
                    return self->read();
                }
            }
            self->timer.cancel();
            self->wait_exit();
        });
    }

    /// Output closed (or the command was killed): collect its status.
    void wait_exit() {
        int status = 0;
        const pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == 0) {  // closed its output but still running: look again shortly
            auto self = shared_from_this();
            reaper.expires_after(std::chrono::milliseconds(5));
            reaper.async_wait([self](const boost::system::error_code&) { self->wait_exit(); });
            return;
        }
        if (finished) return;
        finished = true;
        if (failure) return done({false, std::move(output), *failure});
        if (r == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
            return done({false, std::move(output),
                         WIFEXITED(status) ? fmt::format("exit status {}", WEXITSTATUS(status))
                                           : fmt::format("killed by signal {}", WTERMSIG(status))});
        done({true, std::move(output), {}});
    }
};

}  // namespace

void run_command(asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
                 std::size_t max_output, std::function<void(command_result)> done) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return done({false, {}, fmt::format("pipe: {}", std::strerror(errno))});
    posix_spawn_file_actions_t fa;
    ::posix_spawn_file_actions_init(&fa);
    ::posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    // None of controld's sockets: a command that outlives it must not hold its ports.
    ::posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
    std::string sh = "/bin/sh", dash_c = "-c", cmd = command;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    // Its own process group, so that a timeout kills what it started too.
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    ::posix_spawnattr_setpgroup(&attr, 0);
    pid_t pid = -1;
    const int rc = ::posix_spawn(&pid, argv[0], &fa, &attr, argv, environ);
    ::posix_spawnattr_destroy(&attr);
    ::posix_spawn_file_actions_destroy(&fa);
    ::close(fds[1]);
    if (rc != 0) {
        ::close(fds[0]);
        return done({false, {}, fmt::format("cannot run /bin/sh: {}", std::strerror(rc))});
    }
    auto r = std::make_shared<run>(io, max_output, std::move(done));
    r->pid = pid;
    r->pipe.assign(fds[0]);
    r->timer.expires_after(timeout);
    r->timer.async_wait([r](const boost::system::error_code& ec) {
        if (ec) return;
        r->failure = "timeout";
        ::kill(-r->pid, SIGKILL);  // its output closes: read() ends and collects it
    });
    r->read();
}

}  // namespace cg::control
