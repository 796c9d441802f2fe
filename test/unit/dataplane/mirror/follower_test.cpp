// The standby's mirror follower as a packet table: mirrored frames in (the
// frames as the active forwarded them, destination MAC = the node's), the
// standby's connection table and counters out.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "dataplane/mirror/follower.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;
using wire::tcp_ack, wire::tcp_fin, wire::tcp_rst, wire::tcp_syn;

namespace {

const common::mac_addr stranger{{0x02, 0, 0, 0, 0x0e, 0x0e}};

struct standby : router_fixture {
    follower f{router};
    explicit standby(std::uint32_t max_conns = 1000) : router_fixture(max_conns) {
        role = gateway_role::standby;
        rebuild();
    }
    follow_outcome mirrored(const frame_spec& s, std::uint32_t now) {
        const bytes b = make_ipv4(s);
        return f.follow(*snap, b.data(), static_cast<std::uint32_t>(b.size()), now);
    }
    /// The entry of a flow from the client's port `sport` to tcp/80 (or `proto`/`dport`).
    const conn_entry* entry(std::uint16_t sport, std::uint8_t proto = 6, std::uint16_t dport = 80) {
        frame_spec s;
        s.sport = sport;
        s.proto = proto;
        s.dport = dport;
        common::flow_key k{s.src, s.dst, sport, dport, proto};
        const auto pr = table.lookup(k, common::flow_hash(k));
        return pr.hit ? pr.e : nullptr;
    }
};

/// One mirrored frame and what the standby holds after it.
struct step {
    std::string what;
    std::uint16_t sport;
    std::uint8_t flags;           ///< TCP flags (ignored for UDP)
    common::mac_addr dst;         ///< the node's MAC as the active wrote it
    std::uint32_t now;
    follow_outcome outcome;
    conn_state state;             ///< of the flow's entry afterwards; empty: none
    int node;                     ///< 1-based node of the entry, when there is one
    std::uint8_t proto = 6;
    std::uint16_t dport = 80;
};

}  // namespace

TEST_CASE("the follower keeps the standby's table in step with mirrored frames", "[mirror][follower]") {
    const std::vector<step> steps = {
        {"SYN makes an ACTIVE entry on the node its MAC names", 1000, tcp_syn, node_mac(2), 0,
         follow_outcome::followed, conn_state::active, 2},
        {"a SYN retransmit keeps the one entry", 1000, tcp_syn, node_mac(2), 5, follow_outcome::followed,
         conn_state::active, 2},
        {"data refreshes it", 1000, tcp_ack, node_mac(2), 2000, follow_outcome::followed, conn_state::active, 2},
        {"FIN moves it to FIN", 1000, tcp_fin | tcp_ack, node_mac(2), 2100, follow_outcome::followed,
         conn_state::fin, 2},
        {"the FIN's retransmit leaves it in FIN", 1000, tcp_fin | tcp_ack, node_mac(2), 2200,
         follow_outcome::followed, conn_state::fin, 2},
        {"a second connection, on node 3", 1001, tcp_syn, node_mac(3), 2300, follow_outcome::followed,
         conn_state::active, 3},
        {"RST removes it", 1001, tcp_rst, node_mac(3), 2400, follow_outcome::followed, conn_state::empty, 0},
        {"an RST of a connection it does not know changes nothing", 1002, tcp_rst, node_mac(1), 2500,
         follow_outcome::followed, conn_state::empty, 0},
        {"data of a connection it does not know (the standby started late): learned", 1003, tcp_ack, node_mac(1),
         2600, follow_outcome::followed, conn_state::active, 1},
        {"a FIN it does not know: learned in FIN state", 1004, tcp_fin | tcp_ack, node_mac(1), 2700,
         follow_outcome::followed, conn_state::fin, 1},
        {"the active moved a connection to another node: so does the standby", 1003, tcp_ack, node_mac(3), 2800,
         follow_outcome::followed, conn_state::active, 3},
        {"an unknown MAC: counted, ignored", 1005, tcp_syn, stranger, 2900, follow_outcome::unknown_node,
         conn_state::empty, 0},
        {"a MAC of a node of another cluster port: unknown here", 1006, tcp_syn, node_mac(1), 3000,
         follow_outcome::unknown_service, conn_state::empty, 0, 6, 81},
        {"UDP datagrams create an entry too", 5300, 0, node_mac(1), 3100, follow_outcome::followed,
         conn_state::active, 1, 17, 53},
        {"UDP to a MAC that is no node of udp/53", 5301, 0, node_mac(2), 3200, follow_outcome::unknown_node,
         conn_state::empty, 0, 17, 53},
    };
    standby fx;
    for (const step& st : steps) {
        INFO(st.what);
        frame_spec s;
        s.dst_mac = st.dst;
        s.src_mac = gw_mac;  // the active's port: the follower does not care
        s.sport = st.sport;
        s.proto = st.proto;
        s.dport = st.dport;
        s.tcp_flags = st.flags;
        CHECK(fx.mirrored(s, st.now) == st.outcome);
        const conn_entry* e = fx.entry(st.sport, st.proto, st.dport);
        if (st.state == conn_state::empty) {
            CHECK(e == nullptr);
            continue;
        }
        REQUIRE(e != nullptr);
        CHECK(e->state == st.state);
        CHECK(fx.snap->nodes[e->node].mac == node_mac(st.node));
        CHECK(e->last_seen == st.now);
    }
    CHECK(fx.table.size() == 4);  // 1000 (FIN), 1003, 1004 (FIN), the UDP flow
    CHECK(fx.stats.mirror_followed.read() == 12);
    CHECK(fx.stats.mirror_unknown_node.read() == 2);
    CHECK(fx.stats.mirror_unknown_service.read() == 1);
    CHECK(fx.stats.event(conn_event::created).read() == 3);  // 1000, 1001, the UDP flow
    CHECK(fx.stats.event(conn_event::learned).read() == 2);
    CHECK(fx.stats.event(conn_event::reset).read() == 1);
    CHECK(fx.stats.event(conn_event::fin_seen).read() == 1);
    CHECK(fx.stats.rx_pkts.read() == steps.size());
    CHECK(fx.stats.accounted() == steps.size());
    // The gauges follow the entries, the moved one included.
    CHECK(fx.nstats[fx.slot_of(1)].active.read() == 0);
    CHECK(fx.nstats[fx.slot_of(1)].fin.read() == 1);
    CHECK(fx.nstats[fx.slot_of(2)].fin.read() == 1);
    CHECK(fx.nstats[fx.slot_of(3)].active.read() == 1);
}

