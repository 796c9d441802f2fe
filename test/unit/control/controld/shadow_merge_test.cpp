// The merge of the nodes' shadow tables into connection entries
// (control/controld/shadow_merge.hpp), rule by rule, as a table.
#include <catch2/catch.hpp>

#include "control/controld/shadow_merge.hpp"

using namespace cg::control;
using cg::common::ipv4_addr;
using shadow::sock_state;

namespace {

constexpr ipv4_addr vip = 0xc6120064, other_vip = 0xc6120065, client = 0xc6120a01;
constexpr ipv4_addr n1 = 0xc612000b, n2 = 0xc612000c;

shadow::socket_entry sock(sock_state st, std::uint16_t client_port, std::uint8_t proto = 6, ipv4_addr local = vip) {
    return {proto, static_cast<std::uint8_t>(st), local, 80, client, client_port};
}

}  // namespace

TEST_CASE("each socket state becomes the router's state, or no entry", "[shadow][merge]") {
    struct row {
        sock_state st;
        std::uint8_t proto;
        int want;  ///< 0 no entry, 1 ACTIVE, 2 FIN
    };
    const row rows[] = {
        {sock_state::established, 6, 1}, {sock_state::syn_recv, 6, 1},    {sock_state::fin_wait1, 6, 2},
        {sock_state::fin_wait2, 6, 2},   {sock_state::time_wait, 6, 2},   {sock_state::close_wait, 6, 2},
        {sock_state::last_ack, 6, 2},    {sock_state::closing, 6, 2},     {sock_state::syn_sent, 6, 0},
        {sock_state::listen, 6, 0},      {sock_state::close, 6, 0},       {sock_state::established, 17, 1},
        {sock_state::close, 17, 0},      {sock_state::established, 1, 0},
    };
    const std::vector<ipv4_addr> clusters{vip};
    for (const row& r : rows) {
        INFO("state " << shadow::state_name(static_cast<std::uint8_t>(r.st)) << " proto " << int(r.proto));
        const std::vector<node_sockets> in{{n1, {sock(r.st, 40000, r.proto)}}};
        const merged_conns m = merge_shadow(in, clusters);
        if (r.want == 0) {
            CHECK(m.conns.empty());
            CHECK(m.not_connections == 1);
            continue;
        }
        REQUIRE(m.conns.size() == 1);
        const auto& c = m.conns[0];
        CHECK(c.state == r.want);
        CHECK(c.node == n1);
        // The client's direction, as the gateway sees its packets.
        CHECK((c.flow.saddr == client && c.flow.sport == 40000 && c.flow.daddr == vip && c.flow.dport == 80 &&
               c.flow.proto == r.proto));
    }
}

TEST_CASE("sockets of other addresses and unconnected ones are left out", "[shadow][merge]") {
    auto unconnected = sock(sock_state::established, 0, 17);
    unconnected.remote = 0;
    const std::vector<node_sockets> in{{n1, {sock(sock_state::established, 1, 6, other_vip), unconnected,
                                             sock(sock_state::established, 2)}}};
    const std::vector<ipv4_addr> clusters{vip};
    const merged_conns m = merge_shadow(in, clusters);
    REQUIRE(m.conns.size() == 1);
    CHECK(m.conns[0].flow.sport == 2);
    CHECK(m.other_address == 1);
    CHECK(m.not_connections == 1);
}

TEST_CASE("a flow two nodes claim goes where it is ACTIVE, else to the first", "[shadow][merge]") {
    const std::vector<ipv4_addr> clusters{vip};
    struct row {
        sock_state on_n1, on_n2;
        ipv4_addr want;
    };
    for (const row& r : {row{sock_state::time_wait, sock_state::established, n2},
                         row{sock_state::established, sock_state::time_wait, n1},
                         row{sock_state::established, sock_state::established, n1},
                         row{sock_state::close_wait, sock_state::fin_wait2, n1}}) {
        const std::vector<node_sockets> in{{n1, {sock(r.on_n1, 7)}}, {n2, {sock(r.on_n2, 7)}}};
        const merged_conns m = merge_shadow(in, clusters);
        REQUIRE(m.conns.size() == 1);
        CHECK(m.conns[0].node == r.want);
        CHECK(m.conflicts == 1);
    }
    // Different flows from two nodes are all kept.
    const std::vector<node_sockets> both{{n1, {sock(sock_state::established, 1), sock(sock_state::established, 2)}},
                                         {n2, {sock(sock_state::established, 3)}}};
    const merged_conns m = merge_shadow(both, clusters);
    CHECK(m.conns.size() == 3);
    CHECK(m.conflicts == 0);
}
