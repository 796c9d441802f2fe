// The console against a fake api: each command line becomes the right typed
// request, bad input is refused before the api is called, replies render.
#include <catch2/catch.hpp>

#include <cstdio>
#include <deque>
#include <sstream>
#include <unistd.h>

#include "common/cli/console.hpp"
#include <fstream>
#include <iterator>

#include "common/conn_file.hpp"
#include "support/escalation_sample.hpp"
#include "support/temp_dir.hpp"

using namespace cg::common;
using namespace cg::common::api;
using cg::cli::console;

namespace {

/// Records every request; answers with the queued replies, then ok_rep.
class fake_api final : public api {
public:
    reply call(const request& r) override {
        got.push_back(r);
        if (broken) throw api_error("connection to gatewayd lost");
        if (replies.empty()) return ok_rep{};
        reply rep = replies.front();
        replies.pop_front();
        return rep;
    }

    template <class R>
    const R& last() const {
        REQUIRE(!got.empty());
        REQUIRE(std::holds_alternative<R>(got.back()));
        return std::get<R>(got.back());
    }

    std::vector<request> got;
    std::deque<reply> replies;
    bool broken = false;
};

/// What the console printed: its output fd is a temporary file.
class captured_output {
public:
    captured_output() : _file(std::tmpfile()) { REQUIRE(_file); }
    ~captured_output() { std::fclose(_file); }
    int fd() const { return fileno(_file); }

    /// Everything printed since the previous take().
    std::string take() {
        std::string s;
        char buf[4096];
        REQUIRE(::lseek(fd(), 0, SEEK_SET) == 0);
        for (ssize_t n; (n = ::read(fd(), buf, sizeof buf)) > 0;) s.append(buf, static_cast<std::size_t>(n));
        REQUIRE(::ftruncate(fd(), 0) == 0);
        REQUIRE(::lseek(fd(), 0, SEEK_SET) == 0);
        return s;
    }

private:
    std::FILE* _file;
};

struct fixture {
    fake_api api;
    captured_output out;
    int quits = 0;
    console con{api, "gw> ", [this] { ++quits; }, out.fd()};

    /// Runs a line that must succeed; returns its output.
    std::string ok(const std::string& line) {
        const bool good = con.run_line(line);
        std::string text = out.take();
        INFO(line << "\n" << text);
        CHECK(good);
        return text;
    }

    /// Runs a line that must fail without reaching the api; returns its output.
    std::string refused(const std::string& line) {
        const auto calls = api.got.size();
        const auto failed = con.failed();
        const bool good = con.run_line(line);
        std::string text = out.take();
        INFO(line << "\n" << text);
        CHECK_FALSE(good);
        CHECK(con.failed() == failed + 1);
        CHECK(api.got.size() == calls);
        CHECK(text.rfind("error: ", 0) == 0);
        return text;
    }
};

ipv4_addr ip(const char* s) { return *parse_ipv4(s); }

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

node_view node(const char* addr, std::uint32_t weight, std::uint64_t active) {
    node_view n;
    n.address = ip(addr);
    n.mac = *parse_mac("02:00:00:00:00:11");
    n.weight = n.effective_weight = weight;
    n.active = active;
    n.new_conns = 7;
    n.pkts = 1234;
    n.bytes = 98765;
    return n;
}

}  // namespace

TEST_CASE("add node maps to add_node_req with every option", "[cli]") {
    fixture f;
    f.ok("add node 198.18.0.100 tcp 80 198.18.0.11 mac 02:00:00:00:00:11 weight 3");
    const auto& r = f.api.last<add_node_req>();
    CHECK(r.svc.vip == ip("198.18.0.100"));
    CHECK(r.svc.proto == cg::common::l4_proto::tcp);
    CHECK(r.svc.port == 80);
    CHECK(r.node == ip("198.18.0.11"));
    REQUIRE(r.mac);
    CHECK(*r.mac == *parse_mac("02:00:00:00:00:11"));
    CHECK(r.weight == 3);
    CHECK_FALSE(r.weight_bound);
    CHECK(r.port.empty());
    CHECK_FALSE(r.quiesced);

    f.ok("add node 198.18.0.100 udp 53 198.18.0.12 quiesced bound 10 port p1");
    const auto& q = f.api.last<add_node_req>();
    CHECK(q.svc.proto == cg::common::l4_proto::udp);
    CHECK(q.svc.port == 53);
    CHECK_FALSE(q.mac);
    CHECK(q.weight == 1);
    CHECK(q.weight_bound == 10u);
    CHECK(q.port == "p1");
    CHECK(q.quiesced);
}

