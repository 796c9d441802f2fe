// A worker's router over fixture tables, without EAL: one gateway port,
// cluster 198.18.0.100 with tcp/80 (nodes .11 .12 .13, weights 3:2:1) and
// udp/53 (node .11), small timers. Tests edit `clusters` and call rebuild().
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <vector>

#include "common/config.hpp"
#include "dataplane/router/router.hpp"
#include "dataplane/tables/slot_map.hpp"
#include "dataplane/tables/snapshot_builder.hpp"
#include "frames.hpp"
#include "test_worker.hpp"

namespace cg::test {

inline const common::mac_addr gw_mac{{0x02, 0, 0, 0, 0, 0x01}};
inline const common::mac_addr client_mac{{0x02, 0, 0, 0, 0, 0x10}};
inline constexpr common::ipv4_addr gw_ip = 0xc6120002;   // 198.18.0.2
inline constexpr common::ipv4_addr vip = 0xc6120064;     // 198.18.0.100
inline constexpr common::ipv4_addr client_ip = 0xc6120a01;  // 198.18.10.1
inline common::ipv4_addr node_ip(int i) { return 0xc6120000u + 10 + i; }  // 198.18.0.1i
inline common::mac_addr node_mac(int i) { return {{0x02, 0, 0, 0, 0x01, static_cast<std::uint8_t>(i)}}; }

/// A gateway for a controller over fake_dataplane{2, 500, 8, 16}: two
/// workers, the one port, no clusters.
inline common::gateway_cfg controller_config() {
    common::gateway_cfg c;
    c.name = "gw-test";
    c.control_socket = "/run/clustergate/gw-test.sock";
    c.lcores.workers = {1, 2};
    c.ports = {{"lan", "net_null0", gw_ip, std::nullopt, 1024, 1024}};
    c.tables.connections = 1000;
    c.tables.services = 8;
    c.tables.nodes = 16;
    return c;
}

struct router_fixture : test_worker {
    static constexpr std::uint32_t stale_ms = 10'000;
    static constexpr std::uint32_t fin_ms = 3'000;

    std::vector<common::cluster_cfg> clusters;
    dp::slot_map slots{16, 64};
    std::vector<dp::port_binding> ports{{"lan", 0, gw_mac, gw_ip}};
    dp::arp_cache arp;
    std::unique_ptr<dp::snapshot> snap;
    std::uint64_t generation = 0;
    dp::gateway_role role = dp::gateway_role::active;
    std::uint32_t reset_until = 0;  ///< snapshot::reset_unknown_until
    std::optional<common::mirror_cfg> mirror;  ///< its port must be one of `ports`
    std::set<common::ipv4_addr> failed;        ///< nodes marked failed

    explicit router_fixture(std::uint32_t max_conns = 1000) : test_worker(max_conns, 16, 64) {
        common::cluster_cfg c;
        c.name = "web";
        c.address = vip;
        common::service_cfg http;
        http.protocol = common::l4_proto::tcp;
        http.port = 80;
        http.stale_timeout = common::millis{stale_ms};
        http.fin_timeout = common::millis{fin_ms};
        for (int i = 1; i <= 3; ++i) http.nodes.push_back(node(i, static_cast<std::uint32_t>(4 - i)));
        common::service_cfg dns = http;
        dns.protocol = common::l4_proto::udp;
        dns.port = 53;
        dns.nodes = {node(1, 1)};
        c.ports = {http, dns};
        clusters = {c};
        rebuild();
    }

    static common::node_cfg node(int i, std::uint32_t weight) {
        common::node_cfg n;
        n.address = node_ip(i);
        n.mac = node_mac(i);
        n.weight = weight;
        n.port = "lan";
        return n;
    }

    common::service_cfg& http() { return clusters[0].ports[0]; }

    void rebuild() {
        slots.sync(clusters);
        snap = dp::build_snapshot({clusters, slots, ports, arp, stale_ms, ++generation, role, reset_until,
                                   mirror ? &*mirror : nullptr, &failed});
    }

    /// A client frame to the VIP, routed at `now`.
    dp::verdict send(bytes& f, std::uint32_t now) {
        return router.route(*snap, f.data(), static_cast<std::uint32_t>(f.size()), 0, now);
    }
    dp::verdict tcp(std::uint16_t sport, std::uint8_t flags, std::uint32_t now, bytes* out = nullptr) {
        frame_spec s;
        s.sport = sport;
        s.tcp_flags = flags;
        bytes f = make_ipv4(s);
        auto v = send(f, now);
        if (out) *out = f;
        return v;
    }
    /// Which node (1-based) the last forwarded frame went to, from its MAC.
    static int node_of(const bytes& f) { return f[5]; }

    std::uint64_t drops(dp::drop_reason r) const { return stats.drops[static_cast<std::size_t>(r)].read(); }
    std::uint16_t slot_of(int i) const {
        return *slots.find_node({{vip, common::l4_proto::tcp, 80}, node_ip(i)});
    }
};

}  // namespace cg::test
