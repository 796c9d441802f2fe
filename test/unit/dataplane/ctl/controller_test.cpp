#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <set>
#include <thread>

#include "common/config_load.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/controller_fixture.hpp"

using namespace cg;
using namespace cg::test;
namespace api = cg::common::api;
using dp::action;

namespace {

const api::node_view& node(const api::tables_rep& t, common::ipv4_addr a) {
    for (const auto& c : t.clusters)
        for (const auto& s : c.ports)
            for (const auto& n : s.nodes)
                if (n.address == a) return n;
    FAIL("node not shown");
    throw;
}

}  // namespace

TEST_CASE("clusters, ports and nodes added through the API route traffic", "[controller]") {
    ctl_fixture fx;
    fx.add_web();
    const auto t = fx.tables();
    REQUIRE(t.clusters.size() == 1);
    CHECK(t.clusters[0].name == "web");
    REQUIRE(t.clusters[0].ports.size() == 1);
    const auto& svc = t.clusters[0].ports[0];
    CHECK(svc.fin_ms == 30'000);
    CHECK(svc.msl_ms == 10'000);
    CHECK(svc.nodes.size() == 2);
    CHECK(svc.nodes[0].port == "lan");

    std::string spread;
    for (std::uint16_t p = 0; p < 5; ++p) spread += static_cast<char>('0' + fx.tcp(0, static_cast<std::uint16_t>(100 + p), dp::wire::tcp_syn));
    CHECK(spread == "11212");
    const auto after = fx.tables();
    CHECK(node(after, node_ip(1)).new_conns == 3);
    CHECK(node(after, node_ip(1)).active == 3);
    CHECK(after.clusters[0].ports[0].new_conns == 5);
}

TEST_CASE("a refused edit says why and changes nothing", "[controller]") {
    ctl_fixture fx;
    fx.add_web();
    const int publishes = fx.fake.publishes;
    CHECK_THAT(fx.refusal(api::add_node_req{fx.http(), node_ip(3), node_mac(3), 500, {}, "", false}),
               Catch::Contains("weight"));
    CHECK_THAT(fx.refusal(api::add_cluster_req{"again", vip}), Catch::Contains("exists already"));
    CHECK_THAT(fx.refusal(api::add_node_req{fx.http(), node_ip(1), node_mac(1), 1, {}, "", false}),
               Catch::Contains("already"));
    CHECK_THAT(fx.refusal(api::set_node_req{fx.http(), node_ip(9), 1, {}}), Catch::Contains("no node 198.18.0.19"));
    CHECK_THAT(fx.refusal(api::del_port_req{{vip, common::l4_proto::udp, 53}}), Catch::Contains("has no port udp/53"));
    CHECK_THAT(fx.refusal(api::del_cluster_req{0x01020304}), Catch::Contains("no cluster 1.2.3.4"));
    CHECK(fx.fake.publishes == publishes);
    CHECK(fx.tables().clusters[0].ports[0].nodes.size() == 2);
    const auto stats = fx.expect<api::stats_rep>(api::show_stats_req{});
    for (const auto& c : stats.control)
        if (c.name == "refused") CHECK(c.value == 6);
}

TEST_CASE("weight changes and quiescing take effect for new connections only", "[controller]") {
    ctl_fixture fx;
    fx.add_web(1, 1);
    REQUIRE(fx.tcp(0, 200, dp::wire::tcp_syn) == 1);
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), 0, {}});
    for (std::uint16_t p = 0; p < 4; ++p) CHECK(fx.tcp(0, static_cast<std::uint16_t>(300 + p), dp::wire::tcp_syn) == 2);
    CHECK(fx.tcp(0, 200, dp::wire::tcp_ack) == 1);  // the long-lived connection stays

    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), 5, true});
    CHECK(node(fx.tables(), node_ip(1)).quiesced);
    CHECK(node(fx.tables(), node_ip(1)).effective_weight == 0);
    CHECK(fx.tcp(0, 400, dp::wire::tcp_syn) == 2);
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), {}, false});
    CHECK(node(fx.tables(), node_ip(1)).effective_weight == 5);
}

