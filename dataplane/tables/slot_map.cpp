#include "dataplane/tables/slot_map.hpp"

#include <map>
#include <stdexcept>

#include <fmt/format.h>

namespace cg::dp {

slot_map::slot_map(std::uint32_t services, std::uint32_t nodes) : _services(services), _nodes(nodes) {}

std::optional<std::uint16_t> slot_map::find_service(const service_key& id) const {
    for (std::size_t i = 0; i < _services.size(); ++i)
        if (_services[i].used && _services[i].id == id) return static_cast<std::uint16_t>(i);
    return std::nullopt;
}

std::optional<std::uint16_t> slot_map::find_node(const node_id& id) const {
    for (std::size_t i = 0; i < _nodes.size(); ++i)
        if (_nodes[i].used && _nodes[i].id == id) return static_cast<std::uint16_t>(i);
    return std::nullopt;
}

void slot_map::release_node(std::uint16_t slot) {
    node_slot& n = _nodes[slot];
    const std::uint16_t gen = static_cast<std::uint16_t>(n.gen + 1);
    n = node_slot{};
    n.gen = gen;  // entries that still name this slot are recognised as gone
}

void slot_map::sync(const std::vector<common::cluster_cfg>& clusters) {
    struct wanted_node {
        const common::node_cfg* cfg;
        const common::service_cfg* svc;
    };
    std::map<service_key, const common::service_cfg*> want_services;
    std::map<node_id, wanted_node> want_nodes;
    for (const auto& c : clusters)
        for (const auto& s : c.ports) {
            const service_key sid{c.address, s.protocol, s.port};
            want_services[sid] = &s;
            for (const auto& n : s.nodes) want_nodes[node_id{sid, n.address}] = {&n, &s};
        }

    // Count first, so that a shortage changes nothing.
    std::size_t new_services = 0, free_services = 0, new_nodes = 0, free_nodes = 0;
    for (const auto& [id, s] : want_services) new_services += !find_service(id);
    for (const auto& s : _services) free_services += !s.used || !want_services.contains(s.id);
    for (const auto& [id, n] : want_nodes) new_nodes += !find_node(id);
    for (const auto& n : _nodes) free_nodes += !n.used;
    if (new_services > free_services)
        throw std::runtime_error(fmt::format("no free service slot: tables.services is {}", _services.size()));
    if (new_nodes > free_nodes)
        throw std::runtime_error(fmt::format(
            "no free node slot: tables.nodes is {} and draining nodes still hold theirs", _nodes.size()));

    for (auto& s : _services)
        if (s.used && !want_services.contains(s.id)) s = service_slot{};
    for (const auto& [id, s] : want_services)
        if (!find_service(id))
            for (auto& slot : _services)
                if (!slot.used) {
                    slot = {true, id};
                    break;
                }

    for (auto& n : _nodes)
        if (n.used && !want_nodes.contains(n.id)) n.draining = true;
    for (const auto& [id, want] : want_nodes) {
        auto slot = find_node(id);
        if (!slot)
            for (std::size_t i = 0; i < _nodes.size(); ++i)
                if (!_nodes[i].used) {
                    slot = static_cast<std::uint16_t>(i);
                    break;
                }
        node_slot& n = _nodes[*slot];
        n.used = true;
        n.draining = false;
        n.id = id;
        n.service = *find_service(id.svc);
        n.cfg = *want.cfg;
        n.stale_ms = static_cast<std::uint32_t>(want.svc->stale_timeout.count());
        n.fin_ms = static_cast<std::uint32_t>(want.svc->fin_timeout.count());
    }
}

}  // namespace cg::dp
