// controld's resync (control/controld/table_sync.cpp) against the real
// controller: the requests it computes must give a restarted gatewayd the
// tables the old one had.
#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "control/controld/table_sync.hpp"
#include "support/controller_fixture.hpp"

using namespace cg;
using namespace cg::test;
namespace api = cg::common::api;

namespace {

/// The tables without what only a running data plane has (counters, slots).
std::string shape(const api::tables_rep& t) {
    std::string out;
    for (const auto& c : t.clusters) {
        out += fmt::format("{} {}\n", c.name, common::format_ipv4(c.vip));
        for (const auto& s : c.ports) {
            out += fmt::format(" {}/{} msl {} fin {} stale {} bound {}\n", common::proto_name(s.proto), s.port, s.msl_ms, s.fin_ms,
                               s.stale_ms, s.weight_bound);
            for (const auto& n : s.nodes)
                if (!n.draining)
                    out += fmt::format("  {} {} w {} b {} q {} {}\n", common::format_ipv4(n.address),
                                       n.mac_source == 0 ? common::format_mac(n.mac) : "arp", n.weight,
                                       n.weight_bound.value_or(0), n.quiesced, n.port);
        }
    }
    return out;
}

std::size_t node_count(const api::tables_rep& t) {
    std::size_t n = 0;
    for (const auto& c : t.clusters)
        for (const auto& s : c.ports)
            for (const auto& v : s.nodes) n += v.draining ? 0 : 1;
    return n;
}

}  // namespace