TEST_CASE("a deleted node drains and its slot is released when its last connection ends", "[controller]") {
    ctl_fixture fx;
    fx.add_web(1, 1);
    REQUIRE(fx.tcp(0, 500, dp::wire::tcp_syn) == 1);
    fx.expect<api::ok_rep>(api::del_node_req{fx.http(), node_ip(1)});
    auto t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 2);
    CHECK(node(t, node_ip(1)).draining);
    CHECK(node(t, node_ip(1)).active == 1);
    CHECK(fx.tcp(0, 500, dp::wire::tcp_ack) == 1);
    CHECK(fx.tcp(0, 501, dp::wire::tcp_syn) == 2);

    fx.ctl.housekeeping();
    CHECK(fx.tables().clusters[0].ports[0].nodes.size() == 2);  // still one connection
    CHECK(fx.tcp(0, 500, dp::wire::tcp_rst) == 1);
    fx.ctl.housekeeping();
    t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 1);
    CHECK(t.clusters[0].ports[0].nodes[0].address == node_ip(2));
}

TEST_CASE("a node slot reused by another node shows that node's counters only", "[controller]") {
    ctl_fixture fx;
    fx.add_web(1, 1);
    for (std::uint16_t p = 0; p < 4; ++p) fx.tcp(0, static_cast<std::uint16_t>(600 + p), dp::wire::tcp_syn);
    for (std::uint16_t p = 0; p < 4; ++p) fx.tcp(0, static_cast<std::uint16_t>(600 + p), dp::wire::tcp_rst);
    fx.expect<api::ok_rep>(api::del_node_req{fx.http(), node_ip(1)});
    fx.ctl.housekeeping();
    fx.expect<api::ok_rep>(api::add_node_req{fx.http(), node_ip(3), node_mac(3), 1, {}, "", false});
    const auto n3 = node(fx.tables(), node_ip(3));
    CHECK(n3.new_conns == 0);
    CHECK(n3.completed == 0);
    CHECK(n3.pkts == 0);
}

TEST_CASE("show connections pages through every worker's table once", "[controller]") {
    ctl_fixture fx;
    fx.add_web();
    for (std::uint16_t p = 0; p < 25; ++p) fx.tcp(0, static_cast<std::uint16_t>(1000 + p), dp::wire::tcp_syn);
    for (std::uint16_t p = 0; p < 10; ++p) fx.tcp(1, static_cast<std::uint16_t>(2000 + p), dp::wire::tcp_syn);
    std::set<std::uint16_t> ports;
    std::uint64_t cursor = 0;
    int pages = 0;
    do {
        const auto page = fx.expect<api::conns_rep>(api::show_conns_req{cursor, 10});
        CHECK(page.total == 35);
        CHECK(page.conns.size() <= 10);
        for (const auto& c : page.conns) {
            CHECK(ports.insert(c.flow.sport).second);
            CHECK(c.worker == (c.flow.sport >= 2000 ? 1 : 0));
            CHECK((c.node == node_ip(1) || c.node == node_ip(2)));
            CHECK(c.state == 1);
        }
        cursor = page.next_cursor;
    } while (cursor != 0 && ++pages < 20);
    CHECK(ports.size() == 35);
}

TEST_CASE("simulate flow names the node an existing or a new flow goes to", "[controller]") {
    ctl_fixture fx;
    fx.add_web();
    REQUIRE(fx.tcp(1, 700, dp::wire::tcp_syn) == 1);
    common::flow_key k;
    k.saddr = client_ip;
    k.daddr = vip;
    k.sport = 700;
    k.dport = 80;
    k.proto = 6;
    auto sim = fx.expect<api::simulate_rep>(api::simulate_req{k});
    CHECK(sim.verdict == "existing");
    CHECK(sim.node == node_ip(1));
    CHECK(sim.worker == 1);

    k.sport = 701;
    sim = fx.expect<api::simulate_rep>(api::simulate_req{k});
    CHECK(sim.verdict == "new");
    CHECK((sim.node == node_ip(1) || sim.node == node_ip(2)));
    // The prediction holds: a SYN on that worker goes where simulate said.
    CHECK(node_ip(fx.tcp(sim.worker, 701, dp::wire::tcp_syn)) == sim.node);

    k.dport = 81;
    CHECK(fx.expect<api::simulate_rep>(api::simulate_req{k}).verdict == "no_service");
    k.dport = 80;
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), 0, {}});
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(2), 0, {}});
    k.sport = 702;
    CHECK(fx.expect<api::simulate_rep>(api::simulate_req{k}).verdict == "no_node");
}

