// The first hops of a restore's clients, found through the kernel's routes
// and resolved through its neighbour table: on loopback, the hop of
// 127.0.0.1 is itself on lo (a device without ARP: resolved at once), each
// hop found once however many clients share it.
#include <catch2/catch.hpp>

#include <net/if.h>

#include <vector>

#include "control/nodeagent/neigh_warm.hpp"

using cg::control::neigh_hop;
using cg::control::neigh_warm;

TEST_CASE("neigh warm: loopback clients have one hop, resolved at once", "[neigh_warm]") {
    neigh_warm w;
    const std::vector<cg::common::ipv4_addr> clients = {0x7f000001, 0x7f000001, 0x7f000001};
    REQUIRE(w.start(clients).empty());
    REQUIRE(w.hops().size() == 1);
    CHECK(w.hops()[0].ifindex == if_nametoindex("lo"));
    CHECK(w.hops()[0].addr == 0x7f000001);
    CHECK(w.resolved());
}

TEST_CASE("neigh warm: two loopback addresses are two hops on lo", "[neigh_warm]") {
    neigh_warm w;
    const std::vector<cg::common::ipv4_addr> clients = {0x7f000001, 0x7f000002};
    REQUIRE(w.start(clients).empty());
    REQUIRE(w.hops().size() == 2);
    CHECK(w.hops()[1] == neigh_hop{if_nametoindex("lo"), 0x7f000002});
    CHECK(w.resolved());
    CHECK(w.start({}).empty());
    CHECK(w.hops().empty());
}
