// show mirror's pure pieces: the key both directions share (and the parser
// lcore it picks), a parser lcore's copy of its table (take_snapshot), the
// reply built from the copies of several lcores (mirror_view), and the
// table configuration taken from the gateway's (parser_config_of).
#include <catch2/catch.hpp>

#include <string>

#include <algorithm>
#include <set>

#include "dataplane/ctl/mirror_view.hpp"
#include "dataplane/eal/span_reader_job.hpp"
#include "dataplane/mirror/conn_key.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/parser_config.hpp"
#include "support/mirror_session.hpp"

using namespace cg::dp;
using namespace cg::dp::mirror;
using namespace cg::test::mirror;
namespace api = cg::common::api;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;
const bytes fh = {0x43, 0, 0, 1, 0x12, 0x44, 0xd2, 0x4c};

std::uint64_t count_of(const api::mirror_rep& r, std::string_view name) {
    const auto it = std::find_if(r.counters.begin(), r.counters.end(), [&](const auto& c) { return c.name == name; });
    REQUIRE(it != r.counters.end());
    return it->value;
}

void feed(parser_table& t, const conn_spec& c, const std::vector<seg>& segs, std::uint32_t now) {
    for (const seg& s : segs) {
        const bytes f = to_frame(c, s);
        t.frame(f.data(), static_cast<std::uint32_t>(f.size()), now);
    }
}

parser_table_config small() {
    parser_table_config cfg;
    cfg.capacity = 8;
    cfg.pool_chunks = 64;
    return cfg;
}

}  // namespace

TEST_CASE("either_way_hash: a frame and its answer hash alike, other connections apart", "[mirror][show_mirror]") {
    cg::common::flow_key a{0xc612000a, 0xc612000b, 40000, 2049, 6, {}};
    cg::common::flow_key b{0xc612000b, 0xc612000a, 2049, 40000, 6, {}};
    CHECK(either_way_hash(a) == either_way_hash(b));
    CHECK(either_way_key(a) == either_way_key(b));
    cg::common::flow_key other = a;
    other.sport = 40001;
    CHECK(either_way_hash(other) != either_way_hash(a));
    // Same address both ends: the ports order them.
    cg::common::flow_key self{1, 1, 5, 7, 6, {}}, back{1, 1, 7, 5, 6, {}};
    CHECK(either_way_hash(self) == either_way_hash(back));
}

TEST_CASE("either_way_key: the lower end first, field by field", "[mirror][show_mirror]") {
    const cg::common::flow_key a{0xc612000b, 0xc612000a, 2049, 40000, 6, {}};
    const cg::common::flow_key k = either_way_key(a);
    CHECK(k.saddr == 0xc612000a);
    CHECK(k.daddr == 0xc612000b);
    CHECK(k.sport == 40000);
    CHECK(k.dport == 2049);
    CHECK(k.proto == 6);
    CHECK(k.pad[0] == 0);
    CHECK(k.pad[1] == 0);
    CHECK(k.pad[2] == 0);
    CHECK(either_way_key(k) == k);
    const cg::common::flow_key same_addr{1, 1, 7, 5, 17, {}};
    const cg::common::flow_key s = either_way_key(same_addr);
    CHECK((s.sport == 5 && s.dport == 7 && s.proto == 17));
}

TEST_CASE("parser_for_frame: both directions of a connection go to one parser lcore", "[mirror][show_mirror]") {
    const std::vector<seg> segs = conversation({{C, rpc_marked(rpc_call(7, 100003, 3, 1, nfs3_fh_args(fh)))},
                                                {S, rpc_marked(rpc_reply(7, nfs3_getattr_res()))}});
    std::set<std::uint32_t> seen_ports;
    for (std::uint16_t port = 40000; port < 40064; ++port) {
        conn_spec c;
        c.client_port = port;
        std::set<std::uint32_t> lcores;
        for (const seg& s : segs) {
            const bytes f = to_frame(c, s);
            lcores.insert(parser_for_frame(f.data(), static_cast<std::uint32_t>(f.size()), 4));
        }
        REQUIRE(lcores.size() == 1);  // every segment of both directions
        seen_ports.insert(*lcores.begin());
    }
    CHECK(seen_ports.size() > 1);  // and connections spread over the lcores
    const bytes junk(10, 0xff);
    CHECK(parser_for_frame(junk.data(), static_cast<std::uint32_t>(junk.size()), 4) == 0);
}