TEST_CASE("a worker that does not answer holds up only the request that needs it, until its deadline",
          "[controller]") {
    using namespace std::chrono_literals;
    ctl_fixture fx(controller_config(), 100ms);
    fx.add_web();
    for (std::uint16_t p = 0; p < 3; ++p) fx.tcp(0, static_cast<std::uint16_t>(1000 + p), dp::wire::tcp_syn);
    fx.fake.hold_jobs(1);

    const auto t0 = std::chrono::steady_clock::now();
    auto started = fx.ctl.begin(api::show_conns_req{0, 50});
    REQUIRE(std::holds_alternative<dp::pending_request>(started));
    auto& page = std::get<dp::pending_request>(started);
    CHECK_FALSE(fx.ctl.poll(page));  // worker 0's part done; worker 1 holds the next job
    CHECK(fx.fake.held_jobs(1) == 1);

    // Meanwhile the controller serves the rest, edits (a new snapshot) included.
    CHECK(fx.tables().clusters.size() == 1);
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), 7, {}});
    CHECK(node(fx.tables(), node_ip(1)).weight == 7);

    std::optional<api::reply> rep;
    while (!(rep = fx.ctl.poll(page)) && std::chrono::steady_clock::now() - t0 < 5s)
        std::this_thread::sleep_for(1ms);
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(rep);
    REQUIRE(std::holds_alternative<api::error_rep>(*rep));
    CHECK(std::get<api::error_rep>(*rep).message == "worker 1 did not answer within 100 ms");
    CHECK(took >= 100ms);
    CHECK(took < 2s);
    // And so does simulate, the other request that needs every worker.
    common::flow_key k{client_ip, vip, 1000, 80, 6};
    CHECK_THAT(fx.refusal(api::simulate_req{k}), Catch::Contains("worker 1 did not answer within 100 ms"));
}

TEST_CASE("a node MAC learned by ARP makes the node selectable", "[controller][arp]") {
    ctl_fixture fx;
    fx.expect<api::ok_rep>(api::add_cluster_req{"web", vip});
    fx.expect<api::ok_rep>(api::add_port_req{fx.http(), {}, {}, {}, {}});
    fx.expect<api::ok_rep>(api::add_node_req{fx.http(), node_ip(1), {}, 1, {}, "", false});
    CHECK(node(fx.tables(), node_ip(1)).mac_source == 2);
    CHECK(fx.tcp(0, 800, dp::wire::tcp_syn) == 0);

    bytes reply = make_arp(2, node_mac(1), node_ip(1), gw_mac, gw_ip, gw_mac);
    CHECK(fx.fake.route(1, reply).act == action::consume);
    fx.ctl.housekeeping();
    const auto n = node(fx.tables(), node_ip(1));
    CHECK(n.mac_source == 1);
    CHECK(n.mac == node_mac(1));
    CHECK(n.effective_weight == 1);
    CHECK(fx.tcp(0, 801, dp::wire::tcp_syn) == 1);
}

TEST_CASE("show stats counts every drop reason by name", "[controller]") {
    ctl_fixture fx;
    fx.add_web();
    fx.tcp(0, 900, dp::wire::tcp_ack);  // no connection
    bytes junk(10, 0);
    fx.fake.route(1, junk);  // truncated
    const auto s = fx.expect<api::stats_rep>(api::show_stats_req{});
    REQUIRE(s.drops.size() == dp::drop_reason_count);
    for (const auto& d : s.drops) {
        if (d.name == "no_connection" || d.name == "truncated")
            CHECK(d.value == 1);
        else
            CHECK(d.value == 0);
    }
}