TEST_CASE("every table command maps to its request", "[cli]") {
    fixture f;
    f.ok("add cluster 198.18.0.100 name web");
    CHECK(f.api.last<add_cluster_req>().name == "web");
    CHECK(f.api.last<add_cluster_req>().vip == ip("198.18.0.100"));

    f.ok("add cluster 198.18.0.101");
    CHECK(f.api.last<add_cluster_req>().name.empty());

    f.ok("del cluster 198.18.0.101");
    CHECK(f.api.last<del_cluster_req>().vip == ip("198.18.0.101"));

    f.ok("add port 198.18.0.100 tcp 443 msl 30s fin 90s stale 2h15m bound 50");
    const auto& p = f.api.last<add_port_req>();
    CHECK(p.svc.port == 443);
    CHECK(p.msl_ms == 30'000u);
    CHECK(p.fin_ms == 90'000u);
    CHECK(p.stale_ms == 8'100'000u);
    CHECK(p.weight_bound == 50u);

    f.ok("add port 198.18.0.100 udp 53");
    CHECK_FALSE(f.api.last<add_port_req>().msl_ms);
    CHECK_FALSE(f.api.last<add_port_req>().weight_bound);

    f.ok("del port 198.18.0.100 udp 53");
    CHECK(f.api.last<del_port_req>().svc.proto == cg::common::l4_proto::udp);

    f.ok("del node 198.18.0.100 tcp 80 198.18.0.11");
    CHECK(f.api.last<del_node_req>().node == ip("198.18.0.11"));

    f.ok("set weight 198.18.0.100 tcp 80 198.18.0.11 0");
    CHECK(f.api.last<set_node_req>().weight == 0u);
    CHECK_FALSE(f.api.last<set_node_req>().quiesced);

    f.ok("set quiesce 198.18.0.100 tcp 80 198.18.0.11 on");
    CHECK(f.api.last<set_node_req>().quiesced == true);
    CHECK_FALSE(f.api.last<set_node_req>().weight);
    f.ok("set quiesce 198.18.0.100 tcp 80 198.18.0.11 off");
    CHECK(f.api.last<set_node_req>().quiesced == false);

    f.ok("reload");
    CHECK(f.api.last<reload_req>().path.empty());
    f.ok("reload /etc/clustergate/gw.yaml");
    CHECK(f.api.last<reload_req>().path == "/etc/clustergate/gw.yaml");

    f.api.replies.push_back(tables_rep{});
    f.ok("show clusters 198.18.0.100");
    CHECK(f.api.last<show_tables_req>().vip == ip("198.18.0.100"));
    f.api.replies.push_back(tables_rep{});
    CHECK(f.ok("show clusters") == "no clusters\n");
    CHECK(f.api.last<show_tables_req>().vip == 0);
    CHECK(f.con.failed() == 0);
}

TEST_CASE("stats, connection and simulate commands map to their requests", "[cli]") {
    fixture f;
    for (const char* line : {"show stats", "show drops", "show ports", "show lcores"}) {
        f.api.replies.push_back(stats_rep{});
        f.ok(line);
        f.api.last<show_stats_req>();
    }
    hello_rep h;
    h.role = "standby";
    f.api.replies.push_back(h);
    CHECK(contains(f.ok("show info"), "role      standby"));
    f.api.last<hello_req>();

    f.api.replies.push_back(ok_rep{"now active"});
    CHECK(f.ok("set role active") == "now active\n");
    CHECK(f.api.last<set_role_req>().role == "active");
    CHECK_THAT(f.refused("set role primary"), Catch::Contains("active|standby"));

    f.api.replies.push_back(conns_rep{});
    f.ok("show connections");
    CHECK(f.api.last<show_conns_req>().cursor == 0);
    CHECK(f.api.last<show_conns_req>().max == 50);
    f.api.replies.push_back(conns_rep{});
    f.ok("show connections from 77 count 10");
    CHECK(f.api.last<show_conns_req>().cursor == 77);
    CHECK(f.api.last<show_conns_req>().max == 10);

    simulate_rep sim{"new", ip("198.18.0.11"), 2, 1, "wrr picked node 1 of 2"};
    f.api.replies.push_back(sim);
    const std::string out = f.ok("simulate flow 198.51.100.7 40000 198.18.0.100 80 tcp");
    const auto& k = f.api.last<simulate_req>().flow;
    CHECK(k.saddr == ip("198.51.100.7"));
    CHECK(k.sport == 40000);
    CHECK(k.daddr == ip("198.18.0.100"));
    CHECK(k.dport == 80);
    CHECK(k.proto == 6);
    CHECK(contains(out, "verdict  new\n"));
    CHECK(contains(out, "node     198.18.0.11\n"));
    CHECK(contains(out, "worker   2\n"));
    CHECK(contains(out, "detail   wrr picked node 1 of 2\n"));
}

TEST_CASE("bad arguments are refused, named and counted, without calling the api", "[cli]") {
    fixture f;
    const std::string node = "add node 198.18.0.100 tcp 80 ";

    CHECK(contains(f.refused("add cluster 198.18.0"), "vip: expected an IPv4 address like 198.18.0.1, got '198.18.0'"));
    CHECK(contains(f.refused("add port 198.18.0.100 tcp 70000"),
                   "port: expected an integer from 1 to 65535, got '70000'"));
    CHECK(contains(f.refused(node + "198.18.0.11 weight x"), "weight: expected an integer from 0 to 65535, got 'x'"));
    CHECK(contains(f.refused(node + "198.18.0.1x"), "node-ip: expected an IPv4 address"));
    CHECK(contains(f.refused(node + "198.18.0.11 mac 02:00"), "mac: expected a MAC address"));
    CHECK(contains(f.refused("add port 198.18.0.100 tcp 80 msl soon"), "msl: expected a duration like 90s"));
    CHECK(contains(f.refused("set quiesce 198.18.0.100 tcp 80 198.18.0.11 yes"),
                   "quiesce: expected on|off, got 'yes'"));
    CHECK(contains(f.refused("show connections count 0"), "count: expected an integer from 1 to 1000, got '0'"));

    const std::string unknown = f.refused(node + "198.18.0.11 colour red");
    CHECK(contains(unknown, "unknown option 'colour'"));
    CHECK(contains(unknown, "valid options: mac <mac>, weight <n>, bound <n>, port <name>, quiesced"));
    CHECK(contains(f.refused(node + "198.18.0.11 weight 2 weight 3"), "option 'weight' given twice"));
    CHECK(contains(f.refused(node + "198.18.0.11 weight"), "option 'weight' needs a value: weight <n>"));

    // Fixed words are checked by rte_cmdline; the console still names the argument.
    const std::string proto = f.refused("add node 198.18.0.100 icmp 80 198.18.0.11");
    CHECK(contains(proto, "error: bad arguments for add node: proto: expected tcp|udp, got 'icmp'"));
    CHECK(contains(proto, "  usage: add node <vip> tcp|udp <port> <node-ip> [mac <mac>]"));
    CHECK(contains(f.refused("del node 198.18.0.100 tcp 80"), "bad arguments for del node: missing <node-ip>"));
    CHECK(contains(f.refused("del cluster 198.18.0.100 now"), "unexpected 'now' after the arguments"));
    CHECK(f.con.failed() == 14);
}

TEST_CASE("unknown commands and unknown keywords", "[cli]") {
    fixture f;
    CHECK(f.refused("frobnicate all") == "error: unknown command: frobnicate all  (try: help)\n");
    CHECK(f.refused("show foo") ==
          "error: bad arguments for show: expected backups|clusters|connections|drops|escalation|info|lcores|mirror|ports|restore|spares|stats, got "
          "'foo'; "
          "see help show\n");
    CHECK(f.refused("add") == "error: bad arguments for add: expected cluster|node|port; see help add\n");
    CHECK(f.refused("help add node") == "error: bad arguments for help: unexpected 'node' after the arguments\n"
                                        "  usage: help [<word>]\n");
    CHECK(f.ok("") == "");
    CHECK(f.ok("   # a comment") == "");
}

TEST_CASE("errors from the gateway print the message and the details", "[cli]") {
    fixture f;
    f.api.replies.push_back(error_rep{"node refused", {"weight 300 is above the port's weight_bound 100", "see docs"}});
    const bool good = f.con.run_line("set weight 198.18.0.100 tcp 80 198.18.0.11 300");
    CHECK_FALSE(good);
    CHECK(f.out.take() ==
          "error: node refused\n  weight 300 is above the port's weight_bound 100\n  see docs\n");
    CHECK(f.con.failed() == 1);

    f.api.broken = true;
    CHECK_FALSE(f.con.run_line("del cluster 198.18.0.100"));
    CHECK(f.out.take() == "error: connection to gatewayd lost\n");

    f.api.broken = false;
    f.api.replies.push_back(stats_rep{});
    CHECK_FALSE(f.con.run_line("show clusters"));
    CHECK(contains(f.out.take(), "error: unexpected reply type"));
    CHECK(f.con.failed() == 3);
}

TEST_CASE("help lists every command; help <word> only those", "[cli]") {
    fixture f;
    const std::string all = f.ok("help");
    for (const char* syntax :
         {"show clusters [<vip>]", "add cluster <vip> [name <name>]", "del cluster <vip>",
          "add port <vip> tcp|udp <port> [msl <dur>] [fin <dur>] [stale <dur>] [bound <n>]",
          "del port <vip> tcp|udp <port>",
          "add node <vip> tcp|udp <port> <node-ip> [mac <mac>] [weight <n>] [bound <n>] [port <name>] [quiesced]",
          "del node <vip> tcp|udp <port> <node-ip>", "set weight <vip> tcp|udp <port> <node-ip> <weight>",
          "set quiesce <vip> tcp|udp <port> <node-ip> on|off", "reload [<file>]", "show stats", "show drops",
          "show ports", "show lcores", "show info", "show connections [count <n>] [from <cursor>]",
          "simulate flow <src-ip> <src-port> <dst-ip> <dst-port> tcp|udp", "set role active|standby",
          "help [<word>]", "quit"}) {
        INFO(syntax);
        CHECK(contains(all, std::string("  ") + syntax + "\n"));
    }
    CHECK(contains(all, "cluster tables:\n"));
    CHECK(contains(all, "statistics:\n"));

    const std::string add = f.ok("help add");
    CHECK(add.rfind("cluster tables:\n  add cluster", 0) == 0);
    CHECK(contains(add, "  add port "));
    CHECK(contains(add, "  add node "));
    CHECK(contains(add, "        mac <mac>    node MAC; default: resolved by ARP\n"));
    CHECK(contains(add, "        tcp|udp      transport protocol\n"));
    CHECK_FALSE(contains(add, "del "));
    CHECK_FALSE(contains(add, "show "));

    CHECK(f.refused("help nosuch") == "error: no command starts with 'nosuch'; try: help\n");
    CHECK(f.api.got.empty());
}

TEST_CASE("show clusters renders ports and aligned node rows", "[cli]") {
    fixture f;
    tables_rep t;
    cluster_view c{"web", ip("198.18.0.100"), {}};
    service_view s;
    s.port = 80;
    s.msl_ms = 30'000;
    s.fin_ms = 90'000;
    s.stale_ms = 8'100'000;
    s.weight_bound = 100;
    s.new_conns = 12;
    s.no_node = 1;
    s.nodes.push_back(node("198.18.0.11", 3, 2));
    node_view arp = node("198.18.0.12", 2, 10);
    arp.mac_source = 1;
    arp.quiesced = true;
    arp.effective_weight = 0;
    s.nodes.push_back(arp);
    node_view gone = node("198.18.0.13", 0, 1);
    gone.mac_source = 2;
    gone.draining = true;
    gone.effective_weight = 0;
    gone.failed = true;
    s.nodes.push_back(gone);
    node_view spare = node("198.18.0.31", 0, 0);
    spare.mac_source = 1;
    spare.effective_weight = 0;
    spare.spare_for = ip("198.18.0.11");
    s.nodes.push_back(spare);
    node_view serving = node("198.18.0.33", 2, 5);
    serving.mac_source = 1;
    serving.spare_for = ip("198.18.0.13");  // .13 is failed: its spare serves
    s.nodes.push_back(serving);
    c.ports.push_back(s);
    service_view dns;
    dns.proto = cg::common::l4_proto::udp;
    dns.port = 53;
    dns.msl_ms = 30'000;
    dns.fin_ms = 90'000;
    dns.stale_ms = 30'000;
    dns.weight_bound = 100;
    c.ports.push_back(dns);
    t.clusters.push_back(c);
    t.orphans.push_back(node("198.18.0.99", 1, 4));
    t.orphans.back().draining = true;
    f.api.replies.push_back(t);

    const std::string out = f.ok("show clusters");
    const std::string expected =
        "cluster web 198.18.0.100\n"
        "  tcp 80: msl 30s, fin 1m30s, stale 2h15m, weight bound 100, pkts 0, new connections 12, no-node drops 1\n"
        "    node         mac                       weight  effective  active  fin  completed  new  pkts  bytes  state\n"
        "    198.18.0.11  02:00:00:00:00:11 config       3          3       2    0          0    7  1234  98765  ok\n"
        "    198.18.0.12  02:00:00:00:00:11 arp          2          0      10    0          0    7  1234  98765  quiesced\n"
        "    198.18.0.13  unresolved                     0          0       1    0          0    7  1234  98765  failed\n"
        "    198.18.0.31  02:00:00:00:00:11 arp          0          0       0    0          0    7  1234  98765  ok, spare of 198.18.0.11, standing by\n"
        "    198.18.0.33  02:00:00:00:00:11 arp          2          2       5    0          0    7  1234  98765  ok, spare of 198.18.0.13, serving\n"
        "  udp 53: stale 30s, weight bound 100, pkts 0, new connections 0, no-node drops 0\n"
        "    (no nodes)\n"
        "draining nodes of removed ports:\n"
        "  node         mac                       weight  effective  active  fin  completed  new  pkts  bytes  state\n"
        "  198.18.0.99  02:00:00:00:00:11 config       1          1       4    0          0    7  1234  98765  draining\n";
    CHECK(out == expected);
}

TEST_CASE("show spares: the table and each spare on the ports; set spare edits one node's entry", "[cli][spares]") {
    fixture f;
    f.api.replies.push_back(tables_rep{});
    CHECK(f.ok("show spares") == "no spares table\n");

    tables_rep t;
    t.spares = {{ip("198.18.0.11"), ip("198.18.0.11"), ip("198.18.0.31")},
                {ip("198.18.0.12"), ip("198.18.0.19"), ip("198.18.0.22"), {100, -5}}};
    cluster_view c{"web", ip("198.18.0.100"), {}};
    service_view s;
    s.port = 80;
    node_view dead = node("198.18.0.12", 100, 0);
    dead.failed = true;
    s.nodes = {node("198.18.0.11", 100, 3), dead};
    node_view by = node("198.18.0.31", 0, 0);
    by.mac_source = 1;
    by.spare_for = ip("198.18.0.11");
    node_view serving = node("198.18.0.22", 100, 9);
    serving.mac_source = 1;
    serving.spare_for = ip("198.18.0.12");
    s.nodes.push_back(by);
    s.nodes.push_back(serving);
    c.ports.push_back(s);
    t.clusters.push_back(c);
    f.api.replies.push_back(t);
    const std::string expected =
        "spares table:\n"
        "  nodes                    spares                   terminators\n"
        "  198.18.0.11              198.18.0.31              -\n"
        "  198.18.0.12-198.18.0.19  198.18.0.22-198.18.0.29  node +100 -5\n"
        "spares on the cluster ports:\n"
        "  node         spare        port                 mac                    weight  active  new  state\n"
        "  198.18.0.11  198.18.0.31  198.18.0.100 tcp 80  02:00:00:00:00:11 arp       0       0    7  standing by\n"
        "  198.18.0.12  198.18.0.22  198.18.0.100 tcp 80  02:00:00:00:00:11 arp     100       9    7  serving\n";
    CHECK(f.ok("show spares") == expected);

    // .15 out of the range .12-.19 (split around it), given .45 of its own.
    f.api.replies.push_back(t);
    f.ok("set spare 198.18.0.15 198.18.0.45");
    const std::vector<spare_rule> want{{ip("198.18.0.11"), ip("198.18.0.11"), ip("198.18.0.31")},
                                       {ip("198.18.0.12"), ip("198.18.0.14"), ip("198.18.0.22"), {100, -5}},
                                       {ip("198.18.0.16"), ip("198.18.0.19"), ip("198.18.0.26"), {100, -5}},
                                       {ip("198.18.0.15"), ip("198.18.0.15"), ip("198.18.0.45"), {100, -5}}};
    CHECK(f.api.last<set_spares_req>().spares == want);
    f.api.replies.push_back(t);
    f.ok("set spare 198.18.0.11 none");
    CHECK(f.api.last<set_spares_req>().spares == std::vector<spare_rule>(t.spares.begin() + 1, t.spares.end()));
    CHECK(f.con.failed() == 0);
}

TEST_CASE("show connections prints one line per connection and the next cursor", "[cli]") {
    fixture f;
    conns_rep page;
    flow_key k;
    k.saddr = ip("198.51.100.7");
    k.sport = 40000;
    k.daddr = ip("198.18.0.100");
    k.dport = 80;
    k.proto = 6;
    page.conns.push_back({k, ip("198.18.0.11"), 1, 120, 2});
    k.sport = 5353;
    k.proto = 17;
    page.conns.push_back({k, ip("198.18.0.12"), 2, 5, 0});
    page.next_cursor = 4242;
    page.total = 1234;
    f.api.replies.push_back(page);

    const std::string out = f.ok("show connections count 2");
    CHECK(out ==
          "proto  client              service          node         state   idle ms  worker\n"
          "tcp    198.51.100.7:40000  198.18.0.100:80  198.18.0.11  ACTIVE      120       2\n"
          "udp    198.51.100.7:5353   198.18.0.100:80  198.18.0.12  FIN           5       0\n"
          "total 1234; more: show connections from 4242\n");

    page.next_cursor = 0;
    page.conns.clear();
    f.api.replies.push_back(page);
    CHECK(f.ok("show connections from 4242") == "no connections on this page\ntotal 1234\n");
}

TEST_CASE("save connections dumps every worker page by page; load connections inserts the file in bulk", "[cli][conn_file]") {
    fixture f;
    cg::test::temp_dir dir("cg-cli");
    const std::string path = (dir.path / "table.cgct").string();
    flow_key k;
    k.saddr = ip("198.51.100.7"), k.daddr = ip("198.18.0.100"), k.dport = 80, k.proto = 6;
    const auto rec = [&](std::uint16_t sport, std::uint8_t state) {
        flow_key x = k;
        x.sport = sport;
        return conn_record{x, ip("198.18.0.11"), state};
    };
    // Worker 0 in two pages, worker 1 in one.
    f.api.replies.push_back(dump_conns_rep{0, 2, 77, false, 3, {rec(1, 1), rec(2, 1)}});
    f.api.replies.push_back(dump_conns_rep{0, 2, 0, true, 3, {rec(3, 2)}});
    f.api.replies.push_back(dump_conns_rep{1, 2, 0, true, 1, {rec(4, 1)}});
    const std::string saved = f.ok("save connections " + path);
    CHECK(contains(saved, "saved 4 connections of 2 worker(s) to " + path + " (88 bytes)"));
    CHECK(contains(saved, "  worker 0: 3 in "));
    CHECK(contains(saved, "  worker 1: 1 in "));
    REQUIRE(f.api.got.size() == 3);
    const auto dump = [&](std::size_t i) { return std::get<dump_conns_req>(f.api.got[i]); };
    CHECK((dump(0).worker == 0 && dump(0).cursor == 0));
    CHECK((dump(1).worker == 0 && dump(1).cursor == 77));
    CHECK((dump(2).worker == 1 && dump(2).cursor == 0));

    std::ifstream in(path, std::ios::binary);
    const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in), {}};
    const auto decoded = decode_conn_file(bytes);
    REQUIRE(std::holds_alternative<std::vector<conn_record>>(decoded));
    CHECK(std::get<std::vector<conn_record>>(decoded) ==
          std::vector<conn_record>{rec(1, 1), rec(2, 1), rec(3, 2), rec(4, 1)});

    f.api.got.clear();
    insert_conns_rep rep;
    rep.inserted = 3, rep.kept = 1;
    f.api.replies.push_back(rep);
    const std::string loaded = f.ok("load connections " + path + " replace");
    CHECK(contains(loaded, "loaded 4 connections from " + path));
    CHECK(contains(loaded, ": 3 inserted, 0 replaced, 1 kept, 0 no cluster port, 0 no node, 0 table full, 0 bad\n"));
    const auto& ins = f.api.last<insert_conns_req>();
    CHECK(ins.replace);
    CHECK(ins.conns == std::vector<conn_record>{rec(1, 1), rec(2, 1), rec(3, 2), rec(4, 1)});

    // A damaged file reaches no gateway.
    std::vector<std::uint8_t> torn(bytes.begin(), bytes.end() - 5);
    std::ofstream(path, std::ios::binary | std::ios::trunc).write(reinterpret_cast<const char*>(torn.data()),
                                                                  static_cast<std::streamsize>(torn.size()));
    CHECK(contains(f.refused("load connections " + path), "torn: 83 of the 88 bytes its 4 records take"));
    CHECK(contains(f.refused("load connections " + (dir.path / "none").string()), "cannot read"));
}