TEST_CASE("mirror_view: counters summed over lcores, connections most recently used first", "[mirror][show_mirror]") {
    parser_table t0(small()), t1(small());
    conn_spec done;  // a GETATTR answered: complete, nothing pending
    feed(t0, done,
         conversation({{C, rpc_marked(rpc_call(7, 100003, 3, 1, nfs3_fh_args(fh)))},
                       {S, rpc_marked(rpc_reply(7, nfs3_getattr_res()))}},
                      1448, ending::none),
         1000);
    conn_spec waiting;  // a READ in flight, on the other lcore, seen later
    waiting.client_port = 40001;
    feed(t1, waiting, conversation({{C, rpc_marked(rpc_call(9, 100003, 3, 6, nfs3_read_args(fh, 0, 4096)))}}, 1448,
                                   ending::none),
         1500);
    conn_spec web;  // a connection to a port of no known protocol: TCP only
    web.server_port = 8000;
    web.client_port = 40002;
    feed(t0, web, conversation({{C, bytes(100, 'G')}, {S, bytes(300, 'H')}}, 1448, ending::none), 1200);

    parser_snapshot s0, s1;
    s0.rows.resize(10);
    s1.rows.resize(10);
    take_snapshot(t0, 2000, s0);
    take_snapshot(t1, 2000, s1);
    REQUIRE(s0.count == 2);
    REQUIRE(s1.count == 1);
    const parser_snapshot* both[] = {&s0, &s1};
    std::array<std::uint64_t, span_event_count> span{};
    span[static_cast<std::size_t>(span_event::received)] = 99;

    const api::mirror_rep r = mirror_view(both, span, 10);
    CHECK(r.lcores == 2);
    CHECK(r.connections == 3);
    CHECK(r.capacity == 16);
    CHECK(count_of(r, "span.received") == 99);
    CHECK(count_of(r, "frames.followed") == t0.counters().frames[0] + t1.counters().frames[0]);
    CHECK(count_of(r, "connections.created") == 3);
    CHECK(count_of(r, "messages.requests") == 2);
    CHECK(count_of(r, "messages.replies") == 1);
    CHECK(count_of(r, "rpc.bad_value") == 0);
    CHECK(count_of(r, "framer.client.records_whole") == 2);

    REQUIRE(r.conns.size() == 3);
    // Most recently used first: the READ (1500), the web one (1200), the GETATTR (1000).
    CHECK(r.conns[0].client_port == 40001);
    CHECK(r.conns[0].protocol == "nfs");
    CHECK(r.conns[0].state == "established");
    CHECK(r.conns[0].reason == "complete");
    CHECK(r.conns[0].pending == 1);
    CHECK(r.conns[0].oldest == "nfs3 READ");
    CHECK(r.conns[0].held_bytes > 0);
    CHECK(r.conns[0].idle_ms == 500);
    CHECK(r.conns[0].lcore == 1);
    CHECK(r.conns[1].client_port == 40002);
    CHECK(r.conns[1].protocol == "tcp");
    CHECK(r.conns[1].reason == "complete");
    CHECK(r.conns[1].client_half == "open");
    CHECK(r.conns[1].server_half == "open");
    CHECK(r.conns[2].client_port == 40000);
    CHECK(r.conns[2].pending == 0);
    CHECK(r.conns[2].oldest.empty());

    SECTION("at most the connections asked for") {
        CHECK(mirror_view(both, span, 1).conns.size() == 1);
        CHECK(mirror_view(both, span, 0).conns.empty());
    }
    SECTION("a copy sized for fewer rows than connections fills what it can") {
        parser_snapshot small_copy;
        small_copy.rows.resize(1);
        take_snapshot(t0, 2000, small_copy);
        CHECK(small_copy.count == 1);
        CHECK(small_copy.size == 2);
    }
}

