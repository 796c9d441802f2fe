// Builds the immutable snapshot (snapshot.hpp) from the cluster tables and
// their slots. Pure: called by the controller, and by tests and fuzzers to
// make fixture tables.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/config.hpp"
#include "dataplane/tables/slot_map.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

/// A gateway port as the data plane knows it.
struct port_binding {
    std::string name;
    std::uint16_t port_id = 0;
    common::mac_addr mac;
    std::optional<common::ipv4_addr> address;
};

/// Node MACs learned by ARP, by (gateway port id, node address).
using arp_cache = std::map<std::pair<std::uint16_t, common::ipv4_addr>, common::mac_addr>;

struct snapshot_inputs {
    const std::vector<common::cluster_cfg>& clusters;
    const slot_map& slots;
    std::span<const port_binding> ports;
    const arp_cache& arp;
    std::uint32_t default_stale_ms;
    std::uint64_t generation;
    gateway_role role = gateway_role::active;
    std::uint32_t reset_unknown_until = 0;
    const common::mirror_cfg* mirror = nullptr;  ///< nullptr: no mirror port
    /// Node addresses marked failed (fail_node_req): every slot of each gets
    /// snap_node::failed and weight 0. nullptr: none.
    const std::set<common::ipv4_addr>* failed = nullptr;
    std::uint32_t failed_epoch = 0;  ///< snapshot::failed_epoch
};

/// Every cluster port of `clusters` must have its slots (slot_map::sync).
std::unique_ptr<snapshot> build_snapshot(const snapshot_inputs& in);

/// Effective weight of a node in the snapshot: 0 when quiesced, failed or
/// while its MAC is unknown, else the configured weight.
std::uint32_t effective_weight(const common::node_cfg& n, bool has_mac, bool failed = false);

}  // namespace cg::dp
