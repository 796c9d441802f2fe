// gatewayd's control socket end to end, without EAL: the controller on the
// fake data plane behind ctl_service and ctl_server, asked through
// controld's gw_link on the same io_context. A worker that never answers a
// job holds up only the request that needs it: the others are answered
// meanwhile (overtaking it on the one connection), it fails with a clear
// error at its deadline, and a 10 ms timer on that io_context keeps time.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <fmt/format.h>

#include "common/ctl_server.hpp"
#include "control/controld/gw_link.hpp"
#include "dataplane/ctl/controller.hpp"
#include "dataplane/ctl/ctl_service.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/fake_dataplane.hpp"
#include "support/loop_watch.hpp"
#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::test;
using namespace std::chrono_literals;
namespace api = cg::common::api;
namespace asio = boost::asio;
using steady = std::chrono::steady_clock;

namespace {

double ms(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

struct answer_at {
    std::optional<control::gw_answer> answer;
    steady::time_point asked = steady::now(), came;
};

std::shared_ptr<answer_at> ask(control::gw_link& link, api::request r) {
    auto a = std::make_shared<answer_at>();
    link.ask(std::move(r), [a](control::gw_answer got) {
        a->came = steady::now();
        a->answer = std::move(got);
    });
    return a;
}

}  // namespace

TEST_CASE("gatewayd's socket: a worker that never answers holds up only its request, which fails at its deadline",
          "[controller][link]") {
    constexpr auto job_timeout = 300ms;
    constexpr auto tick = 10ms;
    fake_dataplane fake{2, 500, 8, 16};
    dp::controller ctl(controller_config(), {{"lan", 0, gw_mac, gw_ip}}, fake, {"/nonexistent.yaml", "test", job_timeout});
    const api::service_key http{vip, common::l4_proto::tcp, 80};
    REQUIRE(std::holds_alternative<api::ok_rep>(ctl.handle(api::add_cluster_req{"web", vip})));
    REQUIRE(std::holds_alternative<api::ok_rep>(ctl.handle(api::add_port_req{http, {}, {}, {}, {}})));
    REQUIRE(std::holds_alternative<api::ok_rep>(
        ctl.handle(api::add_node_req{http, node_ip(1), node_mac(1), 1, {}, "", false})));
    frame_spec syn;
    syn.tcp_flags = dp::wire::tcp_syn;
    bytes f = make_ipv4(syn);
    REQUIRE(fake.route(0, f).act == dp::action::forward);
    fake.hold_jobs(1);

    const std::string path = fmt::format("/tmp/cg-ctlsvc-{}.sock", ::getpid());
    asio::io_context io;
    dp::ctl_service service(io, ctl);
    common::ctl_server server(io, path, service, [] {}, "gatewayd");
    control::gw_link link(io, {path, 2s});
    loop_watch watch;
    tick_recorder t(io, tick);
    auto run_until = [&](auto done) {
        const auto end = steady::now() + 10s;
        while (!done() && steady::now() < end) io.run_one_for(tick);
        return done();
    };

    auto stuck = ask(link, api::show_conns_req{0, 50});  // worker 0's page, then worker 1's, which never comes
    auto tables = ask(link, api::show_tables_req{});
    auto edit = ask(link, api::set_node_req{http, node_ip(1), 4, {}});
    REQUIRE(run_until([&] { return tables->answer && edit->answer; }));
    CHECK_FALSE(stuck->answer);
    CHECK(service.waiting() == 1);
    REQUIRE(tables->answer->as<api::tables_rep>());
    CHECK(tables->answer->as<api::tables_rep>()->clusters.size() == 1);
    CHECK(edit->answer->as<api::ok_rep>());

    REQUIRE(run_until([&] { return stuck->answer.has_value(); }));
    const auto* err = stuck->answer->as<api::error_rep>();
    REQUIRE(err);
    CHECK(err->message == "worker 1 did not answer within 300 ms");
    CHECK(stuck->came - stuck->asked >= job_timeout);
    const double late_ms = ms(watch.own(stuck->asked + job_timeout, stuck->came));
    CHECK(late_ms < ms(tick));
    CHECK(service.waiting() == 0);
    CHECK(fake.held_jobs(1) == 1);

    // The socket goes on serving, the stuck worker's job still held.
    auto again = ask(link, api::show_tables_req{});
    REQUIRE(run_until([&] { return again->answer.has_value(); }));
    CHECK(again->answer->as<api::tables_rep>());

    INFO("raw " << ms(t.worst_raw()) << " ms; the CPU stalled up to " << ms(watch.worst_stall()) << " ms");
    CHECK(t.ticks() > 0);
    const double own_ms = ms(t.worst_own(watch));
    CHECK(own_ms < ms(tick));
}