TEST_CASE("mirror_view: a closing connection shows which side sent its FIN", "[mirror][show_mirror]") {
    parser_table t(small());
    conn_spec c;
    c.server_port = 80;
    std::vector<seg> segs = conversation({{C, bytes(10, 'x')}}, 1448, ending::fin);
    // Up to the first FIN (the client's) only.
    const auto fin = std::find_if(segs.begin(), segs.end(), [](const seg& x) { return (x.flags & FIN) != 0; });
    REQUIRE(fin != segs.end());
    REQUIRE(fin->dir == C);
    segs.erase(fin + 1, segs.end());
    feed(t, c, segs, 10);
    parser_snapshot s;
    s.rows.resize(4);
    take_snapshot(t, 10, s);
    const parser_snapshot* one[] = {&s};
    const api::mirror_rep r = mirror_view(one, {}, 4);
    REQUIRE(r.conns.size() == 1);
    CHECK(r.conns[0].state == "closing");
    CHECK(r.conns[0].client_half == "fin");
    CHECK(r.conns[0].server_half == "open");
}

TEST_CASE("mirror_view: an HTTP head the parser refuses is counted by what was wrong", "[mirror][show_mirror][http1]") {
    parser_table t(small());
    conn_spec c;
    c.server_port = 80;
    const std::string bad = "GET / HTTP/1.1\r\nHost : smuggled\r\n\r\n";
    feed(t, c, conversation({{C, bytes(bad.begin(), bad.end())}}, 1448, ending::none), 10);
    parser_snapshot s;
    s.rows.resize(4);
    take_snapshot(t, 10, s);
    const parser_snapshot* one[] = {&s};
    const api::mirror_rep r = mirror_view(one, {}, 4);
    CHECK(count_of(r, "framer.client.bad_http") == 1);
    CHECK(count_of(r, "framer.client.http.bad_field") == 1);
    CHECK(count_of(r, "framer.client.http.bad_chunk") == 0);
    REQUIRE(r.conns.size() == 1);
    CHECK(r.conns[0].protocol == "http");
    CHECK(r.conns[0].reason == "framing_lost");
}

