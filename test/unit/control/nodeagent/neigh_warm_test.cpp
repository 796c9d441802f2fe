// The first hops of a restore's clients, found through the kernel's routes
// and resolved through its neighbour table: on loopback, the hop of
// 127.0.0.1 is itself on lo (a device without ARP: resolved at once), each
// hop found once however many clients share it; and, as root, on a veth
// between two network namespaces of the test's own, where the kernel
// resolves them by ARP.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
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

namespace {

int sh(const std::string& cmd) { return std::system((cmd + " >/dev/null 2>&1").c_str()); }

std::string out_of(const std::string& cmd) {
    std::string out;
    if (FILE* p = popen(cmd.c_str(), "r")) {
        char buf[256];
        while (std::fgets(buf, sizeof buf, p)) out += buf;
        pclose(p);
    }
    return out;
}

constexpr cg::common::ipv4_addr ip(unsigned a, unsigned b, unsigned c, unsigned d) { return a << 24 | b << 16 | c << 8 | d; }

/// A spare's namespace and a peer's, joined by a veth: the spare has
/// 192.0.2.1/24 on nw0, a route to 198.51.100.0/24 by 192.0.2.254 and one
/// to 203.0.113.0/24 by 192.0.2.250; the peer answers ARP for 192.0.2.2
/// and 192.0.2.254, nobody for 192.0.2.250.
struct two_namespaces {
    std::string spare = "cgt-nw-" + std::to_string(getpid()) + "-s", peer = "cgt-nw-" + std::to_string(getpid()) + "-p";
    bool ok = false;
    two_namespaces() {
        ok = sh("ip netns add " + spare) == 0 && sh("ip netns add " + peer) == 0 &&
             sh("ip -n " + spare + " link add nw0 type veth peer name nw1 netns " + peer) == 0 &&
             sh("ip -n " + spare + " addr add 192.0.2.1/24 dev nw0") == 0 &&
             sh("ip -n " + peer + " addr add 192.0.2.2/24 dev nw1") == 0 &&
             sh("ip -n " + peer + " addr add 192.0.2.254/24 dev nw1") == 0 &&
             sh("ip -n " + spare + " link set nw0 up") == 0 && sh("ip -n " + peer + " link set nw1 up") == 0 &&
             sh("ip -n " + spare + " route add 198.51.100.0/24 via 192.0.2.254") == 0 &&
             sh("ip -n " + spare + " route add 203.0.113.0/24 via 192.0.2.250") == 0;
    }
    ~two_namespaces() {
        sh("ip netns del " + spare);
        sh("ip netns del " + peer);
    }
};

}  // namespace

TEST_CASE("neigh warm: on a veth between namespaces, a client on the link and routers' hops resolved by ARP",
          "[neigh_warm][netns]") {
    if (geteuid() != 0) {
        WARN("not root: no network namespaces of its own, the namespace case is not run");
        return;
    }
    two_namespaces lab;
    REQUIRE(lab.ok);
    // Nothing has spoken on the veth yet: no neighbour known.
    REQUIRE(out_of("ip -n " + lab.spare + " neigh show dev nw0").find("lladdr") == std::string::npos);
    // Inside the spare's namespace, on a thread of its own (a namespace is a thread's).
    std::string err_start, err_ns;
    std::vector<neigh_hop> hops;
    bool resolved_in_time = false, unreachable_resolved = true;
    unsigned nw0 = 0;
    std::thread t([&] {
        const int fd = open(("/run/netns/" + lab.spare).c_str(), O_RDONLY);
        if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
            err_ns = "setns failed";
            return;
        }
        close(fd);
        nw0 = if_nametoindex("nw0");
        neigh_warm w;
        // The client on the link, two behind 192.0.2.254, one with no route at all.
        const std::vector<cg::common::ipv4_addr> clients = {ip(192, 0, 2, 2), ip(198, 51, 100, 7),
                                                            ip(198, 51, 100, 8), ip(192, 168, 77, 1)};
        err_start = w.start(clients);
        hops = w.hops();
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (!(resolved_in_time = w.resolved()) && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        // A hop nobody answers for stays unresolved.
        neigh_warm nobody;
        const std::vector<cg::common::ipv4_addr> behind_silent = {ip(203, 0, 113, 9)};
        if (nobody.start(behind_silent).empty()) {
            std::this_thread::sleep_for(std::chrono::milliseconds(300));
            unreachable_resolved = nobody.resolved();
        }
    });
    t.join();
    REQUIRE(err_ns.empty());
    REQUIRE(err_start.empty());
    REQUIRE(hops.size() == 2);
    CHECK(hops[0] == neigh_hop{nw0, ip(192, 0, 2, 2)});
    CHECK(hops[1] == neigh_hop{nw0, ip(192, 0, 2, 254)});
    CHECK(resolved_in_time);
    const std::string neigh = out_of("ip -n " + lab.spare + " neigh show dev nw0");
    CAPTURE(neigh);
    // Both hops' MACs known, without a packet sent to any client.
    CHECK(neigh.find("192.0.2.2 lladdr") != std::string::npos);
    CHECK(neigh.find("192.0.2.254 lladdr") != std::string::npos);
    CHECK_FALSE(unreachable_resolved);
}