TEST_CASE("show stats: busy%, non-zero drops with total, rates since the previous show stats", "[cli]") {
    fixture f;
    stats_rep s;
    s.uptime_ms = 10'000;
    port_view p;
    p.name = "p0";
    p.device = "net_ring0";
    p.link_up = true;
    p.speed_mbps = 10000;
    p.ipackets = 1000;
    s.ports.push_back(p);
    s.lcores.push_back({1, "worker", 500, 400, 400, 100, 3, 1000, 250});
    s.drops = {{"no_service", 0}, {"not_syn", 5}, {"no_node", 2}};
    s.connections = {{"created", 9}};
    f.api.replies.push_back(s);
    std::string out = f.ok("show stats");
    CHECK(contains(out, "uptime 10s\n"));
    CHECK(contains(out, "  p0    net_ring0  up 10000Mb/s     1000     -"));
    CHECK(contains(out, "25.0\n"));
    CHECK(contains(out, "  not_syn      5\n  no_node      2\n  total        7\n"));
    CHECK_FALSE(contains(out, "no_service"));

    s.uptime_ms = 12'000;
    s.ports[0].ipackets = 3000;
    f.api.replies.push_back(s);
    out = f.ok("show stats");
    CHECK(contains(out, "  p0    net_ring0  up 10000Mb/s     3000  1000"));

    f.api.replies.push_back(s);
    CHECK(contains(f.ok("show drops"), "  no_service      0\n"));
}

