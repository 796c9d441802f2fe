// User metric commands (control/controld/manager/command_metric.cpp), run for real.
#include <catch2/catch.hpp>

#include <optional>

#include "control/controld/manager/command_metric.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

command_outcome command_once(const std::string& cmd, std::chrono::milliseconds timeout = 2s) {
    asio::io_context io;
    std::optional<command_outcome> got;
    run_command_metric(io, cmd, timeout, [&](command_outcome o) { got = std::move(o); });
    io.run_for(10s);
    REQUIRE(got);
    return *got;
}

}  // namespace

TEST_CASE("user metric commands: a number, or why not", "[control][metric]") {
    CHECK(expand_command("check {node} --again {node}", 0xc612000b) == "check 198.18.0.11 --again 198.18.0.11");
    CHECK(command_once("echo 42").value == 42.0);
    CHECK(command_once("printf ' 0.25 \\n'").value == 0.25);
    const auto text = command_once("echo busy");
    CHECK_FALSE(text.value);
    CHECK_THAT(text.why, Catch::Contains("'busy' is not a number"));
    CHECK(command_once("echo -3").why.find("not a number") != std::string::npos);
    CHECK(command_once("echo 7; exit 3").why == "exit status 3");
    const auto t0 = std::chrono::steady_clock::now();
    const auto hung = command_once("sleep 5; echo 1", 100ms);
    CHECK(hung.why == "timeout");
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);  // killed, group and all
    CHECK(command_once("yes 1").why == "more than 4096 bytes of output");
}

TEST_CASE("a command's output is a number 0 or more between blanks, or nothing", "[control][metric]") {
    CHECK(parse_command_output("42") == 42.0);
    CHECK(parse_command_output("  0.25\t\r\n") == 0.25);
    CHECK(parse_command_output("1e3\n") == 1000.0);
    CHECK(parse_command_output("0") == 0.0);
    CHECK_FALSE(parse_command_output(""));
    CHECK_FALSE(parse_command_output(" \n"));
    CHECK_FALSE(parse_command_output("-3"));
    CHECK_FALSE(parse_command_output("1 2"));
    CHECK_FALSE(parse_command_output("12ms"));
    CHECK_FALSE(parse_command_output("nan"));
    CHECK_FALSE(parse_command_output("inf"));
}
