// The semantic rules as the controller uses them: on a model built in code,
// with `where` naming an API request. config_test.cpp runs the same rules
// through the loader, with line numbers.
#include <catch2/catch.hpp>

#include <functional>
#include <string>

#include "common/config_check.hpp"

using namespace cg::common;
using namespace std::chrono_literals;

namespace {

ipv4_addr ip(const char* text) { return parse_ipv4(text).value(); }

/// Three ports (mirror is used by no node), cluster web with tcp/80 and
/// udp/80, and a cluster without a name.
gateway_cfg valid_cfg() {
    gateway_cfg g;
    g.name = "gw-a";
    g.control_socket = "/run/clustergate/gw-a.sock";
    g.lcores = {0, {1, 2}, 3};
    g.ports = {{"lan", "net_null0", ip("198.18.0.2"), std::nullopt, 1024, 1024},
               {"wan", "net_null1", std::nullopt, std::nullopt, 1024, 1024},
               {"mirror", "net_null2", std::nullopt, std::nullopt, 64, 16384}};
    const node_cfg n11{ip("198.18.0.11"), mac_addr{{2, 0, 0, 0, 0, 0x11}}, 3, std::nullopt, "lan", false};
    const node_cfg n12{ip("198.18.0.12"), std::nullopt, 0, 10, "lan", true};
    const node_cfg n21{ip("198.18.1.21"), mac_addr{{2, 0, 0, 0, 1, 0x21}}, 100, std::nullopt, "wan", false};
    service_cfg tcp80;
    tcp80.port = 80;
    tcp80.nodes = {n11, n12};
    service_cfg udp80 = tcp80;
    udp80.protocol = l4_proto::udp;
    service_cfg tcp443;
    tcp443.port = 443;
    tcp443.nodes = {n21};
    g.clusters = {{"web", ip("198.18.0.100"), {tcp80, udp80}}, {"", ip("198.18.0.101"), {tcp443}}};
    return g;
}

std::vector<config_error> check_all(const gateway_cfg& g) {
    auto errors = check_static(g, "PUT /clusters");
    const auto more = check_clusters(g, "PUT /clusters");
    errors.insert(errors.end(), more.begin(), more.end());
    return errors;
}

node_cfg& node11(gateway_cfg& g) { return g.clusters[0].ports[0].nodes[0]; }
node_cfg& node12(gateway_cfg& g) { return g.clusters[0].ports[0].nodes[1]; }
service_cfg& web80(gateway_cfg& g) { return g.clusters[0].ports[0]; }

struct rule_case {
    std::function<void(gateway_cfg&)> change;
    std::string key;
    std::string reason;  ///< a distinctive part of the reason
};

const std::string web80_key = "clusters[web].ports[tcp/80]";
const std::string node11_key = web80_key + ".nodes[198.18.0.11]";

}  // namespace

TEST_CASE("key paths name clusters, ports and nodes", "[config][check]") {
    const gateway_cfg g = valid_cfg();
    CHECK(cluster_key(g.clusters[0]) == "clusters[web]");
    CHECK(cluster_key(g.clusters[1]) == "clusters[198.18.0.101]");
    CHECK(service_key(g.clusters[0], g.clusters[0].ports[1]) == "clusters[web].ports[udp/80]");
    CHECK(node_key(g.clusters[1], g.clusters[1].ports[0], g.clusters[1].ports[0].nodes[0]) ==
          "clusters[198.18.0.101].ports[tcp/443].nodes[198.18.1.21]");
    CHECK(port_key(g.ports[1], 1) == "ports[wan]");
    CHECK(port_key(port_cfg{}, 4) == "ports[4]");
}

TEST_CASE("a valid configuration passes both checks", "[config][check]") {
    const auto errors = check_all(valid_cfg());
    CHECK(errors.empty());
}