TEST_CASE("reload applies a valid file's tables and refuses anything else whole", "[controller][config]") {
    ctl_fixture fx;
    fx.add_web();
    const std::string path = "/tmp/cg_controller_reload_test.yaml";
    const std::string head = R"(
gateway: {name: gw-test}
lcores: {main: 0, workers: [1, 2]}
ports: [{name: lan, device: net_null0, address: 198.18.0.2}]
tables: {connections: 1000, services: 8, nodes: 16}
)";
    auto write = [&](const std::string& text) { std::ofstream(path) << head << text; };

    write("clusters: [{name: web, address: 198.18.0.100, ports: [{port: 80, nodes: [{address: 198.18.0.11, "
          "mac: '02:00:00:00:01:01', weight: 500}]}]}]\n");
    CHECK_THAT(fx.refusal(api::reload_req{path}), Catch::Contains("nothing changed"));
    CHECK(fx.tables().clusters[0].ports[0].nodes.size() == 2);

    std::ofstream(path) << "gateway: {name: gw-test}\nlcores: {main: 0, workers: [1]}\n"
                           "ports: [{name: lan, device: net_null0, address: 198.18.0.2}]\n";
    CHECK_THAT(fx.refusal(api::reload_req{path}), Catch::Contains("needs a restart"));

    write("clusters: [{name: web, address: 198.18.0.100, ports: [{port: 80, nodes: [{address: 198.18.0.13, "
          "mac: '02:00:00:00:01:03', weight: 4}]}]}]\n");
    fx.expect<api::ok_rep>(api::reload_req{path});
    auto t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 3);  // .13, then .11 and .12 draining
    CHECK(t.clusters[0].ports[0].nodes[0].address == node_ip(3));
    CHECK_FALSE(t.clusters[0].ports[0].nodes[0].draining);
    CHECK(t.clusters[0].ports[0].nodes[1].draining);
    fx.ctl.housekeeping();  // no connection holds them: released
    t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 1);
    std::remove(path.c_str());
}

TEST_CASE("no node weight may exceed its bound, at any time", "[controller][wrr]") {
    ctl_fixture fx;
    fx.expect<api::ok_rep>(api::add_cluster_req{"web", vip});
    fx.expect<api::ok_rep>(api::add_port_req{fx.http(), {}, {}, {}, 10});  // port bound 10
    fx.expect<api::ok_rep>(api::add_node_req{fx.http(), node_ip(1), node_mac(1), 10, {}, "", false});
    CHECK_THAT(fx.refusal(api::add_node_req{fx.http(), node_ip(2), node_mac(2), 11, {}, "", false}),
               Catch::Contains("weight 11 is above the port's weight_bound 10"));
    fx.expect<api::ok_rep>(api::add_node_req{fx.http(), node_ip(2), node_mac(2), 4, 5, "", false});  // own bound 5
    CHECK_THAT(fx.refusal(api::set_node_req{fx.http(), node_ip(2), 6, {}}),
               Catch::Contains("weight 6 is above the node's weight_bound 5"));
    CHECK_THAT(fx.refusal(api::add_node_req{fx.http(), node_ip(3), node_mac(3), 1, 20, "", false}),
               Catch::Contains("between 1 and the port's weight_bound 10"));
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(2), 5, {}});
    const auto t = fx.tables();
    CHECK(node(t, node_ip(1)).weight == 10);
    CHECK(node(t, node_ip(2)).weight == 5);
    CHECK(t.clusters[0].ports[0].nodes.size() == 2);
}

