// The Prometheus endpoint (control/controld/manager/prometheus.cpp) over loopback.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "control/controld/manager/prometheus.hpp"
#include "support/loopback_server.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

TEST_CASE("the Prometheus endpoint answers GET /metrics and nothing else", "[control][prometheus]") {
    asio::io_context io;
    CHECK(prom_line("m", {}, 3) == "m 3\n");
    const std::uint16_t port = cg::test::unused_port(io);
    prometheus_endpoint fixed(io, {cg::test::loopback, port}, [&] { return std::string("x 1\n"); });
    auto fetch = [&](const std::string& request) {
        std::string got;
        std::atomic<bool> done{false};
        std::thread client([&] {
            asio::io_context cio;
            tcp::socket s(cio);
            s.connect(tcp::endpoint(asio::ip::address_v4::loopback(), port));
            asio::write(s, asio::buffer(request));
            boost::system::error_code ec;
            asio::read(s, asio::dynamic_buffer(got), ec);  // to the server's close
            done = true;
        });
        // Until the client has read everything: stopping at its first bytes
        // (as this did) could leave the server's close undone and the client
        // waiting for it forever (seen once under ASan).
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (!done && std::chrono::steady_clock::now() < until) io.run_for(20ms);
        client.join();
        io.restart();
        return got;
    };
    const std::string ok = fetch("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK_THAT(ok, Catch::StartsWith("HTTP/1.0 200 OK"));
    CHECK_THAT(ok, Catch::EndsWith("\r\n\r\nx 1\n"));
    CHECK_THAT(fetch("GET / HTTP/1.1\r\n\r\n"), Catch::StartsWith("HTTP/1.0 404"));
    CHECK(prom_line("clustergate_test", {{"why", "a \"q\"\nb"}}, 1) == "clustergate_test{why=\"a \\\"q\\\"\\nb\"} 1\n");
    CHECK_THROWS_WITH(prometheus_endpoint(io, {cg::test::loopback, port}, [] { return std::string(); }),
                      Catch::Contains("in use"));
}
