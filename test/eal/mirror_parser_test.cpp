// The mirror parser in the real data plane: frames a SPAN port receives
// reach the parser lcores (both directions of a connection the same one),
// `show mirror` counts them and lists the connections, and nothing is ever
// sent on the SPAN port or because of what it carries. On a worker's lcore
// (the 2-core layout) and on a dedicated lcore.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "common/restore_plans_pages.hpp"
#include "gateway_harness.hpp"
#include "support/mirror_session.hpp"

using namespace cg;
using namespace cg::test;
namespace api = cg::common::api;
using cg::dp::mirror::direction;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;

std::string parser_config(const std::string& tag, const std::string& lcores, const std::string& parser_lcores) {
    return fmt::format(R"(
gateway: {{name: ealtest-p{0}, control_socket: /tmp/cg-ealtest-p{0}.sock, idle_sleep: 20us}}
eal: {{huge: false}}
lcores: {1}
ports:
  - {{name: lan, device: "eth:net_ring_ring_pl{0}", address: 198.18.0.2}}
  - {{name: span, device: "eth:net_ring_ring_ps{0}"}}
tables: {{connections: 2000, services: 8, nodes: 16, mbufs: 8191}}
mirror_parser: {{ports: [span], lcores: {2}, connections: 16, request_chunks: 64, ring_size: 256,
                protocols: [{{port: 20048, protocol: mount}}]}}
clusters:
  - name: nfs
    address: 198.18.0.100
    ports:
      - port: 2049
        nodes: [{{address: 198.18.0.11, mac: "02:00:00:00:00:0b"}}]  # the server MAC of support/mirror_session's frames
)",
                       tag, lcores, parser_lcores);
}

std::uint64_t count_of(const api::mirror_rep& r, std::string_view name) {
    const auto it = std::find_if(r.counters.begin(), r.counters.end(), [&](const auto& c) { return c.name == name; });
    return it == r.counters.end() ? ~0ull : it->value;
}

/// show mirror until its followed + not_tcp frames reach `frames` (or 5 s).
api::mirror_rep wait_for(gateway_harness& h, std::uint64_t frames) {
    api::mirror_rep r;
    for (int i = 0; i < 500; ++i) {
        r = h.api().expect<api::mirror_rep>(api::show_mirror_req{20});
        std::uint64_t seen = 0;
        for (const auto& c : r.counters)
            if (c.name.starts_with("frames.")) seen += c.value;
        if (seen >= frames) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return r;
}

}  // namespace

