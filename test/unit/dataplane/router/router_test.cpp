#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <string>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;
using wire::tcp_ack, wire::tcp_fin, wire::tcp_rst, wire::tcp_syn;

namespace {

std::string nodes_of_new_connections(router_fixture& fx, std::uint16_t first_port, int n, std::uint32_t now) {
    std::string s;
    for (int i = 0; i < n; ++i) {
        bytes f;
        const auto v = fx.tcp(static_cast<std::uint16_t>(first_port + i), tcp_syn, now, &f);
        s += v.act == action::forward ? static_cast<char>('0' + router_fixture::node_of(f)) : '-';
    }
    return s;
}

/// Runs the aging clock one millisecond at a time over [from, to] and
/// returns the first time at which the table holds `size` entries, or -1.
long age_until_size(router_fixture& fx, std::uint32_t from, std::uint32_t to, std::uint32_t size) {
    for (std::uint32_t t = from; t <= to; ++t) {
        fx.router.age(*fx.snap, t);
        if (fx.table.size() == size) return t;
    }
    return -1;
}

/// How long one full aging pass over the fixture's table takes, in ms.
std::uint32_t pass_ms(router_fixture& fx) {
    return fx.table.slot_count() / router::sweep_rate(fx.table.slot_count()) + 1;
}

/// A datagram of one UDP flow to the fixture's udp/53.
frame_spec dns_query() {
    frame_spec s;
    s.proto = 17;
    s.dport = 53;
    s.payload = "query";
    return s;
}

std::uint64_t active(router_fixture& fx, int node) { return fx.nstats[fx.slot_of(node)].active.read(); }
std::uint64_t fin(router_fixture& fx, int node) { return fx.nstats[fx.slot_of(node)].fin.read(); }

}  // namespace

TEST_CASE("SYNs create connections spread 3:2:1 by WRR", "[router]") {
    router_fixture fx;
    CHECK(nodes_of_new_connections(fx, 1000, 12, 0) == "112123112123");
    CHECK(fx.table.size() == 12);
    CHECK(fx.stats.event(conn_event::created).read() == 12);
    CHECK(fx.nstats[fx.slot_of(1)].new_conns.read() == 6);
    CHECK(active(fx, 1) == 6);
    CHECK(active(fx, 2) == 4);
    CHECK(active(fx, 3) == 2);
}

TEST_CASE("forwarding rewrites the Ethernet addresses and nothing else", "[router]") {
    router_fixture fx;
    frame_spec s;
    s.payload = "GET / HTTP/1.0\r\n\r\n";
    s.vlans = {42};
    const bytes before = make_ipv4(s);
    bytes f = before;
    const auto v = fx.send(f, 0);
    REQUIRE(v.act == action::forward);
    CHECK(v.tx_port == 0);
    CHECK(std::memcmp(f.data(), node_mac(1).b.data(), 6) == 0);
    CHECK(std::memcmp(f.data() + 6, gw_mac.b.data(), 6) == 0);
    CHECK(bytes(f.begin() + 12, f.end()) == bytes(before.begin() + 12, before.end()));  // VLAN tag, IP, TCP untouched
}

TEST_CASE("every packet of a connection goes to the node its SYN went to", "[router]") {
    router_fixture fx;
    for (std::uint16_t port = 2000; port < 2006; ++port) {
        bytes syn;
        REQUIRE(fx.tcp(port, tcp_syn, 0, &syn).act == action::forward);
        for (int k = 0; k < 3; ++k) {
            bytes data;
            REQUIRE(fx.tcp(port, tcp_ack, 1 + k, &data).act == action::forward);
            CHECK(router_fixture::node_of(data) == router_fixture::node_of(syn));
        }
    }
}

TEST_CASE("a segment without SYN and without a connection is dropped", "[router]") {
    router_fixture fx;
    CHECK(fx.tcp(3000, tcp_ack, 0).why == drop_reason::no_connection);
    CHECK(fx.tcp(3000, tcp_fin | tcp_ack, 0).why == drop_reason::no_connection);
    CHECK(fx.tcp(3000, tcp_rst, 0).why == drop_reason::no_connection);
    CHECK(fx.drops(drop_reason::no_connection) == 3);
    CHECK(fx.table.size() == 0);
}

TEST_CASE("packets for addresses or ports not in the tables are not routed", "[router]") {
    router_fixture fx;
    frame_spec s;
    s.dport = 8080;
    bytes f = make_ipv4(s);
    CHECK(fx.send(f, 0).why == drop_reason::no_service);
    s.dport = 80;
    s.dst = 0xc6120065;  // 198.18.0.101: not a cluster address
    f = make_ipv4(s);
    CHECK(fx.send(f, 0).why == drop_reason::no_service);
    s.dst = vip;
    s.proto = 17;  // udp/80: the cluster serves tcp/80 only
    f = make_ipv4(s);
    CHECK(fx.send(f, 0).why == drop_reason::no_service);
    CHECK(fx.drops(drop_reason::no_service) == 3);
}

