#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <vector>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/wire.hpp"
#include "dataplane/router/failed_sweep.hpp"
#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;

namespace {

/// Takes the tickles, or refuses them (no mbuf) while `room` is 0.
struct recording_sink final : failed_sweep::sink {
    std::vector<std::uint16_t> client_ports;
    std::vector<peer_macs::peer> via;
    int room = -1;  ///< tickles it still takes; -1: any number
    bool tickle(const conn_entry& e, const peer_macs::peer& to) noexcept override {
        if (room == 0) return false;
        if (room > 0) --room;
        client_ports.push_back(e.key.sport);
        via.push_back(to);
        return true;
    }
};

std::uint32_t sweep_all(failed_sweep& s, router_fixture& fx, std::uint32_t now, recording_sink& out,
                        std::uint32_t slots = 4096, std::uint32_t tickles = 64) {
    std::uint32_t n = 0;
    for (int turn = 0; turn < 10'000 && (turn == 0 || s.sweeping()); ++turn)
        n += s.step(*fx.snap, fx.table, fx.peers, now, out, fx.stats, slots, tickles);
    return n;
}

/// Twelve TCP clients opened at 0 (ports 10'000 on); returns the ports of
/// the 6 that node 1 took.
std::vector<std::uint16_t> twelve_clients(router_fixture& fx) {
    std::vector<std::uint16_t> on1;
    for (std::uint16_t p = 10'000; p < 10'012; ++p) {
        bytes syn;
        fx.tcp(p, wire::tcp_syn, 0, &syn);
        if (router_fixture::node_of(syn) == 1) on1.push_back(p);
    }
    REQUIRE(on1.size() == 6);
    return on1;
}

}  // namespace

TEST_CASE("peer_macs: one index per (port, MAC); 0 once full", "[failed_sweep]") {
    peer_macs p(2);
    const common::mac_addr a{{2, 0, 0, 0, 0, 1}}, b{{2, 0, 0, 0, 0, 2}};
    const auto ia = p.learn(0, a);
    CHECK(ia == 1);
    CHECK(p.learn(0, a) == ia);
    const auto ib = p.learn(1, a);  // the same MAC on another port is another source
    CHECK(ib == 2);
    CHECK(p.learn(0, b) == 0);
    CHECK(p.full() == 1);
    CHECK(p.at(ia).mac == a);
    CHECK(p.at(ib).port == 1);
}

TEST_CASE("a tickle is a bare ACK from the cluster port to the client, out of any window", "[failed_sweep]") {
    common::flow_key k{0xc6120a01, 0xc6120064, 40000, 80, 6, {0, 0, 0}};
    const common::mac_addr to{{2, 0, 0, 0, 0, 0x10}}, ours{{2, 0, 0, 0, 0, 1}};
    std::uint8_t buf[64];
    const std::uint32_t len = build_tcp_tickle(buf, to, ours, k);
    REQUIRE(len == 54);
    pkt_info info;
    REQUIRE(!classify(buf, len, info));
    CHECK(info.kind == pkt_kind::tcp);
    CHECK(info.key.saddr == k.daddr);
    CHECK(info.key.daddr == k.saddr);
    CHECK(info.key.sport == 80);
    CHECK(info.key.dport == 40000);
    CHECK(info.tcp_flags == wire::tcp_ack);
    CHECK(std::memcmp(buf, to.b.data(), 6) == 0);
    CHECK(std::memcmp(buf + 6, ours.b.data(), 6) == 0);
    CHECK(wire::load32(buf + 34 + 4) == 0);  // seq
    CHECK(wire::load32(buf + 34 + 8) == 0);  // ack
    CHECK(wire::inet_checksum(buf + 14, 20) == 0);  // the IPv4 header's sum checks
    std::uint8_t pseudo[12 + 20];
    std::memcpy(pseudo, buf + 14 + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    pseudo[10] = 0;
    pseudo[11] = 20;
    std::memcpy(pseudo + 12, buf + 34, 20);
    CHECK(wire::inet_checksum(pseudo, sizeof pseudo) == 0);  // and the TCP one
}

TEST_CASE("the sweep tickles a failed node's TCP clients once each, the most recently used first",
          "[failed_sweep]") {
    router_fixture fx;
    // Node 1 takes 6 of 12 at 0 (its stale timer is 10 s); one of them speaks again at 8'950.
    const std::vector<std::uint16_t> on1 = twelve_clients(fx);
    REQUIRE(fx.tcp(on1[4], wire::tcp_ack, 8'950).act == action::forward);
    recording_sink out;
    failed_sweep sweep;
    CHECK(sweep_all(sweep, fx, 9'000, out) == 0);  // nothing failed
    CHECK(!sweep.sweeping());

    fx.failed.insert(node_ip(1));
    fx.rebuild();
    fx.snap->failed_epoch = 1;
    CHECK(sweep_all(sweep, fx, 9'000, out) == 6);
    REQUIRE(out.client_ports.size() == 6);
    CHECK(out.client_ports[0] == on1[4]);  // seen 50 ms ago: the first pass; the others 9 s ago
    for (const auto& v : out.via) CHECK(v.port == 0);
    CHECK(fx.stats.tickles_sent.read() == 6);
    CHECK(fx.table.size() == 12);  // the sweep only tickles: the router resets
    CHECK(sweep_all(sweep, fx, 9'001, out) == 0);  // the same epoch: done

    SECTION("a refused tickle is tried again at the next turn; budgets bound a turn") {
        fx.snap->failed_epoch = 2;
        out = {};
        out.room = 1;
        CHECK(sweep.step(*fx.snap, fx.table, fx.peers, 9'000, out, fx.stats) == 1);
        CHECK(sweep.sweeping());
        out.room = -1;
        CHECK(sweep.step(*fx.snap, fx.table, fx.peers, 9'000, out, fx.stats, 4096, 2) == 2);
        CHECK(sweep_all(sweep, fx, 9'000, out, 16, 1) == 3);
        CHECK(out.client_ports.size() == 6);
    }
    SECTION("a connection whose client source is unknown is counted, not tickled") {
        fx.failed.clear();
        fx.rebuild();
        conn_entry restored{};
        restored.key = {0xc6120a02, 0xc6120064, 5000, 80, 6, {0, 0, 0}};
        restored.hash = common::flow_hash(restored.key);
        restored.node = fx.slot_of(2);
        restored.node_gen = fx.snap->nodes[restored.node].gen;
        restored.state = conn_state::active;
        REQUIRE(fx.router.restore(restored, false, 9'000) == router::restore_result::inserted);
        fx.failed.insert(node_ip(2));
        fx.rebuild();
        fx.snap->failed_epoch = 3;
        out = {};
        CHECK(sweep_all(sweep, fx, 9'000, out) == 4);  // node 2's 4 from SYNs
        CHECK(fx.stats.tickles_no_peer.read() == 1);
    }
}

TEST_CASE("a client whose answer was lost is tickled again a second later, for three rounds at most",
          "[failed_sweep]") {
    router_fixture fx;
    const std::vector<std::uint16_t> on1 = twelve_clients(fx);
    fx.failed.insert(node_ip(1));
    fx.rebuild();
    fx.snap->failed_epoch = 1;
    recording_sink out;
    failed_sweep sweep;
    CHECK(sweep_all(sweep, fx, 9'000, out) == 6);
    CHECK(sweep.round_due());

    // Four clients answer (the router resets them and their entries go); two answers are lost.
    for (int i = 0; i < 4; ++i) CHECK(fx.tcp(on1[static_cast<std::size_t>(i)], wire::tcp_ack, 9'010).act == action::reply);
    REQUIRE(fx.table.size() == 8);
    CHECK(sweep_all(sweep, fx, 9'999, out) == 0);  // within Linux's rate limit on such answers: not yet
    out = {};
    CHECK(sweep_all(sweep, fx, 10'000, out) == 2);
    std::sort(out.client_ports.begin(), out.client_ports.end());  // in table order
    CHECK(out.client_ports == std::vector<std::uint16_t>{on1[4], on1[5]});
    CHECK(fx.stats.tickles_resent.read() == 2);
    // The third round, a second after the second ended; then no more, though two are still there.
    CHECK(sweep_all(sweep, fx, 10'500, out) == 0);
    CHECK(sweep_all(sweep, fx, 11'000, out) == 2);
    CHECK(!sweep.round_due());
    CHECK(sweep_all(sweep, fx, 20'000, out) == 0);
    CHECK(fx.stats.tickles_sent.read() == 10);
    CHECK(fx.stats.tickles_resent.read() == 4);

    SECTION("a round that tickled no one ends the sweep") {
        fx.snap->failed_epoch = 2;  // a node more failed: a new sweep, round one
        CHECK(sweep_all(sweep, fx, 20'000, out) == 2);
        for (std::size_t i = 4; i < 6; ++i) CHECK(fx.tcp(on1[i], wire::tcp_ack, 20'010).act == action::reply);
        CHECK(sweep_all(sweep, fx, 21'000, out) == 0);
        CHECK(!sweep.round_due());
        CHECK(fx.stats.tickles_resent.read() == 4);
    }
}
