#include "dataplane/tables/snapshot_builder.hpp"

#include <algorithm>

namespace cg::dp {

namespace {

std::uint16_t port_id_of(std::span<const port_binding> ports, const std::string& name) {
    for (const auto& p : ports)
        if (p.name == name) return p.port_id;
    return ports.empty() ? 0 : ports.front().port_id;  // config checks rule this out
}

std::optional<common::mac_addr> mac_of(const node_slot& n, std::uint16_t port, const arp_cache& arp) {
    if (n.cfg.mac) return n.cfg.mac;
    if (auto it = arp.find({port, n.id.addr}); it != arp.end()) return it->second;
    return std::nullopt;
}

}  // namespace

std::uint32_t effective_weight(const common::node_cfg& n, bool has_mac, bool failed) {
    return n.quiesced || failed || !has_mac ? 0 : n.weight;
}

std::unique_ptr<snapshot> build_snapshot(const snapshot_inputs& in) {
    auto s = std::make_unique<snapshot>();
    s->generation = in.generation;
    s->role = in.role;
    s->reset_unknown_until = in.reset_unknown_until;
    s->failed_epoch = in.failed_epoch;
    s->default_stale_ms = in.default_stale_ms;

    std::uint16_t max_port = 0;
    for (const auto& p : in.ports) max_port = std::max(max_port, p.port_id);
    s->ports.resize(in.ports.empty() ? 0 : max_port + 1u);
    for (const auto& p : in.ports) s->ports[p.port_id] = {p.mac, p.address.value_or(0)};

    std::vector<std::pair<std::uint64_t, std::uint16_t>> keys;

    s->nodes.resize(in.slots.nodes().size());
    for (std::size_t i = 0; i < in.slots.nodes().size(); ++i) {
        const node_slot& ns = in.slots.nodes()[i];
        snap_node& n = s->nodes[i];
        n.gen = ns.gen;
        if (!ns.used) continue;
        n.tx_port = port_id_of(in.ports, ns.cfg.port);
        n.service = ns.service;
        n.address = ns.id.addr;
        n.stale_ms = ns.stale_ms;
        n.fin_ms = ns.fin_ms;
        n.flags = snap_node::in_use;
        if (ns.draining) n.flags |= snap_node::draining;
        if (ns.cfg.quiesced) n.flags |= snap_node::quiesced;
        if (in.failed && in.failed->contains(n.address)) n.flags |= snap_node::failed;
        const auto mac = mac_of(ns, n.tx_port, in.arp);
        if (mac) {
            n.mac = *mac;
            n.flags |= snap_node::has_mac;
        }
        if (!ns.cfg.mac) {
            keys.emplace_back(arp_target_lookup_key(n.address), static_cast<std::uint16_t>(s->arp_targets.size()));
            s->arp_targets.push_back({n.address, n.tx_port, static_cast<std::uint16_t>(i), mac.has_value()});
        }
    }

    if (in.mirror) {
        s->mirror.on = true;
        s->mirror.every_frame = in.mirror->mode == common::mirror_mode::every_frame;
        s->mirror.port = port_id_of(in.ports, in.mirror->port);
        s->mirror.refresh_ms = static_cast<std::uint32_t>(in.mirror->refresh.count());
    }
    std::vector<bool> mirrored(in.slots.services().size());

    s->services.resize(in.slots.services().size());
    for (const auto& c : in.clusters) {
        keys.emplace_back(vip_lookup_key(c.address), 0);
        s->cluster_addresses.push_back(c.address);
        for (const auto& svc : c.ports) {
            const service_key sid{c.address, svc.protocol, svc.port};
            const std::uint16_t slot = *in.slots.find_service(sid);
            mirrored[slot] = in.mirror && common::mirrors(*in.mirror, c.name, svc.protocol, svc.port);
            snap_service& out = s->services[slot];
            out.vip = c.address;
            out.port = svc.port;
            out.proto = static_cast<std::uint8_t>(svc.protocol);
            out.in_use = true;
            out.first = static_cast<std::uint32_t>(s->members.size());
            for (const auto& n : svc.nodes) {
                const std::uint16_t nslot = *in.slots.find_node(node_id{sid, n.address});
                const std::uint8_t f = s->nodes[nslot].flags;
                s->members.push_back({effective_weight(n, f & snap_node::has_mac, f & snap_node::failed), nslot});
            }
            out.count = static_cast<std::uint32_t>(s->members.size()) - out.first;
            out.wrr = wrr_compute(s->members_of(out));
            keys.emplace_back(service_lookup_key(out.vip, out.proto, out.port), slot);
        }
    }
    s->lookup.build(keys);

    std::vector<std::pair<std::uint64_t, std::uint16_t>> macs;
    for (std::size_t i = 0; i < s->nodes.size(); ++i) {
        snap_node& n = s->nodes[i];
        if (!(n.flags & snap_node::in_use)) continue;
        // A draining node of a removed port is mirrored no more, but the
        // standby still follows frames to it while it has connections.
        if (n.service < mirrored.size() && mirrored[n.service]) n.flags |= snap_node::mirrored;
        if (n.flags & snap_node::has_mac)
            macs.emplace_back(node_mac_lookup_key(n.service, n.mac), static_cast<std::uint16_t>(i));
    }
    s->node_by_mac.build(macs);
    return s;
}

}  // namespace cg::dp