TEST_CASE("each rule reports its key and reason", "[config][check]") {
    const auto c = GENERATE(values<rule_case>({
        // static part
        {[](gateway_cfg& g) { g.name = ""; }, "gateway.name", "'' cannot name a gateway"},
        {[](gateway_cfg& g) { g.name = "gw/a"; }, "gateway.name", "it becomes the DPDK file prefix"},
        {[](gateway_cfg& g) { g.control_socket = ""; }, "gateway.control_socket", "must be an absolute path"},
        {[](gateway_cfg& g) { g.control_socket = "/" + std::string(107, 'x'); }, "gateway.control_socket",
         "shorter than 108 bytes"},
        {[](gateway_cfg& g) { g.idle_sleep = -1us; }, "gateway.idle_sleep", "must be between 0s and 10ms"},
        {[](gateway_cfg& g) { g.idle_sleep = 10001us; }, "gateway.idle_sleep", "got 10ms1us"},
        {[](gateway_cfg& g) { g.lcores.main = 128; }, "lcores.main", "lcore 128 is out of range 0..127"},
        {[](gateway_cfg& g) { g.lcores.workers.clear(); }, "lcores.workers", "at least one worker"},
        {[](gateway_cfg& g) { g.lcores.workers = {1, 1}; }, "lcores.workers", "lcore 1 is listed twice"},
        {[](gateway_cfg& g) { g.lcores.workers = {0, 1}; }, "lcores.workers", "lcore 0 is the main lcore"},
        {[](gateway_cfg& g) { g.lcores.workers = {1, 127, 128}; }, "lcores.workers", "lcore 128 is out of range"},
        {[](gateway_cfg& g) { g.lcores.dispatch = 0; }, "lcores.dispatch", "dispatch needs an lcore of its own"},
        {[](gateway_cfg& g) { g.lcores.dispatch = 2; }, "lcores.dispatch", "lcore 2 is already the main lcore or"},
        {[](gateway_cfg& g) { g.lcores.dispatch = 130; }, "lcores.dispatch", "lcore 130 is out of range"},
        {[](gateway_cfg& g) { g.ports.clear(), g.clusters.clear(); }, "ports", "at least one port"},
        {[](gateway_cfg& g) { g.ports[2].name = ""; }, "ports[2].name", "a port needs a name"},
        {[](gateway_cfg& g) { g.ports[2].name = "a.b"; }, "ports[a.b].name", "'a.b' cannot name a port"},
        {[](gateway_cfg& g) { g.ports[2].name = std::string(17, 'm'); }, "ports[mmmmmmmmmmmmmmmmm].name",
         "use 1 to 16 letters"},
        {[](gateway_cfg& g) { g.ports[2].name = "lan"; }, "ports[lan].name", "port name 'lan' is used twice"},
        {[](gateway_cfg& g) { g.ports[2].device = ""; }, "ports[mirror].device", "a port needs a device"},
        {[](gateway_cfg& g) { g.ports[2].address = 0; }, "ports[mirror].address",
         "0.0.0.0 cannot be the address of a port"},
        {[](gateway_cfg& g) { g.ports[2].rx_descriptors = 96; }, "ports[mirror].rx_descriptors",
         "must be a power of two between 64 and 16384, got 96"},
        {[](gateway_cfg& g) { g.ports[2].tx_descriptors = 32768; }, "ports[mirror].tx_descriptors", "got 32768"},
        {[](gateway_cfg& g) { g.tables.connections = 0; }, "tables.connections", "between 1 and 1000000000, got 0"},
        {[](gateway_cfg& g) { g.tables.services = 65536; }, "tables.services", "between 1 and 65535, got 65536"},
        {[](gateway_cfg& g) { g.tables.nodes = 65536; }, "tables.nodes", "between 1 and 65535, got 65536"},
        {[](gateway_cfg& g) { g.tables.mbufs = 1000; }, "tables.mbufs", "between 1023 and 16777215, got 1000"},
        {[](gateway_cfg& g) { g.tables.burst = 1024; }, "tables.burst", "between 1 and 512, got 1024"},
        {[](gateway_cfg& g) { g.timers.msl = 0ms; }, "timers.msl", "between 1ms and 576h, got 0s"},
        {[](gateway_cfg& g) { g.timers.fin_timeout = 0ms; }, "timers.fin_timeout", "got 0s"},
        {[](gateway_cfg& g) { g.timers.stale_timeout = max_timeout + 1ms; }, "timers.stale_timeout", "got 576h1ms"},
        {[](gateway_cfg& g) { g.timers.arp_refresh = 999ms; }, "timers.arp_refresh", "between 1s and 576h"},
        {[](gateway_cfg& g) { g.eal.memory_mb = 63; }, "eal.memory", "0 (let EAL decide) or at least 64 MB, got 63"},
        // clusters
        {[](gateway_cfg& g) { g.clusters[0].address = 0; }, "clusters[web].address",
         "0.0.0.0 cannot be a cluster address"},
        {[](gateway_cfg& g) { g.clusters[0].address = 0xffffffff; }, "clusters[web].address", "unicast"},
        {[](gateway_cfg& g) { g.clusters[0].address = ip("224.0.0.1"); }, "clusters[web].address", "multicast"},
        {[](gateway_cfg& g) { g.clusters[1].address = g.clusters[0].address; }, "clusters[198.18.0.100].address",
         "198.18.0.100 is also the address of clusters[web]"},
        {[](gateway_cfg& g) { g.clusters[1].name = "web"; }, "clusters[web].name", "cluster name 'web' is used twice"},
        {[](gateway_cfg& g) { g.clusters[0].name = "a[b]"; }, "clusters[a[b]].name", "'a[b]' cannot name a cluster"},
        {[](gateway_cfg& g) { g.clusters[1].address = ip("198.18.0.2"); }, "clusters[198.18.0.2].address",
         "198.18.0.2 is the gateway's own address on ports[lan]"},
        {[](gateway_cfg& g) { web80(g).port = 0; }, "clusters[web].ports[tcp/0].port", "between 1 and 65535"},
        {[](gateway_cfg& g) { g.clusters[0].ports[1].protocol = l4_proto::tcp; }, web80_key + ".port",
         "tcp/80 is listed twice in this cluster"},
        {[](gateway_cfg& g) { web80(g).msl = 0ms; }, web80_key + ".msl", "got 0s"},
        {[](gateway_cfg& g) { web80(g).fin_timeout = max_timeout + 1ms; }, web80_key + ".fin_timeout",
         "got 576h1ms"},
        {[](gateway_cfg& g) { web80(g).stale_timeout = 0ms; }, web80_key + ".stale_timeout", "got 0s"},
        {[](gateway_cfg& g) { web80(g).weight_bound = 0; }, web80_key + ".weight_bound", "between 1 and 65535"},
        {[](gateway_cfg& g) { web80(g).weight_bound = 65536; }, web80_key + ".weight_bound", "got 65536"},
        {[](gateway_cfg& g) { node12(g).address = node11(g).address; }, node11_key + ".address",
         "node 198.18.0.11 is listed twice in this port"},
        {[](gateway_cfg& g) { node11(g).address = ip("255.255.255.255"); },
         web80_key + ".nodes[255.255.255.255].address", "cannot be the address of a node"},
        {[](gateway_cfg& g) { node11(g).mac = mac_addr{{1, 0, 0x5e, 0, 0, 1}}; }, node11_key + ".mac",
         "01:00:5e:00:00:01 cannot be a node's MAC"},
        {[](gateway_cfg& g) { node11(g).mac = mac_addr{}; }, node11_key + ".mac", "non-zero unicast MAC"},
        {[](gateway_cfg& g) { node11(g).weight = 101; }, node11_key + ".weight",
         "weight 101 is above the port's weight_bound 100"},
        {[](gateway_cfg& g) { web80(g).weight_bound = 2, node12(g).weight_bound.reset(); }, node11_key + ".weight",
         "weight 3 is above the port's weight_bound 2"},
        {[](gateway_cfg& g) { node11(g).weight_bound = 2; }, node11_key + ".weight",
         "weight 3 is above the node's weight_bound 2"},
        {[](gateway_cfg& g) { node11(g).weight_bound = 0; }, node11_key + ".weight_bound",
         "between 1 and the port's weight_bound 100, got 0"},
        {[](gateway_cfg& g) { node11(g).weight_bound = 101; }, node11_key + ".weight_bound", "got 101"},
        {[](gateway_cfg& g) { node11(g).port = "dmz"; }, node11_key + ".port",
         "the gateway has no port named 'dmz' (its ports: lan, wan, mirror)"},
        {[](gateway_cfg& g) { node11(g).port = ""; }, node11_key + ".port",
         "the gateway has 3 ports: say which one reaches this node"},
        {[](gateway_cfg& g) { g.ports[0].address.reset(), g.clusters[0].ports.resize(1); },
         web80_key + ".nodes[198.18.0.12].mac",
         "resolved by ARP on port 'lan', which needs an address of its own: set ports[lan].address"},
        {[](gateway_cfg& g) { g.tables.services = 2; }, "clusters",
         "the clusters have 3 ports in all, more than tables.services = 2"},
        {[](gateway_cfg& g) { g.tables.nodes = 4; }, "clusters",
         "the clusters have 5 nodes in all, more than tables.nodes = 4"},
    }));
    gateway_cfg g = valid_cfg();
    c.change(g);
    const auto errors = check_all(g);
    std::string listing;
    for (const config_error& e : errors) listing += format_error(e) + "\n";
    INFO(listing);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where == "PUT /clusters");
    CHECK(errors[0].key == c.key);
    CHECK_THAT(errors[0].reason, Catch::Contains(c.reason));
}

