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
    supervisor sup(io, {"/bin/sleep", "30"}, [&](pid_t p) { started.push_back(p); },
                   [&](const std::string& why) { deaths.push_back(why); });
    sup.start();
    REQUIRE(started.size() == 1);
    ::kill(started[0], SIGKILL);
    const auto until = std::chrono::steady_clock::now() + 5s;
    while (started.size() < 2 && std::chrono::steady_clock::now() < until) io.run_for(20ms);
    REQUIRE(started.size() == 2);
    CHECK(started[1] != started[0]);
    REQUIRE(deaths.size() == 1);
    CHECK_THAT(deaths[0], Catch::Contains("killed by signal 9"));
    sup.stop();
    CHECK(::kill(started[1], 0) != 0);  // gone, and reaped
    CHECK(sup.pid() == -1);

    supervisor missing(io, {"/nonexistent/gatewayd"}, [](pid_t) {}, [&](const std::string& why) { deaths.push_back(why); });
    missing.start();
    REQUIRE(deaths.size() == 2);
    CHECK_THAT(deaths[1], Catch::Contains("could not start"));
}

TEST_CASE("a child's end is told as its exit status or its signal", "[control][supervisor]") {
    CHECK(describe_status(W_EXITCODE(0, 0)) == "exited with status 0");
    CHECK(describe_status(W_EXITCODE(3, 0)) == "exited with status 3");
    CHECK(describe_status(W_EXITCODE(0, SIGKILL)) == "killed by signal 9 (Killed)");
    CHECK(describe_status(W_EXITCODE(0, SIGSEGV)) == "killed by signal 11 (Segmentation fault)");
    CHECK(describe_status(W_STOPCODE(SIGSTOP)) == "ended with wait status 0x137f");
}
