#include <catch2/catch.hpp>

#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;

namespace {
const service_key http_id{vip, common::l4_proto::tcp, 80};
}

TEST_CASE("slots stay put while their service or node exists", "[slots]") {
    router_fixture fx;
    const auto s80 = *fx.slots.find_service(http_id);
    const auto n2 = fx.slot_of(2);
    fx.http().nodes[1].weight = 7;
    fx.clusters[0].ports.pop_back();  // udp/53 goes away
    fx.rebuild();
    CHECK(*fx.slots.find_service(http_id) == s80);
    CHECK(fx.slot_of(2) == n2);
    CHECK(fx.slots.nodes()[n2].cfg.weight == 7);
    CHECK_FALSE(fx.slots.find_service({vip, common::l4_proto::udp, 53}));
}

TEST_CASE("a removed node drains in its slot and comes back to it", "[slots]") {
    router_fixture fx;
    const auto slot = fx.slot_of(3);
    const auto gen = fx.slots.nodes()[slot].gen;
    const auto saved = fx.http().nodes[2];
    fx.http().nodes.pop_back();
    fx.rebuild();
    CHECK(fx.slots.nodes()[slot].draining);
    CHECK(fx.slots.nodes()[slot].used);
    CHECK(fx.snap->services[*fx.slots.find_service(http_id)].count == 2);

    fx.http().nodes.push_back(saved);
    fx.rebuild();
    CHECK(fx.slot_of(3) == slot);
    CHECK_FALSE(fx.slots.nodes()[slot].draining);
    CHECK(fx.slots.nodes()[slot].gen == gen);
}

TEST_CASE("releasing a drained slot bumps its generation", "[slots]") {
    router_fixture fx;
    const auto slot = fx.slot_of(3);
    const auto gen = fx.slots.nodes()[slot].gen;
    fx.http().nodes.pop_back();
    fx.rebuild();
    CHECK(fx.slots.release_drained([&](std::uint16_t s) { return s != slot; }).empty());
    const auto released = fx.slots.release_drained([](std::uint16_t) { return true; });
    REQUIRE(released.size() == 1);
    CHECK(released[0] == slot);
    CHECK_FALSE(fx.slots.nodes()[slot].used);
    CHECK(fx.slots.nodes()[slot].gen == static_cast<std::uint16_t>(gen + 1));
}

TEST_CASE("running out of slots throws and changes nothing", "[slots]") {
    slot_map slots(1, 3);
    common::cluster_cfg c;
    c.address = vip;
    common::service_cfg s;
    s.port = 80;
    s.stale_timeout = common::millis{10'000};
    s.fin_timeout = common::millis{3'000};
    for (int i = 1; i <= 3; ++i) s.nodes.push_back(router_fixture::node(i, 1));
    c.ports = {s};
    slots.sync({c});
    auto less = c;
    less.ports[0].nodes.pop_back();  // node 3 drains in its slot
    slots.sync({less});
    REQUIRE(slots.nodes()[2].draining);
    const std::vector<service_slot> services = slots.services();
    const std::vector<node_slot> nodes = slots.nodes();

    // Each refused sync would also have changed what it could: a weight, a
    // node gone (draining), a timer.
    auto more = less;
    more.ports[0].nodes[0].weight = 9;
    more.ports[0].nodes.erase(more.ports[0].nodes.begin() + 1);
    more.ports[0].nodes.push_back(router_fixture::node(4, 1));  // a fourth slot: there is none free
    more.ports[0].stale_timeout = common::millis{20'000};
    CHECK_THROWS_WITH(slots.sync({more}), Catch::Contains("no free node slot"));
    CHECK(slots.services() == services);
    CHECK(slots.nodes() == nodes);

    auto two = less;
    two.ports[0].nodes[0].weight = 9;
    two.ports.push_back(s);
    two.ports[1].port = 81;
    CHECK_THROWS_WITH(slots.sync({two}), Catch::Contains("no free service slot"));
    CHECK(slots.services() == services);
    CHECK(slots.nodes() == nodes);

    // The same edits without the fourth node fit, and show in what was compared.
    more.ports[0].nodes.pop_back();
    slots.sync({more});
    CHECK(slots.nodes() != nodes);
    CHECK(slots.nodes()[0].cfg.weight == 9);
    CHECK(slots.nodes()[1].draining);
}

TEST_CASE("the snapshot answers service, VIP and ARP-target lookups", "[slots][snapshot]") {
    router_fixture fx;
    const auto& snap = *fx.snap;
    const auto* svc = snap.find_service(vip, 6, 80);
    REQUIRE(svc);
    CHECK(svc->count == 3);
    CHECK(svc->wrr.max_weight == 3);
    CHECK(snap.members_of(*svc)[0].node == fx.slot_of(1));
    CHECK(snap.find_service(vip, 17, 53));
    CHECK_FALSE(snap.find_service(vip, 17, 80));
    CHECK(snap.is_vip(vip));
    CHECK_FALSE(snap.is_vip(gw_ip));
    CHECK(snap.owns_address(0, gw_ip));
    CHECK_FALSE(snap.owns_address(0, node_ip(1)));
    CHECK_FALSE(snap.is_arp_target(node_ip(1)));  // every fixture node has a MAC
    CHECK(snap.nodes[fx.slot_of(2)].fin_ms == router_fixture::fin_ms);
    CHECK(snap.nodes[fx.slot_of(2)].forwardable());
}

TEST_CASE("effective weight is zero when quiesced or unresolved", "[slots][snapshot]") {
    common::node_cfg n;
    n.weight = 5;
    CHECK(effective_weight(n, true) == 5);
    CHECK(effective_weight(n, false) == 0);
    n.quiesced = true;
    CHECK(effective_weight(n, true) == 0);
}
