// Stable slots for services (cluster ports) and nodes, owned by the control
// thread. A slot keeps its index for as long as its service or node exists,
// so that connection entries and per-slot counters stay meaningful across
// snapshots (requirements 2.8).
//
// A node removed from the tables does not lose its slot at once: it drains.
// It takes no new connections, its existing connections still reach it, and
// the slot is released (generation bumped) only once no entry refers to it.
// Thread-safety: none; used by the controller under its lock.
#pragma once

#include <compare>
#include <cstdint>
#include <optional>
#include <vector>

#include "common/config.hpp"

namespace cg::dp {

using common::service_key;

struct node_id {
    service_key svc;
    common::ipv4_addr addr = 0;
    auto operator<=>(const node_id&) const = default;
};

struct node_slot {
    bool used = false;
    bool draining = false;
    std::uint16_t gen = 0;
    node_id id;
    std::uint16_t service = 0;  ///< service slot; stale once a draining node's service is gone
    common::node_cfg cfg;       ///< the node's last configuration, kept while draining
    std::uint32_t stale_ms = 0;
    std::uint32_t fin_ms = 0;
    friend bool operator==(const node_slot&, const node_slot&) = default;
};

struct service_slot {
    bool used = false;
    service_key id;
    friend bool operator==(const service_slot&, const service_slot&) = default;
};

class slot_map {
public:
    slot_map(std::uint32_t services, std::uint32_t nodes);

    /// Makes the slots match `clusters`: new services and nodes take free
    /// slots, nodes that are gone start draining, draining nodes that are
    /// back are revived in their old slot. Throws std::runtime_error, having
    /// changed nothing, when there are not enough free slots.
    void sync(const std::vector<common::cluster_cfg>& clusters);

    /// Releases the draining slots for which `idle(slot)` says no connection
    /// refers to them any more. Returns the released slots.
    template <class F>
    std::vector<std::uint16_t> release_drained(F&& idle) {
        std::vector<std::uint16_t> out;
        for (std::size_t i = 0; i < _nodes.size(); ++i) {
            auto slot = static_cast<std::uint16_t>(i);
            if (_nodes[i].used && _nodes[i].draining && idle(slot)) {
                release_node(slot);
                out.push_back(slot);
            }
        }
        return out;
    }

    std::optional<std::uint16_t> find_service(const service_key& id) const;
    std::optional<std::uint16_t> find_node(const node_id& id) const;
    const std::vector<service_slot>& services() const { return _services; }
    const std::vector<node_slot>& nodes() const { return _nodes; }

private:
    void release_node(std::uint16_t slot);

    std::vector<service_slot> _services;
    std::vector<node_slot> _nodes;
};

}  // namespace cg::dp
