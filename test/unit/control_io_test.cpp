// controld's and nodeagent's I/O parts against real processes and loopback
// sockets: probes, user metric commands, the Prometheus endpoint, the
// supervisor, and the /proc parsers.
#include <catch2/catch.hpp>

#include <signal.h>

#include <thread>

#include "control/controld/manager/command_metric.hpp"
#include "control/controld/manager/prober.hpp"
#include "control/controld/manager/prometheus.hpp"
#include "control/controld/supervisor.hpp"
#include "control/nodeagent/host_metrics.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

constexpr cg::common::ipv4_addr loopback = 0x7f000001;

/// A loopback TCP server answering each connection with `answer` (after
/// `delay`), or never answering when `answer` is empty.
struct tiny_server {
    asio::io_context& io;
    tcp::acceptor acceptor{io, tcp::endpoint(asio::ip::address_v4::loopback(), 0)};
    std::string answer;
    std::chrono::milliseconds delay{0};
    std::vector<std::shared_ptr<tcp::socket>> held;

    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    void serve() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
            if (ec) return;
            auto sock = std::make_shared<tcp::socket>(std::move(s));
            held.push_back(sock);
            if (!answer.empty()) {
                auto t = std::make_shared<asio::steady_timer>(io, delay);
                t->async_wait([sock, t, this](const boost::system::error_code&) {
                    asio::async_write(*sock, asio::buffer(answer), [sock](const boost::system::error_code&, std::size_t) {});
                });
            }
            serve();
        });
    }
};

probe_outcome probe_once(asio::io_context& io, const cg::common::probe_cfg& p) {
    std::optional<probe_outcome> got;
    run_probe(io, p, loopback, [&](probe_outcome o) { got = std::move(o); });
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

command_outcome command_once(const std::string& cmd, std::chrono::milliseconds timeout = 2s) {
    asio::io_context io;
    std::optional<command_outcome> got;
    run_command_metric(io, cmd, timeout, [&](command_outcome o) { got = std::move(o); });
    io.run_for(10s);
    REQUIRE(got);
    return *got;
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
    CHECK(late.why == "timeout");

    const std::uint16_t closed = [&] {
        tcp::acceptor a(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
        return a.local_endpoint().port();
    }();  // bound then closed: nobody listens there now
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
    CHECK(command_once("yes 1").why == "more output than a number");
}

TEST_CASE("the Prometheus endpoint answers GET /metrics and nothing else", "[control][prometheus]") {
    asio::io_context io;
    CHECK(prom_line("m", {}, 3) == "m 3\n");
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    const std::uint16_t port = probe.local_endpoint().port();
    probe.close();
    prometheus_endpoint fixed(io, {loopback, port}, [&] { return std::string("x 1\n"); });
    auto fetch = [&](const std::string& request) {
        std::string got;
        std::thread client([&] {
            asio::io_context cio;
            tcp::socket s(cio);
            s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
            asio::write(s, asio::buffer(request));
            boost::system::error_code ec;
            asio::read(s, asio::dynamic_buffer(got), ec);
        });
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (got.empty() && std::chrono::steady_clock::now() < until) io.run_for(20ms);
        client.join();
        io.restart();
        return got;
    };
    const std::string ok = fetch("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_THAT(ok, Catch::StartsWith("HTTP/1.0 200 OK"));
    CHECK_THAT(ok, Catch::EndsWith("\r\n\r\nx 1\n"));
    CHECK_THAT(fetch("GET / HTTP/1.1\r\n\r\n"), Catch::StartsWith("HTTP/1.0 404"));
    CHECK(prom_line("clustergate_test", {{"why", "a \"q\"\nb"}}, 1) == "clustergate_test{why=\"a \\\"q\\\"\\nb\"} 1\n");
    CHECK_THROWS_WITH(prometheus_endpoint(io, {loopback, port}, [] { return std::string(); }),
                      Catch::Contains("in use"));
}

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
    CHECK_THAT(deaths.back(), Catch::Contains("could not start"));
}

TEST_CASE("/proc parsers", "[control][agent]") {
    CHECK(parse_loadavg("0.52 0.58 0.59 1/189 12345\n") == 0.52);
    CHECK_FALSE(parse_loadavg("garbage"));
    const auto a = parse_proc_stat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4\n");
    REQUIRE(a);
    CHECK(a->busy == 150);
    CHECK(a->total == 1000);
    const cpu_times b{a->busy + 30, a->total + 100};
    CHECK(busy_share(*a, b) == Approx(0.3));
    CHECK(busy_share(b, *a) == 0);  // counters went back (a reboot): no share
    CHECK_FALSE(parse_proc_stat("intr 1 2 3\n"));
    CHECK(parse_meminfo("MemTotal:  1000 kB\nMemFree: 10 kB\nMemAvailable:  250 kB\n") == Approx(0.75));
    CHECK_FALSE(parse_meminfo("MemTotal: 0 kB\nMemAvailable: 0 kB\n"));
    CHECK(parse_sockstat_pages("sockets: used 5\nTCP: inuse 3 orphan 0 tw 1 alloc 4 mem 12\nUDP: inuse 1 mem 3\n") == 15);
    CHECK_FALSE(parse_sockstat_pages("sockets: used 5\n"));
    CHECK(parse_tcp_mem_limit("189120\t252162\t378240\n") == 378240);
    CHECK_FALSE(parse_tcp_mem_limit("1 2\n"));
    // This machine's own files parse.
    CHECK(parse_loadavg(*read_text("/proc/loadavg")));
    CHECK(parse_proc_stat(*read_text("/proc/stat")));
    CHECK(parse_meminfo(*read_text("/proc/meminfo")));
}
