#include <catch2/catch.hpp>

#include "dataplane/tables/spare_view.hpp"

using namespace cg;
using common::ipv4_addr;

namespace {

constexpr ipv4_addr ip(int last) { return 0xc6120000u + static_cast<ipv4_addr>(last); }  // 198.18.0.<last>

std::vector<common::cluster_cfg> two_ports() {
    common::cluster_cfg c;
    c.name = "web";
    c.address = ip(100);
    for (std::uint16_t port : {80, 443}) {
        common::service_cfg s;
        s.port = port;
        s.nodes = {{ip(11), std::nullopt, 3, 5, "lan", false}, {ip(12), std::nullopt, 2, {}, "lan", true}};
        c.ports.push_back(s);
    }
    return {c};
}

const common::node_cfg* find(const common::service_cfg& s, ipv4_addr a) {
    for (const auto& n : s.nodes)
        if (n.address == a) return &n;
    return nullptr;
}

}  // namespace

TEST_CASE("without a spares table the clusters are served as configured", "[spares]") {
    CHECK(dp::with_spares(two_ports(), {}, {ip(11)}) == two_ports());
}

TEST_CASE("each node's spare stands by on every port of the node, with weight 0", "[spares]") {
    const std::vector<common::spare_cfg> spares{{ip(11), ip(19), 20}};  // .11-.19 -> .31-.39
    const auto out = dp::with_spares(two_ports(), spares, {});
    for (const auto& s : out[0].ports) {
        REQUIRE(s.nodes.size() == 4);
        CHECK(s.nodes[0] == two_ports()[0].ports[0].nodes[0]);  // the working nodes first, untouched
        const common::node_cfg* sp = find(s, ip(31));
        REQUIRE(sp);
        CHECK(sp->weight == 0);
        CHECK(sp->port == "lan");
        CHECK(!sp->mac);  // resolved by ARP, like any node without a configured MAC
        CHECK(!sp->quiesced);
        REQUIRE(find(s, ip(32)));
        CHECK(find(s, ip(32))->weight == 0);
    }
    const auto owners = dp::spare_owners(two_ports(), spares);
    CHECK(owners == std::map<ipv4_addr, ipv4_addr>{{ip(31), ip(11)}, {ip(32), ip(12)}});
}

TEST_CASE("a failed node's spare takes its weight, bound and quiesced flag; the others stand by", "[spares]") {
    const std::vector<common::spare_cfg> spares{{ip(11), ip(19), 20}};
    auto out = dp::with_spares(two_ports(), spares, {ip(11)});
    const common::node_cfg* sp = find(out[0].ports[1], ip(31));
    REQUIRE(sp);
    CHECK(sp->weight == 3);
    CHECK(sp->weight_bound == 5);
    CHECK(find(out[0].ports[1], ip(32))->weight == 0);

    out = dp::with_spares(two_ports(), spares, {ip(12)});
    CHECK(find(out[0].ports[0], ip(32))->weight == 2);
    CHECK(find(out[0].ports[0], ip(32))->quiesced);  // a quiesced node's spare takes no new connections either
    CHECK(find(out[0].ports[0], ip(31))->weight == 0);
}

TEST_CASE("a spare that is a node of the port already is not added twice", "[spares]") {
    auto clusters = two_ports();
    clusters[0].ports[0].nodes.push_back({ip(31), std::nullopt, 1, {}, "lan", false});
    const auto out = dp::with_spares(clusters, {{ip(11), ip(11), 20}}, {ip(11)});
    CHECK(out[0].ports[0].nodes.size() == 3);
    CHECK(find(out[0].ports[0], ip(31))->weight == 1);
    CHECK(out[0].ports[1].nodes.size() == 3);  // the other port gets it as a spare
    CHECK(dp::spare_owners(clusters, {{ip(11), ip(11), 20}}).empty());  // a working node, not a spare
}