TEST_CASE("limits are inclusive", "[config][check]") {
    gateway_cfg g = valid_cfg();
    g.idle_sleep = 10ms;
    g.lcores = {127, {0, 126}, std::nullopt};
    g.tables = {1'000'000'000, 3, 5, 16'777'215, 512};
    g.timers = {max_timeout, 1ms, max_timeout, 1s};
    g.eal.memory_mb = 64;
    web80(g).weight_bound = max_weight_bound;
    node11(g).weight = max_weight_bound;
    node11(g).weight_bound = max_weight_bound;
    CHECK(check_all(g).empty());
}

TEST_CASE("an edit must name a node's gateway port even when there is only one", "[config][check]") {
    gateway_cfg g = valid_cfg();
    g.ports.resize(1);
    g.clusters.resize(1);
    node11(g).port = "";
    const auto errors = check_clusters(g, "api");
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].key == node11_key + ".port");
    CHECK(errors[0].reason == "the gateway has 1 port: say which one reaches this node");
}

TEST_CASE("the static check leaves the clusters alone and the reverse", "[config][check]") {
    gateway_cfg g = valid_cfg();
    g.tables.burst = 0;
    node11(g).weight = 1000;
    const auto statics = check_static(g, "x");
    const auto clusters = check_clusters(g, "x");
    REQUIRE(statics.size() == 1);
    CHECK(statics[0].key == "tables.burst");
    REQUIRE(clusters.size() == 1);
    CHECK(clusters[0].key == node11_key + ".weight");
}