TEST_CASE("FIN moves a connection to FIN state; it ages out FIN_TIME_OUT after its last packet", "[router][timers]") {
    router_fixture fx;
    bytes syn;
    fx.tcp(4000, tcp_syn, 0, &syn);
    const int n = router_fixture::node_of(syn);
    CHECK(active(fx, n) == 1);

    CHECK(fx.tcp(4000, tcp_fin | tcp_ack, 100).act == action::forward);
    CHECK(active(fx, n) == 0);
    CHECK(fin(fx, n) == 1);
    CHECK(fx.tcp(4000, tcp_ack, 1000).act == action::forward);  // packets keep flowing in FIN state

    const std::uint32_t last = 1000;
    const long gone = age_until_size(fx, last, last + 2 * router_fixture::fin_ms, 0);
    CHECK(gone >= last + router_fixture::fin_ms);
    CHECK(gone <= last + router_fixture::fin_ms + pass_ms(fx));
    CHECK(fin(fx, n) == 0);
    CHECK(fx.nstats[fx.slot_of(n)].completed.read() == 1);
    CHECK(fx.stats.event(conn_event::expired_fin).read() == 1);
}

TEST_CASE("RST removes the connection and is still forwarded", "[router]") {
    router_fixture fx;
    bytes syn, rst;
    fx.tcp(5000, tcp_syn, 0, &syn);
    CHECK(fx.tcp(5000, tcp_rst | tcp_ack, 10, &rst).act == action::forward);
    CHECK(router_fixture::node_of(rst) == router_fixture::node_of(syn));
    CHECK(fx.table.size() == 0);
    CHECK(active(fx, router_fixture::node_of(syn)) == 0);
    CHECK(fx.nstats[fx.slot_of(router_fixture::node_of(syn))].completed.read() == 1);
    CHECK(fx.tcp(5000, tcp_ack, 20).why == drop_reason::no_connection);
}

TEST_CASE("SYN re-establishes an existing entry as ACTIVE on the same node", "[router]") {
    router_fixture fx;
    bytes first, again;
    fx.tcp(6000, tcp_syn, 0, &first);
    fx.tcp(6000, tcp_fin | tcp_ack, 10);
    const int n = router_fixture::node_of(first);
    REQUIRE(fin(fx, n) == 1);
    nodes_of_new_connections(fx, 100, 4, 20);  // move the WRR on
    CHECK(fx.tcp(6000, tcp_syn, 30, &again).act == action::forward);
    CHECK(router_fixture::node_of(again) == n);
    CHECK(fin(fx, n) == 0);
    CHECK(fx.stats.event(conn_event::syn_reopened).read() == 1);
    // ACTIVE again: it now lives by the stale timer, not the FIN timer.
    const std::uint32_t after_fin = 30 + router_fixture::fin_ms + pass_ms(fx);
    age_until_size(fx, 30, after_fin, 0);
    CHECK(fx.tcp(6000, tcp_ack, after_fin + 1).act == action::forward);
}

TEST_CASE("an idle ACTIVE connection ages out after STALE_TIME_OUT; traffic keeps it", "[router][timers]") {
    router_fixture fx;
    constexpr auto stale = router_fixture::stale_ms;
    fx.tcp(7000, tcp_syn, 0);
    fx.tcp(7001, tcp_syn, 0);
    CHECK(age_until_size(fx, 0, stale - 2, 1) == -1);
    fx.tcp(7001, tcp_ack, stale - 1);  // refreshes 7001 only
    const long gone = age_until_size(fx, stale - 1, stale + pass_ms(fx), 1);
    CHECK(gone >= stale);
    CHECK(fx.tcp(7000, tcp_ack, stale + pass_ms(fx)).why == drop_reason::no_connection);
    CHECK(fx.tcp(7001, tcp_ack, stale + pass_ms(fx)).act == action::forward);
    CHECK(fx.stats.event(conn_event::expired_stale).read() == 1);
}

TEST_CASE("an expired entry the sweep has not reached is treated as gone", "[router][timers]") {
    router_fixture fx;
    fx.tcp(7100, tcp_syn, 0);
    CHECK(fx.tcp(7100, tcp_ack, router_fixture::stale_ms).why == drop_reason::no_connection);
    CHECK(fx.stats.event(conn_event::expired_stale).read() == 1);
    CHECK(fx.table.size() == 0);
}