TEST_CASE("show escalation: the ladder, what the next failure gets, the rungs and the history", "[cli][escalation]") {
    fixture f;
    const escalation_rep e = cg::test::sample_escalation();
    f.api.replies.push_back(e);
    const std::string out = f.ok("show escalation");
    CHECK(std::holds_alternative<escalation_show_req>(f.api.got.back()));
    CHECK(contains(out, "ladder at      PH1.0\n"));
    CHECK(contains(out, "next failure   PH2.0 (PH1.0 spent (2 of 2 within 2m); PH2.0: recovery 1 of 2 within 10m); not "
                        "implemented yet: PH1.0 instead\n"));
    CHECK(contains(out, "gatewayd       up for 1m3s; the counts clear once it has been up for 5m\n"));
    CHECK(contains(out, "store          /var/lib/clustergate/gw.escalation (at start: the previous copy)\n"));
    CHECK(contains(out, "store problem  /var/lib/clustergate/gw.escalation: checksum mismatch\n"));
    CHECK(contains(out, "  PH0.5      restart gatewayd alone        3      1m     0        7  yes\n"));
    CHECK(contains(out, "  auto-heal  a new instance elsewhere      -       -     -        0  no\n"));
    CHECK(contains(out, "died     killed by signal 9 (Killed)  PH1.0    PH0.5    up            812ms\n"));
    CHECK(contains(out, "exited   exited with status 1         PH0.5    PH0.5    failed_again      -\n"));
    CHECK(contains(out, "fallbacks"));
    CHECK(contains(out, "config         /etc/clustergate/gw.yaml, as loaded at start: the same as backup 4"));
    CHECK(contains(out, "backups        /etc/clustergate/gw.yaml.backups: every 1m while gatewayd runs, when changed; "
                        "the newest 10 kept\n"));
    CHECK(contains(out, "configuration backups (newest first):\n"));
    CHECK(contains(out, "       5  -                            -  bad: checksum mismatch (stored 00000001"));
    CHECK(contains(out, "  1234  good\n"));

    escalation_rep none;
    none.reached = "PH0.5";
    none.next_rung = "PH0.5";
    none.next_why = "PH0.5: recovery 1 of 3 within 1m";
    none.healthy_after_ms = 300000;
    none.rungs = {{"PH0.5", "restart gatewayd alone", true, 3, 60000, 0, 0, "PH0.5"}};
    f.api.replies.push_back(none);
    const std::string fresh = f.ok("show escalation");
    CHECK(contains(fresh, "next failure  PH0.5 (PH0.5: recovery 1 of 3 within 1m)\n"));  // implemented: nothing more
    CHECK(contains(fresh, "gatewayd      not up; the counts clear once it has been up for 5m\n"));
    CHECK(contains(fresh, "recoveries: none\n"));
}

