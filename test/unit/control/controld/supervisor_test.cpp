// The supervisor (control/controld/supervisor.cpp) with real child processes.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>

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
