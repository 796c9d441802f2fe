// The supervisor (control/controld/supervisor.cpp) with real child processes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

#include <cstdio>

#include "control/controld/supervisor.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;

TEST_CASE("the supervisor starts its program again when it dies, and stops it", "[control][supervisor]") {
    asio::io_context io;
    std::vector<pid_t> started;
    std::vector<std::string> deaths;
    std::vector<failure> kinds;
    const auto on_exit = [&](failure kind, const std::string& why) {
        kinds.push_back(kind);
        deaths.push_back(why);
        return true;
    };
    supervisor sup(io, {"/bin/sleep", "30"}, [&](pid_t p) { started.push_back(p); }, on_exit);
    sup.start();
    REQUIRE(started.size() == 1);
    ::kill(started[0], SIGKILL);
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (started.size() < 2 && std::chrono::steady_clock::now() < until) io.run_for(20ms);
    REQUIRE(started.size() == 2);
    CHECK(started[1] != started[0]);
    REQUIRE(deaths.size() == 1);
    CHECK_THAT(deaths[0], Catch::Contains("killed by signal 9"));
    CHECK(kinds[0] == failure::died);
    sup.stop();
    CHECK(::kill(started[1], 0) != 0);  // gone, and reaped
    CHECK(sup.pid() == -1);

    supervisor missing(io, {"/nonexistent/gatewayd"}, [](pid_t) {}, on_exit);
    missing.start();
    REQUIRE(deaths.size() == 2);
    CHECK_THAT(deaths[1], Catch::Contains("could not start"));
    CHECK(kinds[1] == failure::start_failed);
}

TEST_CASE("a child killed as hung is told as hung; an exit handler can hold the restart back", "[control][supervisor]") {
    asio::io_context io;
    std::vector<pid_t> started;
    std::vector<std::pair<failure, std::string>> deaths;
    bool restart = false;
    supervisor sup(io, {"/bin/sleep", "30"}, [&](pid_t p) { started.push_back(p); },
                   [&](failure kind, const std::string& why) {
                       deaths.emplace_back(kind, why);
                       return restart;
                   });
    sup.start();
    REQUIRE(started.size() == 1);
    ::kill(started[0], SIGSTOP);  // as the system test's hung gatewayd
    sup.kill_as(failure::hung, "its control socket silent for 1000 ms");
    sup.kill_as(failure::hung, "again");  // one kill is enough: said once
    auto until = std::chrono::steady_clock::now() + 5s;
    while (deaths.empty() && std::chrono::steady_clock::now() < until) io.run_for(20ms);
    REQUIRE(deaths.size() == 1);
    CHECK(deaths[0].first == failure::hung);
    CHECK(deaths[0].second == "its control socket silent for 1000 ms; killed by signal 9 (Killed)");
    io.run_for(200ms);
    CHECK(started.size() == 1);  // the handler said no restart
    CHECK(sup.pid() == -1);
    restart = true;
    sup.start_again();
    REQUIRE(started.size() == 2);
    ::kill(started[1], SIGKILL);  // an ordinary death again: told as died
    until = std::chrono::steady_clock::now() + 5s;
    while (started.size() < 3 && std::chrono::steady_clock::now() < until) io.run_for(20ms);
    REQUIRE(deaths.size() == 2);
    CHECK(deaths[1].first == failure::died);
    CHECK(deaths[1].second == "killed by signal 9 (Killed)");
    sup.stop();
    sup.kill_as(failure::hung, "");  // no child: nothing
    CHECK(sup.pid() == -1);
}

namespace {

/// A `sleep 30` that is not our child: its shell parent exits at once, so
/// it belongs to init, as a gatewayd whose controld died does.
pid_t orphan_sleep() {
    FILE* f = ::popen("/bin/sleep 30 >/dev/null 2>&1 & echo $!", "r");
    REQUIRE(f);
    int pid = 0;
    REQUIRE(std::fscanf(f, "%d", &pid) == 1);
    ::pclose(f);
    return pid;
}

}  // namespace

TEST_CASE("an adopted process that is not our child: its death is seen and it is started again",
          "[control][supervisor]") {
    asio::io_context io;
    std::vector<pid_t> started;
    std::vector<std::pair<failure, std::string>> deaths;
    supervisor sup(io, {"/bin/sleep", "30"}, [&](pid_t p) { started.push_back(p); },
                   [&](failure kind, const std::string& why) {
                       deaths.emplace_back(kind, why);
                       return true;
                   });
    const pid_t orphan = orphan_sleep();
    REQUIRE(sup.adopt(orphan));
    CHECK(sup.pid() == orphan);
    CHECK(started.empty());  // adopted, not started
    io.run_for(50ms);
    CHECK(deaths.empty());  // alive: nothing told
    ::kill(orphan, SIGKILL);
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (started.empty() && std::chrono::steady_clock::now() < until) io.run_for(20ms);
    REQUIRE(deaths.size() == 1);
    CHECK(deaths[0].first == failure::died);
    CHECK_THAT(deaths[0].second, Catch::Contains("adopted"));
    REQUIRE(started.size() == 1);  // started again as a child of ours
    CHECK(started[0] != orphan);
    CHECK(sup.pid() == started[0]);
    sup.stop();
    CHECK(sup.pid() == -1);

    // Stopped while adopted: SIGTERM, and its end seen through the pidfd.
    supervisor other(io, {"/bin/sleep", "30"}, [](pid_t) {}, [](failure, const std::string&) { return true; });
    const pid_t second = orphan_sleep();
    REQUIRE(other.adopt(second));
    const auto t0 = std::chrono::steady_clock::now();
    other.stop();
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);  // not the 5 s SIGKILL fallback
    CHECK(other.pid() == -1);
    CHECK_FALSE(other.adopt(2'000'000'000));  // no such process
}

TEST_CASE("a child's end is told as its exit status or its signal", "[control][supervisor]") {
    CHECK(describe_status(W_EXITCODE(0, 0)) == "exited with status 0");
    CHECK(describe_status(W_EXITCODE(3, 0)) == "exited with status 3");
    CHECK(describe_status(W_EXITCODE(0, SIGKILL)) == "killed by signal 9 (Killed)");
    CHECK(describe_status(W_EXITCODE(0, SIGSEGV)) == "killed by signal 11 (Segmentation fault)");
    CHECK(describe_status(W_STOPCODE(SIGSTOP)) == "ended with wait status 0x137f");
    CHECK(failure_of(W_EXITCODE(0, SIGKILL)) == failure::died);
    CHECK(failure_of(W_EXITCODE(3, 0)) == failure::exited);
    CHECK(failure_of(W_EXITCODE(0, 0)) == failure::exited);  // nobody asked it to
}