TEST_CASE("scripts: comments skipped, echo, failures counted, quit stops", "[cli]") {
    fixture f;
    std::istringstream script("# set up\n"
                              "\n"
                              "add cluster 198.18.0.100\n"
                              "add cluster nonsense\n"
                              "   \t\n"
                              "quit\n"
                              "del cluster 198.18.0.100\n");
    CHECK(f.con.run_script(script, true) == 1);
    const std::string out = f.out.take();
    CHECK(out.rfind("gw> add cluster 198.18.0.100\nok\ngw> add cluster nonsense\nerror: vip:", 0) == 0);
    CHECK(contains(out, "gw> quit\n"));
    CHECK_FALSE(contains(out, "del cluster"));
    CHECK(f.quits == 1);
    CHECK(f.api.got.size() == 1);
    CHECK(f.con.failed() == 1);
}

TEST_CASE("syntax and option parsing helpers", "[cli]") {
    using namespace cg::cli;
    const std::vector<option_spec> opts{{"weight", "n", ""}, {"quiesced", "", ""}};
    const auto m = parse_options(opts, "  quiesced\tweight 3 ");
    CHECK(m == std::map<std::string, std::string>{{"quiesced", ""}, {"weight", "3"}});
    CHECK(parse_options(opts, "").empty());
    CHECK_THROWS_AS(parse_options(opts, "quiesced quiesced"), cli_error);

    CHECK(duration_ms_arg("msl", "250ms") == 250);
    CHECK_THROWS_WITH(duration_ms_arg("msl", "100us"), "msl: expected whole milliseconds, got '100us'");
    CHECK_THROWS_WITH(duration_ms_arg("msl", "2000h"), Catch::Contains("msl: expected at most"));
    CHECK(uint_arg("n", "65535", 0, 65535) == 65535);
    CHECK_THROWS_AS(uint_arg("n", "-1", 0, 10), cli_error);
    CHECK_THROWS_AS(uint_arg("n", "1 ", 0, 10), cli_error);
    CHECK(bool_arg("q", "on"));
    CHECK_THROWS_WITH(proto_arg("proto", "icmp"), "proto: expected tcp or udp, got 'icmp'");
}
