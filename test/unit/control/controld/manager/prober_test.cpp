// Probes (control/controld/manager/prober.cpp) against real loopback servers.
#include <catch2/catch.hpp>

#include <optional>

#include "control/controld/manager/prober.hpp"
#include "support/loopback_server.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
using cg::test::tiny_server;
namespace asio = boost::asio;

namespace {

probe_outcome probe_once(asio::io_context& io, const cg::common::probe_cfg& p) {
    std::optional<probe_outcome> got;
    run_probe(io, p, cg::test::loopback, [&](probe_outcome o) { got = std::move(o); });
    while (!got && io.run_one_for(5s)) {}
    REQUIRE(got);
    return *got;
}

cg::common::probe_cfg probe_of(cg::common::probe_kind kind, std::uint16_t port, std::chrono::milliseconds timeout) {
    cg::common::probe_cfg p;
    p.type = kind;
    p.port = port;
    p.timeout = timeout;
    return p;
}

}  // namespace

TEST_CASE("TCP and HTTP probes: answer time, refusals, wrong status, silence", "[control][probe]") {
    asio::io_context io;
    tiny_server ok{io};
    ok.answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    ok.serve();
    tiny_server broken{io};
    broken.answer = "HTTP/1.1 503 Service Unavailable\r\n\r\n";
    broken.serve();
    tiny_server silent{io};  // accepts and never answers
    silent.serve();
    tiny_server slow{io};
    slow.answer = ok.answer;
    slow.delay = 60ms;
    slow.serve();

    const auto tcp_ok = probe_once(io, probe_of(cg::common::probe_kind::tcp, ok.port(), 500ms));
    CHECK(tcp_ok.ms);
    const auto http_ok = probe_once(io, probe_of(cg::common::probe_kind::http, ok.port(), 500ms));
    REQUIRE(http_ok.ms);
    const auto http_slow = probe_once(io, probe_of(cg::common::probe_kind::http, slow.port(), 500ms));
    REQUIRE(http_slow.ms);
    CHECK(*http_slow.ms >= 55);  // the answer time is the metric

    const auto status = probe_once(io, probe_of(cg::common::probe_kind::http, broken.port(), 500ms));
    CHECK_FALSE(status.ms);
    CHECK(status.why == "status 503");
    const auto quiet = probe_once(io, probe_of(cg::common::probe_kind::http, silent.port(), 100ms));
    CHECK_FALSE(quiet.ms);
    CHECK(quiet.why == "timeout");
    const auto late = probe_once(io, probe_of(cg::common::probe_kind::http, slow.port(), 20ms));
    CHECK_FALSE(late.ms);
    CHECK(late.why == "timeout");

    const std::uint16_t closed = cg::test::unused_port(io);
    const auto refused = probe_once(io, probe_of(cg::common::probe_kind::tcp, closed, 500ms));
    CHECK_FALSE(refused.ms);
    CHECK_THAT(refused.why, Catch::Contains("refused"));
}

TEST_CASE("HTTP status lines", "[control][probe]") {
    CHECK(http_status("HTTP/1.1 200 OK\r\n") == 200u);
    CHECK(http_status("HTTP/1.0 404\r\n") == 404u);
    CHECK_FALSE(http_status("HTTP/2 200\r\n"));
    CHECK_FALSE(http_status("SSH-2.0-OpenSSH\r\n"));
    CHECK_FALSE(http_status("HTTP/1.1 20\r\n"));
    CHECK_FALSE(http_status("HTTP/1.1 2000 OK\r\n"));
    CHECK_FALSE(http_status("HTTP/1.1 099 x\r\n"));
}
