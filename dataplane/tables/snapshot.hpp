// The immutable tables a worker routes by: cluster ports (services), nodes,
// and the gateway's own ports. Built whole by the control thread, published
// with RCU (dataplane/eal/snapshot_publisher.hpp), read by workers without locks, freed after every
// worker has passed a quiescent point. Never modified once published.
//
// Services and nodes live at stable slots: a connection entry names its node
// by slot and generation, so that a new snapshot never breaks a connection.
// A removed node keeps its slot, draining, until no connection refers to it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "common/net_types.hpp"
#include "dataplane/tables/members.hpp"
#include "dataplane/tables/mirror_policy.hpp"

namespace cg::dp {

struct snap_node {
    common::mac_addr mac;
    std::uint16_t tx_port = 0;   ///< DPDK port id that reaches the node
    std::uint16_t gen = 0;       ///< bumped each time the slot is reused
    std::uint16_t service = 0;   ///< service slot (its former one while draining)
    std::uint8_t flags = 0;
    std::uint32_t stale_ms = 0;  ///< STALE_TIME_OUT of the node's cluster port
    std::uint32_t fin_ms = 0;    ///< FIN_TIME_OUT of the node's cluster port
    common::ipv4_addr address = 0;

    /// mirrored: the active copies the frames it forwards to this node (mirror.services).
    /// failed: the node is down (controller's fail_node): weight 0, and its
    /// connections are reset at their next TCP segment.
    static constexpr std::uint8_t in_use = 1, has_mac = 2, draining = 4, quiesced = 8, mirrored = 16, failed = 32;
    bool forwardable() const noexcept { return (flags & (in_use | has_mac)) == (in_use | has_mac); }
};

struct snap_service {
    common::ipv4_addr vip = 0;
    std::uint16_t port = 0;
    std::uint8_t proto = 0;
    bool in_use = false;
    std::uint32_t first = 0;  ///< members[first, first + count) in selection order
    std::uint32_t count = 0;
    wrr_params wrr;
};

struct snap_port {
    common::mac_addr mac;
    common::ipv4_addr address = 0;  ///< 0: the port has no address of its own
};

/// A node whose MAC the data plane must learn by ARP.
struct arp_target {
    common::ipv4_addr ip;
    std::uint16_t port;
    std::uint16_t node;  ///< node slot
    bool resolved;
};

/// Fixed-size open-addressing map from a packed 64-bit key to a slot,
/// filled once while building a snapshot.
class slot_lookup {
public:
    static constexpr std::uint64_t empty_key = ~0ull;
    void build(std::span<const std::pair<std::uint64_t, std::uint16_t>> items);
    /// Returns the slot, or -1. Called from: worker lcores.
    int find(std::uint64_t key) const noexcept;

private:
    struct item {
        std::uint64_t key;
        std::uint16_t slot;
    };
    std::vector<item> _items;
    std::uint32_t _mask = 0;
};

inline std::uint64_t service_lookup_key(common::ipv4_addr vip, std::uint8_t proto, std::uint16_t port) noexcept {
    return (std::uint64_t{vip} << 32) | (std::uint64_t{proto} << 16) | port;
}
/// Cluster addresses are keyed with protocol 0, which no service uses.
inline std::uint64_t vip_lookup_key(common::ipv4_addr vip) noexcept { return std::uint64_t{vip} << 32; }
/// Nodes to resolve by ARP are keyed with "protocol" 256, which no packet carries.
inline std::uint64_t arp_target_lookup_key(common::ipv4_addr ip) noexcept {
    return (std::uint64_t{ip} << 32) | (std::uint64_t{256} << 16);
}
/// A node by its service slot and MAC (a MAC is 48 bits; no node has the
/// broadcast MAC, so no key is slot_lookup::empty_key).
inline std::uint64_t node_mac_lookup_key(std::uint16_t service, const common::mac_addr& mac) noexcept {
    std::uint64_t k = service;
    for (const std::uint8_t b : mac.b) k = (k << 8) | b;
    return k;
}

/// What this gateway does with its clusters' traffic. The active forwards
/// and answers ARP for the cluster addresses; the standby does neither (it
/// answers only for its ports' own addresses), so that the pair never has
/// two gateways for one address.
enum class gateway_role : std::uint8_t { active, standby };
constexpr std::string_view role_name(gateway_role r) { return r == gateway_role::active ? "active" : "standby"; }
constexpr std::optional<gateway_role> parse_role(std::string_view s) {
    if (s == "active") return gateway_role::active;
    if (s == "standby") return gateway_role::standby;
    return std::nullopt;
}

struct snapshot {
    std::uint64_t generation = 0;
    gateway_role role = gateway_role::active;
    /// Until this worker-clock time (ms, compared by difference), a TCP
    /// segment of a connection the table does not know is answered with a
    /// reset: set after the table was rebuilt from every live node's own
    /// sockets, when such a connection is one nobody holds. 0: never.
    std::uint32_t reset_unknown_until = 0;
    /// One more each time a node is marked failed (the controller's
    /// fail_node): the workers' failed_sweep tickles its clients.
    std::uint32_t failed_epoch = 0;
    std::vector<common::ipv4_addr> cluster_addresses;  ///< announced by gratuitous ARP on becoming active
    std::vector<snap_port> ports;        ///< by DPDK port id
    std::vector<snap_service> services;  ///< by service slot
    std::vector<snap_node> nodes;        ///< by node slot
    std::vector<wrr_member> members;
    std::vector<arp_target> arp_targets;
    slot_lookup lookup;
    /// Nodes with a known MAC, by node_mac_lookup_key: the standby finds the
    /// node a mirrored frame went to by its destination MAC.
    slot_lookup node_by_mac;
    std::uint32_t default_stale_ms = 0;  ///< for entries whose node slot was reused
    mirror_policy mirror;

    const snap_service* find_service(common::ipv4_addr vip, std::uint8_t proto, std::uint16_t port) const noexcept {
        const int s = lookup.find(service_lookup_key(vip, proto, port));
        return s < 0 ? nullptr : &services[static_cast<std::size_t>(s)];
    }
    bool is_vip(common::ipv4_addr a) const noexcept { return lookup.find(vip_lookup_key(a)) >= 0; }
    bool is_arp_target(common::ipv4_addr a) const noexcept { return lookup.find(arp_target_lookup_key(a)) >= 0; }
    /// An address the gateway answers ARP and ping for on port `port`: the
    /// port's own, and the cluster addresses while active.
    bool owns_address(std::uint16_t port, common::ipv4_addr a) const noexcept {
        return (a != 0 && port < ports.size() && ports[port].address == a) ||
               (role == gateway_role::active && is_vip(a));
    }
    /// The node of service slot `service` whose MAC is `mac`, or -1.
    int find_node(std::uint16_t service, const common::mac_addr& mac) const noexcept {
        return node_by_mac.find(node_mac_lookup_key(service, mac));
    }
    std::span<const wrr_member> members_of(const snap_service& s) const noexcept {
        return {members.data() + s.first, s.count};
    }
};

}  // namespace cg::dp