TEST_CASE("refreshes keep a followed connection past the stale timer; without them it ages out",
          "[mirror][follower][timers]") {
    standby fx;
    frame_spec s;
    s.dst_mac = node_mac(1);
    s.sport = 2000;
    REQUIRE(fx.mirrored(s, 0) == follow_outcome::followed);
    s.sport = 2001;
    REQUIRE(fx.mirrored(s, 0) == follow_outcome::followed);
    s.tcp_flags = tcp_ack;
    for (std::uint32_t t = 1000; t < 2 * router_fixture::stale_ms; t += 1000) {
        s.sport = 2000;  // only this one gets its refreshes
        REQUIRE(fx.mirrored(s, t) == follow_outcome::followed);
        fx.router.age(*fx.snap, t);
    }
    fx.router.age(*fx.snap, 2 * router_fixture::stale_ms);
    CHECK(fx.entry(2000) != nullptr);
    CHECK(fx.entry(2001) == nullptr);
    CHECK(fx.stats.event(conn_event::expired_stale).read() == 1);
}

TEST_CASE("after takeover the followed connections forward to their nodes without a SYN", "[mirror][follower][role]") {
    standby fx;
    for (int node = 1; node <= 3; ++node) {
        frame_spec s;
        s.dst_mac = node_mac(node);
        s.sport = static_cast<std::uint16_t>(3000 + node);
        REQUIRE(fx.mirrored(s, 0) == follow_outcome::followed);
    }
    fx.role = gateway_role::active;
    fx.rebuild();
    for (int node = 1; node <= 3; ++node) {
        bytes f;
        REQUIRE(fx.tcp(static_cast<std::uint16_t>(3000 + node), tcp_ack, 10, &f).act == action::forward);
        CHECK(router_fixture::node_of(f) == node);
    }
}

TEST_CASE("frames the follower cannot use are counted and change nothing", "[mirror][follower]") {
    standby fx;
    SECTION("an active ignores its mirror port") {
        fx.role = gateway_role::active;
        fx.rebuild();
        frame_spec s;
        s.dst_mac = node_mac(1);
        CHECK(fx.mirrored(s, 0) == follow_outcome::ignored);
        CHECK(fx.stats.mirror_ignored.read() == 1);
    }
    SECTION("ARP, ICMP, junk and fragments") {
        const bytes arp = make_arp(1, client_mac, client_ip, {}, vip);
        CHECK(fx.f.follow(*fx.snap, arp.data(), static_cast<std::uint32_t>(arp.size()), 0) == follow_outcome::ignored);
        frame_spec ping;
        ping.proto = 1;
        ping.dst_mac = node_mac(1);
        CHECK(fx.mirrored(ping, 0) == follow_outcome::ignored);
        const bytes junk(9, 0xab);
        CHECK(fx.f.follow(*fx.snap, junk.data(), static_cast<std::uint32_t>(junk.size()), 0) == follow_outcome::ignored);
        frame_spec frag;
        frag.dst_mac = node_mac(1);
        frag.frag = 0x2000;
        CHECK(fx.mirrored(frag, 0) == follow_outcome::ignored);
        CHECK(fx.stats.mirror_ignored.read() == 4);
    }
    SECTION("a node whose MAC the standby has not resolved yet is unknown") {
        fx.http().nodes[0].mac.reset();
        fx.rebuild();
        frame_spec s;
        s.dst_mac = node_mac(1);
        CHECK(fx.mirrored(s, 0) == follow_outcome::unknown_node);
        fx.arp[{0, node_ip(1)}] = node_mac(1);  // its ARP reply came
        fx.rebuild();
        CHECK(fx.mirrored(s, 1) == follow_outcome::followed);
    }
    SECTION("a full table") {
        standby small(8);
        frame_spec s;
        s.dst_mac = node_mac(1);
        for (std::uint16_t p = 0; !small.table.full(); ++p) {
            s.sport = static_cast<std::uint16_t>(10'000 + p);
            REQUIRE(small.mirrored(s, 0) == follow_outcome::followed);
        }
        s.sport = 9999;
        CHECK(small.mirrored(s, 0) == follow_outcome::table_full);
        CHECK(small.drops(drop_reason::conn_table_full) == 1);
        CHECK(small.stats.accounted() == small.stats.rx_pkts.read());
    }
    CHECK(fx.stats.accounted() == fx.stats.rx_pkts.read());
}