TEST_CASE("frames on a SPAN port are followed by the parser lcores and shown by show mirror", "[eal][mirror_parser]") {
    const auto [label, lcores, parsers] = GENERATE(
        std::tuple<std::string, std::string, std::string>{"on the worker's lcore", "{main: 0, workers: [1]}", "[1]"},
        std::tuple<std::string, std::string, std::string>{"two of their own", "{main: 0, workers: [1]}", "[2, 3]"});
    INFO(label);
    const std::string tag = parsers == "[1]" ? "w" : "d";
    ring_port lan("ring_pl" + tag, 1), span("ring_ps" + tag, 1);
    gateway_harness h(parser_config(tag, lcores, parsers));
    const std::uint16_t n_parsers = parsers == "[1]" ? 1 : 2;

    // An NFSv3 READ answered, a READ in flight, a MOUNT call on 20048, an
    // idle TCP-only connection, and a UDP datagram (not TCP).
    using namespace cg::test::mirror;
    const bytes fh = {1, 2, 3, 4, 5, 6, 7, 8};
    std::vector<bytes> frames;
    auto add = [&](const conn_spec& c, const std::vector<seg>& segs) {
        for (const seg& s : segs) frames.push_back(to_frame(c, s));
    };
    conn_spec answered;
    add(answered, conversation({{C, rpc_marked(rpc_call(1, 100003, 3, 6, nfs3_read_args(fh, 0, 512)))},
                                {S, rpc_marked(rpc_reply(1, nfs3_read_res(bytes(512, 'r'))))}},
                               1448, ending::none));
    conn_spec waiting;
    waiting.client_port = 40001;
    add(waiting, conversation({{C, rpc_marked(rpc_call(2, 100003, 3, 6, nfs3_read_args(fh, 512, 512)))}}, 1448,
                              ending::none));
    conn_spec mount;
    mount.client_port = 40002;
    mount.server_port = 20048;
    add(mount, conversation({{C, rpc_marked(rpc_call(3, 100005, 3, 0))}}, 1448, ending::none));
    conn_spec idle;
    idle.client_port = 40003;
    idle.server_port = 7000;  // spoken TCP only (80 is HTTP)
    add(idle, conversation({{C, bytes(40, 'G')}, {S, bytes(90, 'H')}}, 1448, ending::none));
    conn_spec closed;  // both FINs through: released
    closed.client_port = 40004;
    closed.server_port = 7000;
    add(closed, conversation({{C, bytes(10, 'x')}}, 1448, ending::fin));
    frame_spec udp;
    udp.proto = 17;
    frames.push_back(make_ipv4(udp));

    h.receive(span, frames);
    const api::mirror_rep r = wait_for(h, frames.size());
    CHECK(r.lcores == n_parsers);
    CHECK(count_of(r, "span.received") == frames.size());
    CHECK(count_of(r, "span.ring_full") == 0);
    // All but the UDP datagram and the closed connection's last ACK, which
    // comes after its release (a bare ACK of no connection makes none).
    CHECK(count_of(r, "frames.followed") == frames.size() - 2);
    CHECK(count_of(r, "frames.no_connection") == 1);
    CHECK(count_of(r, "frames.not_tcp") == 1);
    CHECK(count_of(r, "frames.dropped") == 0);
    CHECK(count_of(r, "connections.created") == 5);
    CHECK(count_of(r, "released.fin") == 1);
    CHECK(count_of(r, "messages.requests") == 3);
    CHECK(count_of(r, "messages.replies") == 1);
    CHECK(count_of(r, "tcp.gaps") == 0);
    CHECK(r.connections == 4);
    CHECK(r.capacity == 16u * n_parsers);

    REQUIRE(r.conns.size() == 4);
    std::map<std::uint16_t, api::mirror_conn_view> by_port;
    for (const auto& c : r.conns) by_port[c.client_port] = c;
    CHECK(by_port.at(40000).protocol == "nfs");
    CHECK(by_port.at(40000).reason == "complete");
    CHECK(by_port.at(40000).pending == 0);
    CHECK(by_port.at(40001).pending == 1);
    CHECK(by_port.at(40001).oldest == "nfs3 READ");
    CHECK(by_port.at(40002).protocol == "mount");
    CHECK(by_port.at(40002).oldest == "mount3 NULL");
    CHECK(by_port.at(40003).protocol == "tcp");
    CHECK(by_port.at(40003).state == "established");
    CHECK(by_port.at(40003).reason == "complete");
    // Most recently used first: the idle one came last.
    CHECK(r.conns.front().client_port == 40003);

    // What 198.18.0.11's spare could carry on: the two RPC calls in flight,
    // each with its call to replay, and the answered READ, whose reply the
    // mirror saw no acknowledgement of (sent again from the spare's send
    // queue); not the TCP-only connection.
    // Every page of every parser lcore (16 slots each: one page each).
    api::restore_plans_pages pages(0xc612000b, 50);
    while (!pages.done()) REQUIRE(pages.add(h.api().expect<api::restore_plans_rep>(pages.request())).empty());
    CHECK(pages.pages() == n_parsers);
    const api::restore_plans_rep& plans = pages.all();
    CHECK(plans.lcores == n_parsers);
    CHECK(plans.conns == 4);
    std::map<std::string, std::uint64_t> verdicts;
    for (const auto& v : plans.verdicts) verdicts[v.name] = v.value;
    CHECK(verdicts["restorable"] == 3);
    CHECK(verdicts["reply_unacknowledged"] == 0);
    CHECK(verdicts["no_request_framing"] == 1);
    REQUIRE(plans.plans.size() == 3);
    std::map<std::uint16_t, api::restore_plan_view> plan_of;
    for (const auto& v : plans.plans) plan_of[v.params.client_port] = v;
    const bytes read_reply = rpc_marked(rpc_reply(1, nfs3_read_res(bytes(512, 'r'))));
    CHECK(plan_of.at(40000).requests == 0);
    CHECK(plan_of.at(40000).params.resend_len == read_reply.size());
    CHECK(plan_of.at(40000).replay == read_reply);
    CHECK(plan_of.at(40001).replay == rpc_marked(rpc_call(2, 100003, 3, 6, nfs3_read_args(fh, 512, 512))));
    CHECK(plan_of.at(40001).requests == 1);
    CHECK(plan_of.at(40001).params.mss == 1460);
    CHECK(plan_of.at(40001).params.timestamps);
    CHECK(plan_of.at(40002).replay == rpc_marked(rpc_call(3, 100005, 3, 0)));
    const api::reply no_lcore = h.api().call(api::restore_plans_req{0xc612000b, 50, n_parsers, 0});
    REQUIRE(std::holds_alternative<api::error_rep>(no_lcore));
    CHECK_THAT(std::get<api::error_rep>(no_lcore).message, Catch::Contains("parser lcore"));
    const api::reply unknown = h.api().call(api::restore_plans_req{0xc6120063, 50});
    REQUIRE(std::holds_alternative<api::error_rep>(unknown));
    CHECK_THAT(std::get<api::error_rep>(unknown).message, Catch::Contains("no cluster port has it"));

    // Nothing is sent on the SPAN port, nor because of it.
    CHECK(h.sent(span, 1, std::chrono::milliseconds(200)).empty());
    CHECK(h.sent(lan, 1, std::chrono::milliseconds(50)).empty());
    CHECK(h.stat("connections", "created") == 0);  // the router never saw a SPAN frame

    SECTION("the lcore views show the parser's jobs") {
        const auto stats = h.api().expect<api::stats_rep>(api::show_stats_req{});
        std::size_t parser_jobs = 0, readers = 0;
        for (const auto& l : stats.lcores) {
            parser_jobs += std::count(l.jobs.begin(), l.jobs.end(), "mirror parser");
            readers += std::count(l.jobs.begin(), l.jobs.end(), "span reader");
        }
        CHECK(parser_jobs == n_parsers);
        CHECK(readers == 1);
    }
}

TEST_CASE("show mirror without a mirror_parser section is refused with the reason", "[eal][mirror_parser]") {
    ring_port lan("ring_pln", 1);
    gateway_harness h(R"(
gateway: {name: ealtest-pn, control_socket: /tmp/cg-ealtest-pn.sock, idle_sleep: 20us}
eal: {huge: false}
lcores: {main: 0, workers: [1]}
ports: [{name: lan, device: "eth:net_ring_ring_pln", address: 198.18.0.2}]
tables: {connections: 2000, services: 8, nodes: 16, mbufs: 4095}
)");
    const api::reply r = h.api().call(api::show_mirror_req{});
    REQUIRE(std::holds_alternative<api::error_rep>(r));
    CHECK_THAT(std::get<api::error_rep>(r).message, Catch::Contains("no mirror parser"));
}