TEST_CASE("aging is incremental: each call visits a bounded slice", "[router][timers]") {
    router_fixture fx(20'000);
    for (std::uint16_t p = 0; p < 10'000; ++p) REQUIRE(fx.tcp(static_cast<std::uint16_t>(10'000 + p), tcp_syn, 0).act == action::forward);
    const auto rate = router::sweep_rate(fx.table.slot_count());
    fx.router.age(*fx.snap, 20'000);
    const auto removed = fx.router.age(*fx.snap, 20'001);  // 1 ms later
    CHECK(removed <= rate);
    CHECK(fx.table.size() >= 10'000 - rate);
    for (std::uint32_t t = 20'002; fx.table.size() > 0 && t < 40'000; ++t) fx.router.age(*fx.snap, t);
    CHECK(fx.table.size() == 0);
}

TEST_CASE("UDP flows are tracked by 5-tuple with the stale timer", "[router][timers]") {
    router_fixture fx;
    const frame_spec s = dns_query();
    bytes f = make_ipv4(s);
    CHECK(fx.send(f, 0).act == action::forward);
    CHECK(router_fixture::node_of(f) == 1);
    CHECK(fx.table.size() == 1);
    f = make_ipv4(s);
    CHECK(fx.send(f, 100).act == action::forward);
    CHECK(fx.table.size() == 1);
    const long gone = age_until_size(fx, 100, 100 + 2 * router_fixture::stale_ms, 0);
    CHECK(gone >= 100 + router_fixture::stale_ms);
    CHECK(gone <= 100 + router_fixture::stale_ms + pass_ms(fx));
}

TEST_CASE("all weights zero: no node, packet dropped and counted", "[router]") {
    router_fixture fx;
    for (auto& n : fx.http().nodes) n.weight = 0;
    fx.rebuild();
    CHECK(fx.tcp(8000, tcp_syn, 0).why == drop_reason::no_node);
    CHECK(fx.drops(drop_reason::no_node) == 1);
    CHECK(fx.sstats[*fx.slots.find_service({vip, common::l4_proto::tcp, 80})].no_node.read() == 1);
    CHECK(fx.table.size() == 0);
}

TEST_CASE("a full connection table drops new connections and keeps the old ones", "[router]") {
    router_fixture fx(4);
    for (std::uint16_t p = 0; p < 4; ++p) REQUIRE(fx.tcp(static_cast<std::uint16_t>(9000 + p), tcp_syn, 0).act == action::forward);
    CHECK(fx.tcp(9100, tcp_syn, 0).why == drop_reason::conn_table_full);
    CHECK(fx.drops(drop_reason::conn_table_full) == 1);
    CHECK(fx.tcp(9000, tcp_ack, 1).act == action::forward);
}

TEST_CASE("SYNs refused by a full table do not move the round robin on", "[router][wrr]") {
    router_fixture fx(3);
    CHECK(nodes_of_new_connections(fx, 30'000, 3, 0) == "112");  // 3:2:1 goes 1 1 2 1 2 3
    CHECK(nodes_of_new_connections(fx, 30'100, 5, 0) == "-----");  // full: all refused
    CHECK(fx.drops(drop_reason::conn_table_full) == 5);
    REQUIRE(fx.tcp(30'000, tcp_rst, 1).act == action::forward);  // one entry leaves
    CHECK(nodes_of_new_connections(fx, 30'200, 1, 2) == "1");    // the 4th pick, as if nothing was refused
}

TEST_CASE("a quiesced node keeps its connections and takes no new ones", "[router][runtime]") {
    router_fixture fx;
    bytes syn;
    fx.tcp(10'000, tcp_syn, 0, &syn);
    REQUIRE(router_fixture::node_of(syn) == 1);
    fx.http().nodes[0].quiesced = true;
    fx.rebuild();
    CHECK(nodes_of_new_connections(fx, 11'000, 6, 1).find('1') == std::string::npos);
    bytes data;
    CHECK(fx.tcp(10'000, tcp_ack, 2, &data).act == action::forward);
    CHECK(router_fixture::node_of(data) == 1);
}

TEST_CASE("a failed node takes no new connections; its TCP connections are reset at their next segment, "
          "its UDP flows move", "[router][runtime][tcp_reset]") {
    router_fixture fx;
    fx.clusters[0].ports[1].nodes.push_back(router_fixture::node(2, 1));  // udp/53 on nodes 1 and 2
    fx.rebuild();
    std::vector<std::uint16_t> on1;  // client ports of node 1's connections
    for (std::uint16_t p = 10'000; p < 10'012; ++p) {
        bytes syn;
        REQUIRE(fx.tcp(p, tcp_syn, 0, &syn).act == action::forward);
        if (router_fixture::node_of(syn) == 1) on1.push_back(p);
    }
    REQUIRE(on1.size() == 6);
    const frame_spec udp = dns_query();
    bytes q = make_ipv4(udp);
    REQUIRE(fx.send(q, 0).act == action::forward);
    REQUIRE(router_fixture::node_of(q) == 1);

    fx.failed.insert(node_ip(1));
    fx.rebuild();
    CHECK(nodes_of_new_connections(fx, 11'000, 10, 1).find('1') == std::string::npos);
    CHECK(active(fx, 1) == 6);  // kept until each shows itself: the sweep leaves them

    // Its client's next segment: a reset back to the client, the entry gone.
    bytes f;
    const verdict v = fx.tcp(on1[0], tcp_ack, 2, &f);
    REQUIRE(v.act == action::reply);
    CHECK(f[14 + 20 + 13] == tcp_rst);
    CHECK(fx.stats.event(conn_event::node_failed).read() == 1);
    CHECK(fx.stats.tcp_resets.read() == 1);
    CHECK(active(fx, 1) == 5);
    // Its next segment again: no entry, no window: dropped (the client has its reset).
    CHECK(fx.tcp(on1[0], tcp_ack, 3).why == drop_reason::no_connection);
    // A client's RST is not answered; a new SYN on a failed node's 4-tuple goes to a live node.
    CHECK(fx.tcp(on1[1], tcp_rst, 3).why == drop_reason::no_connection);
    bytes syn;
    REQUIRE(fx.tcp(on1[2], tcp_syn, 3, &syn).act == action::forward);
    CHECK(router_fixture::node_of(syn) != 1);
    CHECK(active(fx, 1) == 3);
    // The UDP flow moves to node 2.
    q = make_ipv4(udp);
    REQUIRE(fx.send(q, 4).act == action::forward);
    CHECK(router_fixture::node_of(q) == 2);
    CHECK(fx.stats.event(conn_event::node_failed).read() == 4);
    // The sweep leaves the failed node's entries alone until their timers.
    for (std::uint32_t t = 5; t < 5 + pass_ms(fx); ++t) fx.router.age(*fx.snap, t);
    CHECK(active(fx, 1) == 3);

    // Live again: new connections reach it, the ones left forward again.
    fx.failed.clear();
    fx.rebuild();
    CHECK(nodes_of_new_connections(fx, 12'000, 6, 100).find('1') != std::string::npos);
    CHECK(fx.tcp(on1[3], tcp_ack, 100).act == action::forward);
    CHECK(fx.stats.accounted() == fx.stats.rx_pkts.read());
}

TEST_CASE("a weight change re-spreads new connections only", "[router][runtime]") {
    router_fixture fx;
    bytes syn;
    fx.tcp(12'000, tcp_syn, 0, &syn);
    const int first = router_fixture::node_of(syn);
    fx.http().nodes[0].weight = 0;
    fx.http().nodes[1].weight = 1;
    fx.http().nodes[2].weight = 1;
    fx.rebuild();
    const std::string spread = nodes_of_new_connections(fx, 13'000, 6, 1);
    CHECK(spread.find('1') == std::string::npos);
    CHECK(std::count(spread.begin(), spread.end(), '2') == 3);
    bytes data;
    fx.tcp(12'000, tcp_ack, 2, &data);
    CHECK(router_fixture::node_of(data) == first);
}

TEST_CASE("a deleted node drains: its connections go on until its slot is released", "[router][runtime]") {
    router_fixture fx;
    bytes syn;
    fx.tcp(14'000, tcp_syn, 0, &syn);
    REQUIRE(router_fixture::node_of(syn) == 1);
    const auto slot = fx.slot_of(1);
    fx.http().nodes.erase(fx.http().nodes.begin());
    fx.rebuild();
    CHECK(fx.slots.nodes()[slot].draining);
    CHECK(fx.snap->nodes[slot].flags & snap_node::draining);
    CHECK(nodes_of_new_connections(fx, 15'000, 6, 1).find('1') == std::string::npos);
    bytes data;
    CHECK(fx.tcp(14'000, tcp_ack, 2, &data).act == action::forward);
    CHECK(router_fixture::node_of(data) == 1);

    // The controller releases the slot (pretend it saw no connection left):
    // the entry is then recognised as orphaned and removed.
    fx.slots.release_drained([](std::uint16_t) { return true; });
    fx.rebuild();
    CHECK(fx.tcp(14'000, tcp_ack, 3).why == drop_reason::no_connection);
    CHECK(fx.stats.event(conn_event::node_gone).read() == 1);
}

TEST_CASE("ARP: requests for cluster and own addresses are answered, others are not", "[router][arp]") {
    // Every field of the reply: dataplane/pkt/arp_icmp_test.cpp.
    router_fixture fx;
    for (const common::ipv4_addr asked : {vip, gw_ip}) {
        bytes f = make_arp(1, client_mac, client_ip, {}, asked);
        REQUIRE(fx.send(f, 0).act == action::reply);
        pkt_info info;
        REQUIRE_FALSE(classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
        const auto a = read_arp(f.data(), info);
        CHECK(a.op == 2);
        CHECK(a.sender_mac == gw_mac);
        CHECK(a.sender_ip == asked);
        CHECK(a.target_ip == client_ip);
        CHECK(std::memcmp(f.data(), client_mac.b.data(), 6) == 0);
    }
    bytes other = make_arp(1, client_mac, client_ip, {}, node_ip(1));
    const bytes other_sent = other;
    CHECK(fx.send(other, 0).act == action::consume);  // someone else's: not answered, not a drop
    CHECK(other == other_sent);
    CHECK(fx.stats.consumed.read() == 1);
    CHECK(fx.stats.drops_total() == 0);
    bytes odd = make_arp(7, client_mac, client_ip, {}, vip);  // neither request nor reply
    const bytes odd_sent = odd;
    CHECK(fx.send(odd, 0).why == drop_reason::bad_arp);
    CHECK(odd == odd_sent);
    CHECK(fx.stats.arp_replies.read() == 2);
}

TEST_CASE("ICMP echo to a gateway address is answered; other ICMP, or to other addresses, is not", "[router][icmp]") {
    // The reply's fields and checksums: dataplane/pkt/arp_icmp_test.cpp.
    router_fixture fx;
    frame_spec s;
    s.proto = 1;
    s.payload = "ping-payload";
    for (const common::ipv4_addr asked : {vip, gw_ip}) {
        s.dst = asked;
        bytes f = make_ipv4(s);
        REQUIRE(fx.send(f, 0).act == action::reply);
        pkt_info info;
        REQUIRE_FALSE(classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
        CHECK(info.key.saddr == asked);
        CHECK(info.key.daddr == client_ip);
        CHECK(f[info.l4_off] == 0);
        CHECK(std::memcmp(f.data() + 6, gw_mac.b.data(), 6) == 0);
    }
    CHECK(fx.stats.icmp_replies.read() == 2);

    s.dst = node_ip(1);
    bytes other = make_ipv4(s);
    const bytes other_sent = other;
    CHECK(fx.send(other, 0).why == drop_reason::icmp_not_echo);
    CHECK(other == other_sent);  // left as it came

    s.dst = gw_ip;
    bytes not_echo = make_ipv4(s);
    not_echo[14 + 20] = 0;  // an echo reply to us is not answered
    const bytes not_echo_sent = not_echo;
    CHECK(fx.send(not_echo, 0).why == drop_reason::icmp_not_echo);
    CHECK(not_echo == not_echo_sent);
    CHECK(fx.stats.icmp_replies.read() == 2);
}

TEST_CASE("a standby forwards nothing, answers ARP and ping only for its own address, keeps its table", "[router][role]") {
    router_fixture fx;
    bytes f;
    REQUIRE(fx.tcp(4000, wire::tcp_syn, 0, &f).act == action::forward);  // made while active
    const int node = router_fixture::node_of(f);
    fx.role = gateway_role::standby;
    fx.rebuild();

    CHECK(fx.tcp(4000, wire::tcp_ack, 10).why == drop_reason::standby);
    CHECK(fx.tcp(4001, wire::tcp_syn, 10).why == drop_reason::standby);
    frame_spec udp;
    udp.proto = 17;
    udp.dport = 53;
    bytes u = make_ipv4(udp);
    CHECK(fx.send(u, 10).why == drop_reason::standby);
    CHECK(fx.drops(drop_reason::standby) == 3);
    CHECK(fx.table.size() == 1);  // the connection made while active is kept, nothing new
    CHECK(fx.stats.event(conn_event::created).read() == 1);

    bytes for_vip = make_arp(1, client_mac, client_ip, {}, vip);
    CHECK(fx.send(for_vip, 10).act == action::consume);  // the active answers for the cluster address
    bytes for_port = make_arp(1, client_mac, client_ip, {}, gw_ip);
    CHECK(fx.send(for_port, 10).act == action::reply);
    frame_spec ping;
    ping.proto = 1;
    bytes p = make_ipv4(ping);
    CHECK(fx.send(p, 10).why == drop_reason::icmp_not_echo);
    ping.dst = gw_ip;
    p = make_ipv4(ping);
    CHECK(fx.send(p, 10).act == action::reply);

    fx.role = gateway_role::active;  // taken over again: the kept connection goes on to its node
    fx.rebuild();
    REQUIRE(fx.tcp(4000, wire::tcp_ack, 20, &f).act == action::forward);
    CHECK(router_fixture::node_of(f) == node);
}

TEST_CASE("frames for another MAC are not ours", "[router]") {
    router_fixture fx;
    frame_spec s;
    s.dst_mac = node_mac(9);
    bytes f = make_ipv4(s);
    CHECK(fx.send(f, 0).why == drop_reason::not_for_us);
    s.dst_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};  // broadcast IP frames are not ours either
    f = make_ipv4(s);
    CHECK(fx.send(f, 0).why == drop_reason::not_for_us);
}

TEST_CASE("nodes without a MAC are resolved by ARP and selectable only once resolved", "[router][arp]") {
    router_fixture fx;
    fx.http().nodes[0].mac.reset();
    fx.rebuild();
    REQUIRE(fx.snap->arp_targets.size() == 1);
    CHECK(fx.snap->arp_targets[0].ip == node_ip(1));
    CHECK_FALSE(fx.snap->arp_targets[0].resolved);
    CHECK(nodes_of_new_connections(fx, 16'000, 6, 0).find('1') == std::string::npos);

    bytes reply = make_arp(2, node_mac(1), node_ip(1), gw_mac, gw_ip, gw_mac);
    CHECK(fx.send(reply, 0).act == action::consume);
    REQUIRE(fx.router.learned().size() == 1);
    CHECK(fx.router.learned()[0].ip == node_ip(1));
    CHECK(fx.router.learned()[0].mac == node_mac(1));
    fx.router.clear_learned();

    fx.arp[{0, node_ip(1)}] = node_mac(1);  // what the controller does with it
    fx.rebuild();
    CHECK(fx.snap->arp_targets[0].resolved);
    CHECK(nodes_of_new_connections(fx, 17'000, 6, 0).find('1') != std::string::npos);
}

TEST_CASE("a malformed frame is counted under its reason and changes no state", "[router]") {
    router_fixture fx;
    fx.tcp(18'000, tcp_syn, 0);
    bytes junk = make_ipv4(frame_spec{});
    junk.resize(20);
    CHECK(fx.send(junk, 1).why == drop_reason::truncated);
    CHECK(fx.drops(drop_reason::truncated) == 1);
    CHECK(fx.table.size() == 1);
    CHECK(fx.stats.rx_pkts.read() == 2);
}

TEST_CASE("every received frame ends in exactly one counter", "[router]") {
    router_fixture fx;
    fx.http().nodes[2].mac.reset();  // one node resolved by ARP: its replies are consumed
    fx.rebuild();
    std::vector<bytes> frames;
    for (std::uint16_t p = 0; p < 5; ++p) {
        frame_spec s;
        s.sport = static_cast<std::uint16_t>(20'000 + p);
        frames.push_back(make_ipv4(s));               // SYN: forwarded
        s.tcp_flags = tcp_ack;
        frames.push_back(make_ipv4(s));               // data: forwarded
        s.dport = 81;
        frames.push_back(make_ipv4(s));               // no service
    }
    frames.push_back(make_arp(1, client_mac, client_ip, {}, vip));          // answered
    frames.push_back(make_arp(2, node_mac(3), node_ip(3), gw_mac, gw_ip, gw_mac));  // consumed
    frame_spec ping;
    ping.proto = 1;
    frames.push_back(make_ipv4(ping));                // answered
    frames.push_back(bytes(7, 0));                    // truncated
    for (auto& f : frames) fx.send(f, 0);
    CHECK(fx.stats.rx_pkts.read() == frames.size());
    CHECK(fx.stats.accounted() == frames.size());
    CHECK(fx.stats.consumed.read() == 1);
    CHECK(fx.stats.fwd_pkts.read() == 10);
}

TEST_CASE("a burst's totals: every frame and byte received, the forwarded ones' frames and bytes", "[router]") {
    router_fixture fx;
    std::vector<bytes> frames;
    std::uint64_t all_bytes = 0, fwd_bytes = 0;
    for (std::uint16_t p = 0; p < 6; ++p) {
        frame_spec s;
        s.sport = static_cast<std::uint16_t>(21'000 + p);
        s.payload.assign(100u * p, 'x');  // sizes differ, so a byte sum of the wrong frames differs too
        frames.push_back(make_ipv4(s));    // SYN: forwarded
        fwd_bytes += frames.back().size();
        s.dport = 81;
        frames.push_back(make_ipv4(s));    // no service: dropped
    }
    frames.push_back(bytes(7, 0));         // truncated: dropped
    std::vector<std::uint8_t*> ptrs;
    std::vector<std::uint32_t> lens;
    std::vector<std::uint16_t> ports(frames.size(), 0);
    for (auto& f : frames) {
        ptrs.push_back(f.data());
        lens.push_back(static_cast<std::uint32_t>(f.size()));
        all_bytes += f.size();
    }
    std::vector<dp::verdict> out(frames.size());
    fx.router.route_burst(*fx.snap, ptrs.data(), lens.data(), ports.data(), static_cast<std::uint32_t>(frames.size()),
                          0, out.data());
    CHECK(fx.stats.rx_pkts.read() == frames.size());
    CHECK(fx.stats.rx_bytes.read() == all_bytes);
    CHECK(fx.stats.fwd_pkts.read() == 6);
    CHECK(fx.stats.fwd_bytes.read() == fwd_bytes);
    std::uint64_t by_nodes = 0;
    for (const auto& n : fx.nstats) by_nodes += n.bytes.read();
    CHECK(by_nodes == fwd_bytes);
}

TEST_CASE("loop durations fall in power-of-two microsecond buckets", "[counters]") {
    CHECK(loop_time_bucket(0) == 0);
    CHECK(loop_time_bucket(1) == 1);
    CHECK(loop_time_bucket(2) == 2);
    CHECK(loop_time_bucket(3) == 2);
    CHECK(loop_time_bucket(4) == 3);
    CHECK(loop_time_bucket(100) == 7);   // [64, 128) us
    CHECK(loop_time_bucket(16'383) == 14);
    CHECK(loop_time_bucket(16'384) == 15);
    CHECK(loop_time_bucket(~0ull) == 15);
}

TEST_CASE("a restored connection forwards its next segment to its node without a SYN", "[router][bulk]") {
    router_fixture fx;
    const auto flow = [](std::uint16_t sport) {
        common::flow_key k;
        k.saddr = client_ip, k.daddr = vip, k.sport = sport, k.dport = 80, k.proto = 6;
        return k;
    };
    const auto entry = [&](std::uint16_t sport, int node, conn_state st) {
        conn_entry e;
        e.key = flow(sport);
        e.hash = common::flow_hash(e.key);
        e.node = fx.slot_of(node);
        e.node_gen = fx.snap->nodes[e.node].gen;
        e.state = st;
        return e;
    };
    // Without an entry an ACK is dropped: that is what a restarted gateway did.
    CHECK(fx.tcp(5000, wire::tcp_ack, 10).act == action::drop);
    CHECK(fx.drops(drop_reason::no_connection) == 1);

    using rr = router::restore_result;
    CHECK(fx.router.restore(entry(5000, 3, conn_state::active), false, 20) == rr::inserted);
    CHECK(fx.router.restore(entry(5001, 2, conn_state::fin), false, 20) == rr::inserted);
    CHECK(fx.nstats[fx.slot_of(3)].active.read() == 1);
    CHECK(fx.nstats[fx.slot_of(2)].fin.read() == 1);
    CHECK(fx.stats.event(conn_event::restored).read() == 2);
    CHECK(fx.nstats[fx.slot_of(3)].new_conns.read() == 0);  // not a new connection

    bytes f;
    REQUIRE(fx.tcp(5000, wire::tcp_ack, 30, &f).act == action::forward);
    CHECK(router_fixture::node_of(f) == 3);  // not the WRR's first pick (node 1)

    // Kept unless replace; replace moves the counters with the entry.
    CHECK(fx.router.restore(entry(5000, 1, conn_state::active), false, 40) == rr::kept);
    CHECK(fx.router.restore(entry(5000, 3, conn_state::active), true, 40) == rr::kept);  // the same already
    CHECK(fx.router.restore(entry(5000, 1, conn_state::fin), true, 40) == rr::replaced);
    CHECK(fx.nstats[fx.slot_of(3)].active.read() == 0);
    CHECK(fx.nstats[fx.slot_of(1)].fin.read() == 1);
    REQUIRE(fx.tcp(5000, wire::tcp_ack, 50, &f).act == action::forward);
    CHECK(router_fixture::node_of(f) == 1);
    CHECK(fx.table.size() == 2);

    // A restored entry ages like any other: idle from when it was restored.
    CHECK(fx.router.restore(entry(5002, 2, conn_state::active), false, 1000) == rr::inserted);
    CHECK(fx.tcp(5002, wire::tcp_ack, 1000 + router_fixture::stale_ms + 1).act == action::drop);
}

TEST_CASE("a full table refuses a restored connection and changes nothing", "[router][bulk]") {
    router_fixture fx(2);
    REQUIRE(fx.tcp(1, wire::tcp_syn, 0).act == action::forward);
    REQUIRE(fx.tcp(2, wire::tcp_syn, 0).act == action::forward);
    conn_entry e;
    e.key.saddr = client_ip, e.key.daddr = vip, e.key.sport = 3, e.key.dport = 80, e.key.proto = 6;
    e.hash = common::flow_hash(e.key);
    e.node = fx.slot_of(1);
    e.node_gen = fx.snap->nodes[e.node].gen;
    e.state = conn_state::active;
    CHECK(fx.router.restore(e, true, 5) == router::restore_result::full);
    CHECK(fx.table.size() == 2);
    CHECK(fx.stats.event(conn_event::restored).read() == 0);
}

TEST_CASE("inside the reset window an unknown connection's segment gets a reset, rate-limited; outside it is dropped",
          "[router][tcp_reset]") {
    router_fixture fx;
    // No window: dropped, as always.
    CHECK(fx.tcp(6000, wire::tcp_ack, 100).why == drop_reason::no_connection);
    fx.reset_until = 5000;
    fx.rebuild();
    bytes f;
    const verdict v = fx.tcp(6000, wire::tcp_ack, 200, &f);
    REQUIRE(v.act == action::reply);
    CHECK(v.len == 54);
    CHECK(f[14 + 20 + 13] == wire::tcp_rst);  // the frame is the reset
    CHECK(fx.stats.tcp_resets.read() == 1);
    CHECK(fx.drops(drop_reason::no_connection) == 1);
    CHECK(fx.table.size() == 0);  // a reset makes no entry
    // A RST is never answered; a SYN still opens a connection; a known one forwards.
    CHECK(fx.tcp(6001, wire::tcp_rst, 300).why == drop_reason::no_connection);
    CHECK(fx.tcp(6002, wire::tcp_syn, 300).act == action::forward);
    CHECK(fx.tcp(6002, wire::tcp_ack, 301).act == action::forward);
    CHECK(fx.stats.tcp_resets.read() == 1);
    // After the window (by difference of the worker clock): dropped again.
    CHECK(fx.tcp(6003, wire::tcp_ack, 5000).why == drop_reason::no_connection);
    CHECK(fx.tcp(6003, wire::tcp_ack, 4999).act == action::reply);
    CHECK(fx.stats.accounted() == fx.stats.rx_pkts.read());

    // The rate limit: a burst of resets_per_s, then one more per 1/resets_per_s s.
    std::uint32_t replied = 0;
    for (std::uint32_t i = 0; i < router::resets_per_s + 100; ++i)
        replied += fx.tcp(static_cast<std::uint16_t>(7000 + i % 50000), wire::tcp_ack, 1000).act == action::reply;
    CHECK(replied <= router::resets_per_s);
    CHECK(replied >= router::resets_per_s - 2);  // the two above, refilled by the time they were sent
    CHECK(fx.stats.resets_limited.read() == router::resets_per_s + 100 - replied);
    CHECK(fx.tcp(1, wire::tcp_ack, 1001).act == action::reply);  // 1 ms later: 10 more
    CHECK(fx.stats.accounted() == fx.stats.rx_pkts.read());
}

namespace {

/// The fixture with a mirror port "peer" (port id 1) in `mode`.
void mirror_on(router_fixture& fx, common::mirror_mode mode, std::vector<common::mirror_service_cfg> services = {}) {
    fx.ports.push_back({"peer", 1, {{0x02, 0, 0, 0, 0, 0x02}}, std::nullopt});
    fx.mirror = common::mirror_cfg{"peer", mode, std::chrono::milliseconds{1000}, std::move(services)};
    fx.rebuild();
}

/// Sends a connection's frames (SYN at 0, data every 100 ms up to 3 s, FIN, RST) and
/// returns how many of its forwarded frames the router marked for the mirror.
unsigned mirrored_frames(router_fixture& fx, std::uint16_t sport) {
    unsigned n = 0;
    n += fx.tcp(sport, tcp_syn, 0).mirror;
    n += fx.tcp(sport, tcp_syn, 1).mirror;  // retransmit
    for (std::uint32_t t = 100; t <= 3000; t += 100) n += fx.tcp(sport, tcp_ack, t).mirror;
    n += fx.tcp(sport, tcp_fin | tcp_ack, 3050).mirror;
    n += fx.tcp(sport, tcp_rst, 3060).mirror;
    return n;
}

}  // namespace

TEST_CASE("without a mirror section nothing is marked for the mirror", "[router][mirror]") {
    router_fixture fx;
    CHECK(mirrored_frames(fx, 7000) == 0);
}

TEST_CASE("every_frame marks every forwarded frame for the mirror", "[router][mirror]") {
    router_fixture fx;
    mirror_on(fx, common::mirror_mode::every_frame);
    CHECK(mirrored_frames(fx, 7000) == 34);
    CHECK_FALSE(fx.tcp(7001, tcp_ack, 4000).mirror);  // dropped (no connection): not forwarded, not mirrored
}

TEST_CASE("state_changes marks SYN, FIN, RST and one refresh per connection per interval", "[router][mirror]") {
    router_fixture fx;
    mirror_on(fx, common::mirror_mode::state_changes);
    // SYN, its retransmit, FIN, RST, and 3 s of data: 2 to 4 refreshes by where the hash puts the intervals.
    const unsigned n = mirrored_frames(fx, 7000);
    CHECK(n >= 4 + 2);
    CHECK(n <= 4 + 4);
    frame_spec udp;
    udp.proto = 17;
    udp.dport = 53;
    bytes u = make_ipv4(udp);
    CHECK(fx.send(u, 5000).mirror);  // a UDP flow's first datagram makes its entry
    u = make_ipv4(udp);
    CHECK_FALSE(fx.send(u, 5001).mirror);
}

TEST_CASE("mirror.services chooses the mirrored cluster ports", "[router][mirror]") {
    router_fixture fx;
    mirror_on(fx, common::mirror_mode::every_frame, {{"web", common::l4_proto::udp, 53}});
    CHECK_FALSE(fx.tcp(7000, tcp_syn, 0).mirror);
    frame_spec udp;
    udp.proto = 17;
    udp.dport = 53;
    bytes u = make_ipv4(udp);
    CHECK(fx.send(u, 0).mirror);
    CHECK(fx.snap->mirror.on);
    CHECK(fx.snap->mirror.port == 1);
}