TEST_CASE("resync turns a restarted gateway's tables into the ones it had", "[table_sync][manager]") {
    ctl_fixture before;  // the tables as run-time edits left them
    before.add_web(5, 4);
    before.expect<api::ok_rep>(api::add_node_req{before.http(), node_ip(3), node_mac(3), 7, 9, "", true});
    before.expect<api::ok_rep>(api::set_node_req{before.http(), node_ip(1), 2, {}});
    before.expect<api::ok_rep>(api::add_port_req{{vip, common::l4_proto::udp, 53}, 5'000, 15'000, 20'000, 50});
    before.expect<api::ok_rep>(api::add_node_req{{vip, common::l4_proto::udp, 53}, node_ip(4), node_mac(4), 1, {}, "", false});
    before.expect<api::ok_rep>(api::add_cluster_req{"other", vip + 1});

    ctl_fixture after;  // gatewayd started again from a file that differs
    after.add_web(3, 2);
    after.expect<api::ok_rep>(api::add_node_req{after.http(), node_ip(5), node_mac(5), 1, {}, "", false});
    after.expect<api::ok_rep>(api::add_cluster_req{"gone", vip + 2});

    const auto want = before.tables();
    REQUIRE(shape(after.tables()) != shape(want));
    for (const auto& r : control::resync(want, after.tables())) after.expect<api::ok_rep>(r);
    CHECK(shape(after.tables()) == shape(want));
    CHECK(control::resync(want, after.tables()).empty());  // nothing left to do
}

TEST_CASE("rebuild throws a restarted gateway's tables away and builds the running ones whole, timers included",
          "[table_sync][escalation]") {
    ctl_fixture before;  // the running configuration
    before.add_web(5, 4);
    before.expect<api::ok_rep>(api::add_port_req{{vip, common::l4_proto::udp, 53}, 5'000, 15'000, 20'000, 50});
    before.expect<api::ok_rep>(api::add_node_req{{vip, common::l4_proto::udp, 53}, node_ip(4), node_mac(4), 1, {}, "", false});

    ctl_fixture after;  // same ports, other timers: what a diff does not compare
    after.expect<api::ok_rep>(api::add_cluster_req{"web", vip});
    after.expect<api::ok_rep>(api::add_port_req{after.http(), 1'000, 2'000, 3'000, {}});
    after.expect<api::ok_rep>(api::add_node_req{after.http(), node_ip(1), node_mac(1), 5, {}, "", false});
    after.expect<api::ok_rep>(api::add_node_req{after.http(), node_ip(2), node_mac(2), 4, {}, "", false});
    after.expect<api::ok_rep>(api::add_port_req{{vip, common::l4_proto::udp, 53}, 5'000, 15'000, 20'000, 50});
    after.expect<api::ok_rep>(api::add_node_req{{vip, common::l4_proto::udp, 53}, node_ip(4), node_mac(4), 1, {}, "", false});
    after.expect<api::ok_rep>(api::add_cluster_req{"gone", vip + 2});

    const auto want = before.tables();
    REQUIRE(shape(after.tables()) != shape(want));
    CHECK(control::resync(want, after.tables()).size() == 1);  // only the extra cluster: the timers stay wrong

    const auto ops = control::rebuild(want, after.tables());
    REQUIRE(ops.size() >= 2);
    CHECK(std::holds_alternative<api::del_cluster_req>(ops[0]));  // everything it had goes first
    CHECK(std::holds_alternative<api::del_cluster_req>(ops[1]));
    for (const auto& r : ops) after.expect<api::ok_rep>(r);
    CHECK(shape(after.tables()) == shape(want));
    CHECK(control::rebuild(want, api::tables_rep{}).size() == 6);  // from nothing: cluster, 2 ports, 3 nodes
}

TEST_CASE("spares are gatewayd's own: controld's copy of the tables leaves them out", "[table_sync][spares]") {
    common::gateway_cfg cfg = controller_config();
    cfg.spares = {{node_ip(1), node_ip(2), 4}};
    ctl_fixture before(cfg);
    before.add_web(5, 4);
    before.expect<api::ok_rep>(api::fail_node_req{node_ip(1), true});  // its spare serves, with weight 5
    ctl_fixture after(cfg);  // started again: the same file
    after.add_web(3, 4);

    const auto with = before.tables();
    REQUIRE(with.clusters[0].ports[0].nodes.size() == 4);
    const auto want = control::without_spares(with);
    REQUIRE(want.clusters[0].ports[0].nodes.size() == 2);
    for (const auto& n : want.clusters[0].ports[0].nodes) CHECK(n.spare_for == 0);
    // Neither a resync nor a rebuild touches a spare: gatewayd adds them from its file.
    for (const auto& r : control::resync(want, control::without_spares(after.tables()))) after.expect<api::ok_rep>(r);
    CHECK(shape(control::without_spares(after.tables())) == shape(want));
    CHECK(after.tables().clusters[0].ports[0].nodes.size() == 4);  // its spares, standing by until the mark comes
    for (const auto& r : control::rebuild(want, control::without_spares(after.tables()))) after.expect<api::ok_rep>(r);
    CHECK(shape(control::without_spares(after.tables())) == shape(want));
    after.expect<api::ok_rep>(api::fail_node_req{node_ip(1), true});  // what controld sends after either
    CHECK(shape(after.tables()) == shape(with));
}

TEST_CASE("a spares table edited at run time is given back whole, after the nodes", "[table_sync][spares]") {
    ctl_fixture before;
    before.add_web(5, 4);
    before.expect<api::ok_rep>(api::set_spares_req{{{node_ip(1), node_ip(1), node_ip(7)}}});
    ctl_fixture after;  // started again from a file without spares
    after.add_web(5, 4);
    const auto want = control::without_spares(before.tables());
    auto ops = control::resync(want, control::without_spares(after.tables()));
    REQUIRE(ops.size() == 1);
    CHECK(std::holds_alternative<api::set_spares_req>(ops.back()));
    for (const auto& r : ops) after.expect<api::ok_rep>(r);
    CHECK(after.tables().spares == before.tables().spares);
    CHECK(node_count(after.tables()) == 3);
    for (const auto& r : control::rebuild(want, control::without_spares(after.tables()))) after.expect<api::ok_rep>(r);
    CHECK(after.tables().spares == before.tables().spares);
    CHECK(control::resync(want, control::without_spares(after.tables())).empty());
}