TEST_CASE("parser_config_of: sizes, timers and ports from the gateway's configuration", "[mirror][show_mirror]") {
    cg::common::gateway_cfg g;
    g.timers.stale_timeout = std::chrono::milliseconds(60'000);
    g.timers.msl = std::chrono::milliseconds(1000);
    g.mirror_parser = cg::common::mirror_parser_cfg{{"span"}, {1}, 64, 256, 512, {{20048, "mount"}, {445, "tcp"}}};
    const parser_table_config t = parser_config_of(g);
    CHECK(t.capacity == 64);
    CHECK(t.pool_chunks == 256);
    CHECK(t.stale_timeout_ms == 60'000);
    CHECK(t.fin_timeout_ms == 3000);  // 3 x msl when timers.fin_timeout is not set
    CHECK(t.ports.of(20048) == port_proto::mount);
    CHECK(t.ports.of(2049) == port_proto::nfs);
    CHECK(t.ports.of(111) == port_proto::portmapper);
    CHECK(t.ports.of(445) == port_proto::tcp);  // taken out
    g.timers.fin_timeout = std::chrono::milliseconds(5000);
    CHECK(parser_config_of(g).fin_timeout_ms == 5000);
    // Every protocol name the configuration accepts is one the parser knows.
    for (std::string_view name : cg::common::span_protocols) CHECK(port_proto_of(name));
    CHECK_FALSE(port_proto_of("nlm"));
}

TEST_CASE("node_watch: a node heard, then retransmitted to, waits until heard again", "[mirror][node_watch]") {
    node_watch w;
    const auto entry = [&](std::uint64_t mac) {
        for (const node_seen& e : w.entries())
            if (e.mac == mac) return e;
        return node_seen{};
    };
    const std::uint8_t mac[6] = {0x02, 0, 0, 0, 0x01, 0x0b};
    CHECK(node_watch::key_of(mac) == 0x02000000010bull);
    w.heard(11, 100);
    CHECK(entry(11).heard);
    CHECK(entry(11).heard_ms == 100);
    CHECK_FALSE(entry(11).waiting);
    w.retransmitted(11, 300);
    w.retransmitted(11, 700);
    CHECK(entry(11).waiting);
    CHECK(entry(11).waiting_ms == 300);  // the first one since it was heard
    CHECK(entry(11).retransmits == 2);
    w.heard(11, 800);
    CHECK_FALSE(entry(11).waiting);
    CHECK(entry(11).retransmits == 0);
    w.heard(0, 900);  // no MAC: not a node
    for (const node_seen& e : w.entries()) CHECK((e.mac != 0 || !e.heard));
    // Room for capacity - 1 nodes; the others are counted, not watched.
    for (std::uint32_t n = 1; n <= node_watch::capacity + 9; ++n) w.heard(1000 + n, 1);
    std::size_t used = 0;
    for (const node_seen& e : w.entries()) used += e.mac != 0;
    CHECK(used == node_watch::capacity - 1);
    CHECK(w.untracked() == 11);  // 1001..1265 is 265 addresses, 11 itself holds one entry
}

TEST_CASE("show mirror's nodes: a node whose clients retransmit to it, silent since, waits", "[mirror][node_watch]") {
    parser_table t(small());
    const conn_spec c;
    const bytes call1 = rpc_marked(rpc_call(1, rpc_prog_nfs, 3, nfs3::getattr, nfs3_fh_args(fh)));
    const bytes reply1 = rpc_marked(rpc_reply(1, nfs3_getattr_res()));
    const bytes call2 = rpc_marked(rpc_call(2, rpc_prog_nfs, 3, nfs3::getattr, nfs3_fh_args(fh)));
    feed(t, c, conversation({{C, call1}, {S, reply1}}, 1448, ending::none), 10);
    const seg again{C, static_cast<std::int64_t>(call1.size()), ACK | PSH, static_cast<std::uint32_t>(reply1.size()),
                    call2, {}};
    feed(t, c, {again}, 100);  // the node dies: no answer, no ACK
    feed(t, c, {again}, 300);  // the client's stack sends it again
    feed(t, c, {again}, 700);

    parser_snapshot s;
    take_snapshot(t, 800, s);
    const parser_snapshot* lcores[] = {&s};
    auto nodes = node_views(lcores);
    REQUIRE(nodes.size() == 1);
    CHECK(cg::common::format_mac(nodes[0].mac) == "02:00:00:00:00:0b");  // the frames' node
    CHECK(nodes[0].node == 0);  // which node of the tables it is, the controller says
    CHECK(nodes[0].heard_ms == 790u);
    CHECK(nodes[0].waiting_ms == 500u);
    CHECK(nodes[0].retransmits == 2);

    // A second lcore that heard the node after those retransmissions: it answers.
    parser_table other(small());
    conn_spec c2 = c;
    c2.client_port = 40001;
    feed(other, c2, conversation({{C, call1}, {S, reply1}}, 1448, ending::none), 600);
    parser_snapshot s2;
    take_snapshot(other, 800, s2);
    const parser_snapshot* both[] = {&s, &s2};
    nodes = node_views(both);
    REQUIRE(nodes.size() == 1);
    CHECK(nodes[0].heard_ms == 200u);
    CHECK_FALSE(nodes[0].waiting_ms);

    // The node answers on the first lcore: nobody waits there either.
    feed(t, c, {seg{S, static_cast<std::int64_t>(reply1.size()), ACK,
                    static_cast<std::uint32_t>(call1.size() + call2.size()), {}, {}}},
         850);
    take_snapshot(t, 860, s);
    nodes = node_views(lcores);
    CHECK(nodes[0].heard_ms == 10u);
    CHECK_FALSE(nodes[0].waiting_ms);
}