TEST_CASE("reload refuses a file whose mirror section differs: the mirror is read once at start", "[controller][config]") {
    const std::string head = "lcores: {main: 0, workers: [1]}\n"
                             "ports: [{name: lan, device: net_null0, address: 198.18.0.2}, "
                             "{name: peer, device: net_null1}]\n";
    const std::string clusters = "clusters: [{name: web, address: 198.18.0.100, ports: [{port: 80, nodes: "
                                 "[{address: 198.18.0.11, mac: '02:00:00:00:01:01', port: lan}]}]}]\n";
    auto loaded = common::parse_config(head + "mirror: {port: peer, mode: state_changes}\n" + clusters, "a.yaml");
    INFO(loaded.errors.size());
    REQUIRE(loaded.ok());
    ctl_fixture fx(loaded.cfg);
    const std::string path = "/tmp/cg_controller_mirror_reload_test.yaml";
    std::ofstream(path) << head << "mirror: {port: peer, mode: every_frame}\n" << clusters;
    CHECK_THAT(fx.refusal(api::reload_req{path}), Catch::Contains("changes mirror: that needs a restart"));
    std::ofstream(path) << head << "mirror: {port: peer, mode: state_changes}\n" << clusters;
    fx.expect<api::ok_rep>(api::reload_req{path});
    std::remove(path.c_str());
}

TEST_CASE("a failed node's spare takes its new connections at once; the node back, the spare keeps its own",
          "[controller][spares]") {
    common::gateway_cfg cfg = controller_config();
    cfg.spares = {{node_ip(1), node_ip(2), 4}};  // .11 -> .15, .12 -> .16
    ctl_fixture fx(cfg);
    fx.add_web(1, 1);
    auto t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 4);
    const api::node_view& sp = node(t, node_ip(5));
    CHECK(sp.spare_for == node_ip(1));
    CHECK(sp.weight == 0);
    CHECK(sp.mac_source == 2);  // resolved by ARP while it stands by
    CHECK(node(t, node_ip(1)).spare_for == 0);
    CHECK_THAT(fx.refusal(api::set_node_req{fx.http(), node_ip(5), 3, {}}), Catch::Contains("no node 198.18.0.15"));

    bytes reply = make_arp(2, node_mac(5), node_ip(5), gw_mac, gw_ip, gw_mac);
    CHECK(fx.fake.route(1, reply).act == action::consume);
    fx.ctl.housekeeping();
    CHECK(node(fx.tables(), node_ip(5)).mac_source == 1);
    std::set<int> before;
    for (std::uint16_t p = 0; p < 8; ++p) before.insert(fx.tcp(0, static_cast<std::uint16_t>(1000 + p), dp::wire::tcp_syn));
    CHECK(before == std::set<int>{1, 2});  // standing by: no connection

    const auto ok = fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), true});
    CHECK_THAT(ok.message, Catch::Contains("its spare 198.18.0.15 takes its new connections"));
    t = fx.tables();
    CHECK(node(t, node_ip(5)).weight == 1);
    CHECK(node(t, node_ip(5)).effective_weight == 1);
    std::set<int> during;
    for (std::uint16_t p = 0; p < 8; ++p) during.insert(fx.tcp(0, static_cast<std::uint16_t>(2000 + p), dp::wire::tcp_syn));
    CHECK(during == std::set<int>{2, 5});
    std::uint16_t on_spare = 0;
    for (std::uint16_t p = 2000; p < 2008 && !on_spare; ++p)
        if (fx.tcp(0, p, dp::wire::tcp_ack) == 5) on_spare = p;
    REQUIRE(on_spare != 0);

    fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), false});
    CHECK(node(fx.tables(), node_ip(5)).weight == 0);
    CHECK(fx.tcp(0, on_spare, dp::wire::tcp_ack) == 5);  // the spare keeps the connections it took
    std::set<int> after;
    for (std::uint16_t p = 0; p < 8; ++p) after.insert(fx.tcp(0, static_cast<std::uint16_t>(3000 + p), dp::wire::tcp_syn));
    CHECK(after == std::set<int>{1, 2});

    // A spare can fail too (its agent silent): it is marked like a node.
    fx.expect<api::ok_rep>(api::fail_node_req{node_ip(5), true});
    CHECK(node(fx.tables(), node_ip(5)).failed);
    CHECK_THAT(fx.refusal(api::fail_node_req{node_ip(9), true}), Catch::Contains("as a node or a spare"));
}

