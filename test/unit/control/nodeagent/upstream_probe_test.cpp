// A terminator's upstream probe on loopback: a listening service is
// reachable; once it is gone, `failures` refused connects in a row make it
// unreachable (one verdict change, logged once), and one success makes it
// reachable again; a service that answers no SYN (its accept queue full)
// fails by the probe's deadline.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "control/nodeagent/upstream_probe.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

struct rig {
    asio::io_context io;
    std::vector<agent::upstream> seen;
    upstream_probe probe;
    explicit rig(std::uint16_t port, std::uint32_t failures = 3)
        : probe(io, {{asio::ip::address_v4::loopback(), port}, 20ms, failures},
                [this](const agent::upstream& u) { seen.push_back(u); }) {}

    /// Runs until `n` more reports came (or 5 s passed).
    void reports(std::size_t n) {
        const std::size_t want = seen.size() + n;
        const auto until = std::chrono::steady_clock::now() + 5s;
        while (seen.size() < want && std::chrono::steady_clock::now() < until) io.run_one_for(10ms);
        REQUIRE(seen.size() >= want);
    }
};

std::unique_ptr<asio::ip::tcp::acceptor> listen_on(asio::io_context& io, std::uint16_t port) {
    auto a = std::make_unique<asio::ip::tcp::acceptor>(io);
    a->open(asio::ip::tcp::v4());
    a->set_option(asio::socket_base::reuse_address(true));
    a->bind({asio::ip::address_v4::loopback(), port});
    a->listen();
    return a;
}

}  // namespace

TEST_CASE("the upstream probe: reachable, unreachable after N refused connects, reachable after one success",
          "[upstream]") {
    asio::io_context side;
    auto service = listen_on(side, 0);
    const std::uint16_t port = service->local_endpoint().port();
    rig r(port);
    r.probe.start();
    r.reports(3);
    for (const auto& u : r.seen) {
        CHECK(u.reachable);
        CHECK(u.failures == 0);
        CHECK(u.server == 0x7f000001);
        CHECK(u.port == port);
        CHECK(u.interval_ms == 20);
    }

    service.reset();  // the service is gone: refused
    r.seen.clear();
    r.reports(6);
    // The probe in flight when it closed may still have succeeded: from the first failure on.
    std::size_t k = 0;
    while (k < r.seen.size() && r.seen[k].failures == 0) ++k;
    REQUIRE(k + 3 <= r.seen.size());
    CHECK(r.seen[k].failures == 1);
    CHECK(r.seen[k].reachable);
    CHECK(r.seen[k + 1].failures == 2);
    CHECK(r.seen[k + 1].reachable);
    CHECK(r.seen[k + 2].failures == 3);
    CHECK_FALSE(r.seen[k + 2].reachable);
    CHECK_FALSE(r.probe.reachable());
    CHECK(r.probe.counts().verdicts_changed == 1);
    CHECK(r.probe.counts().timeouts == 0);

    service = listen_on(side, port);  // back
    r.seen.clear();
    r.reports(2);
    CHECK(r.seen.back().reachable);
    CHECK(r.seen.back().failures == 0);
    CHECK(r.probe.reachable());
    CHECK(r.probe.counts().verdicts_changed == 2);
}

TEST_CASE("a service that answers no SYN fails the probe by its deadline", "[upstream]") {
    // listen(0) with its accept queue filled and nobody accepting: the
    // kernel drops further SYNs, as a server gone from the wire would.
    const int l = ::socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(l >= 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(l, 0) == 0);
    socklen_t len = sizeof a;
    REQUIRE(::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    asio::io_context fill_io;
    std::vector<std::unique_ptr<asio::ip::tcp::socket>> fillers;
    for (int i = 0; i < 4; ++i) {  // backlog 0 takes one; the rest wait on their SYNs
        auto s = std::make_unique<asio::ip::tcp::socket>(fill_io);
        s->async_connect({asio::ip::address_v4::loopback(), ntohs(a.sin_port)}, [](const boost::system::error_code&) {});
        fillers.push_back(std::move(s));
    }
    fill_io.run_for(100ms);

    rig r(ntohs(a.sin_port), 2);
    r.probe.start();
    r.reports(3);
    CHECK(r.probe.counts().timeouts >= 2);
    CHECK_FALSE(r.probe.reachable());
    CHECK_FALSE(r.seen.back().reachable);
    ::close(l);
}