// .11's terminator (its front-end) at +1 is .12, itself a node of the port:
// it cannot reach .11 while .11 is failed, so it is down with it and back
// with it; .12 failed on its own stays failed.
TEST_CASE("a failed node's terminators are down with it, and back with it", "[controller][spares]") {
    common::gateway_cfg cfg = controller_config();
    cfg.spares = {{node_ip(1), node_ip(1), 4, {1}}};  // .11 -> .15; its terminator .12 -> .16
    ctl_fixture fx(cfg);
    fx.add_web(1, 1);
    const auto down = fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), true});
    CHECK_THAT(down.message, Catch::Contains("its spare 198.18.0.15 takes its new connections") &&
                                 Catch::Contains("its terminators 198.18.0.12 down with it"));
    auto t = fx.tables();
    CHECK(node(t, node_ip(1)).failed);
    CHECK(node(t, node_ip(2)).failed);
    CHECK(node(t, node_ip(2)).effective_weight == 0);
    CHECK(node(t, node_ip(6)).spare_for == node_ip(2));
    CHECK(node(t, node_ip(6)).weight == 1);  // the terminator's spare serves
    CHECK_THAT(fx.refusal(api::fail_node_req{node_ip(2), false}), Catch::Contains("comes back with that node"));

    const auto back = fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), false});
    CHECK_THAT(back.message, Catch::Contains("its terminators 198.18.0.12 back with it"));
    t = fx.tables();
    CHECK_FALSE(node(t, node_ip(2)).failed);
    CHECK(node(t, node_ip(2)).effective_weight == 1);
    CHECK(node(t, node_ip(6)).weight == 0);

    // Failed on its own first: its node's return does not bring it back.
    fx.expect<api::ok_rep>(api::fail_node_req{node_ip(2), true});
    fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), true});
    const auto alone = fx.expect<api::ok_rep>(api::fail_node_req{node_ip(1), false});
    CHECK_THAT(alone.message, !Catch::Contains("its terminators"));
    CHECK(node(fx.tables(), node_ip(2)).failed);
    fx.expect<api::ok_rep>(api::fail_node_req{node_ip(2), false});
    CHECK_FALSE(node(fx.tables(), node_ip(2)).failed);
}

TEST_CASE("a spare's slot lives as long as its node: removing the node drains both", "[controller][spares]") {
    common::gateway_cfg cfg = controller_config();
    cfg.spares = {{node_ip(1), node_ip(1), 4}};
    ctl_fixture fx(cfg);
    fx.add_web(1, 1);
    REQUIRE(fx.tables().clusters[0].ports[0].nodes.size() == 3);
    fx.expect<api::ok_rep>(api::del_node_req{fx.http(), node_ip(1)});
    fx.ctl.housekeeping();
    const auto t = fx.tables();
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 1);
    CHECK(t.clusters[0].ports[0].nodes[0].address == node_ip(2));
}

TEST_CASE("the spares table edited at run time: checked like the file, shown in the tables", "[controller][spares]") {
    ctl_fixture fx;
    fx.add_web(1, 1);
    CHECK(fx.tables().spares.empty());
    fx.expect<api::ok_rep>(api::set_spares_req{{{node_ip(1), node_ip(2), node_ip(5)}}});
    auto t = fx.tables();
    REQUIRE(t.spares.size() == 1);
    CHECK(t.spares[0] == api::spare_rule{node_ip(1), node_ip(2), node_ip(5)});
    CHECK(node(t, node_ip(5)).spare_for == node_ip(1));
    CHECK(node(t, node_ip(6)).spare_for == node_ip(2));
    CHECK_THAT(fx.refusal(api::set_spares_req{{{node_ip(1), node_ip(1), node_ip(2)}}}),
               Catch::Contains("spare 198.18.0.12 is itself a working node"));
    CHECK(fx.tables().spares.size() == 1);  // the refused edit changed nothing

    fx.expect<api::ok_rep>(api::set_spares_req{});  // no spares: theirs drain
    fx.ctl.housekeeping();
    t = fx.tables();
    CHECK(t.spares.empty());
    CHECK(t.clusters[0].ports[0].nodes.size() == 2);
}
