#include "dataplane/router/router.hpp"

#include <algorithm>
#include <cstring>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/wire.hpp"

namespace cg::dp {

using common::flow_hash;

void router::route_burst(const snapshot& snap, std::uint8_t* const* frames, const std::uint32_t* lens,
                         const std::uint16_t* in_ports, std::uint32_t n, std::uint32_t now_ms,
                         verdict* out) noexcept {
    std::array<pkt_info, max_burst> info;
    std::array<std::uint32_t, max_burst> hash;
    std::array<drop_reason, max_burst> bad;
    n = std::min(n, max_burst);

    // Pass 1: parse and hash every frame, prefetch its table slot, so that
    // the cache misses of a burst overlap instead of queueing. The headers
    // of frames a few places ahead are fetched meanwhile: a frame written
    // by another core (the NIC, or a memif peer) is not in this core's cache.
    constexpr std::uint32_t header_ahead = 4;
    for (std::uint32_t i = 0; i < std::min(n, header_ahead); ++i) __builtin_prefetch(frames[i]);
    std::uint64_t rx_bytes = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        if (i + header_ahead < n) __builtin_prefetch(frames[i + header_ahead]);
        rx_bytes += lens[i];
        const auto r = classify(frames[i], lens[i], info[i]);
        bad[i] = r.value_or(drop_reason::count_);
        if (!r && (info[i].kind == pkt_kind::tcp || info[i].kind == pkt_kind::udp)) {
            hash[i] = flow_hash(info[i].key);
            _s.conns.prefetch(hash[i]);
        }
    }
    // The worker's own totals once a burst, not once a frame (the node's
    // counters stay per frame: each frame's node is its own).
    _s.stats.rx_pkts.add(n);
    _s.stats.rx_bytes.add(rx_bytes);
    std::uint64_t fwd = 0, fwd_bytes = 0;
    for (std::uint32_t i = 0; i < n; ++i) {
        out[i] = bad[i] != drop_reason::count_
                     ? drop(bad[i])
                     : route_one(snap, frames[i], lens[i], info[i], hash[i], in_ports[i], now_ms);
        if (out[i].act == action::forward) {
            ++fwd;
            fwd_bytes += lens[i];
        }
    }
    _s.stats.fwd_pkts.add(fwd);
    _s.stats.fwd_bytes.add(fwd_bytes);
}

verdict router::route_one(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, const pkt_info& info,
                          std::uint32_t hash, std::uint16_t in_port, std::uint32_t now) noexcept {
    if (in_port >= snap.ports.size()) return drop(drop_reason::not_for_us);
    const snap_port& port = snap.ports[in_port];
    if (std::memcmp(frame, port.mac.b.data(), 6) != 0) {
        const bool broadcast = std::all_of(frame, frame + 6, [](std::uint8_t b) { return b == 0xff; });
        if (!broadcast || info.kind != pkt_kind::arp) return drop(drop_reason::not_for_us);
    }

    switch (info.kind) {
    case pkt_kind::arp: return handle_arp(snap, frame, info, in_port);
    case pkt_kind::icmp: return handle_icmp(snap, frame, info, in_port);
    case pkt_kind::tcp:
    case pkt_kind::udp:
        if (snap.role == gateway_role::standby) return drop(drop_reason::standby);
        return route_flow(snap, frame, len, info, hash, in_port, now);
    case pkt_kind::other_ip: break;
    }
    return drop(drop_reason::unsupported_protocol);
}

verdict router::route_flow(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, const pkt_info& info,
                           std::uint32_t hash, std::uint16_t in_port, std::uint32_t now) noexcept {
    const bool tcp = info.kind == pkt_kind::tcp;
    const std::uint8_t flags = tcp ? info.tcp_flags : 0;
    auto pr = _s.conns.lookup(info.key, hash);
    const bool node_failed = drop_dead(snap, pr, info.key, hash, now) == conn_exit::node_failed;

    if (pr.hit) {
        conn_entry& e = *pr.e;
        const std::uint16_t slot = e.node;
        const std::uint32_t prev_seen = e.last_seen;
        if (flags & wire::tcp_rst) {  // requirements 2.3: RST removes the entry, the packet still goes
            leave(e, conn_exit::rst);
            _s.conns.erase(&e);
        } else {
            touch(e, flags, now);
            if (e.peer == 0) e.peer = learn_peer(frame, in_port);  // restored or learned: its client speaks
        }
        verdict v = forward(snap, frame, len, slot);
        v.mirror = snap.mirror.on && (snap.nodes[slot].flags & snap_node::mirrored) &&
                   snap.mirror.copies(flags, false, prev_seen, now, hash);
        return v;
    }

    // No connection (requirements 2.4).
    const snap_service* svc = snap.find_service(info.key.daddr, info.key.proto, info.key.dport);
    if (!svc) return drop(drop_reason::no_service);
    const auto svc_slot = static_cast<std::size_t>(svc - snap.services.data());
    _s.services[svc_slot].pkts.add();
    if (tcp && !(flags & wire::tcp_syn)) return unknown_segment(snap, frame, info, in_port, now, node_failed);
    // Before the pick: a SYN the full table refuses must not move the round
    // robin on, or the accepted connections drift off the weights.
    if (_s.conns.full()) return drop(drop_reason::conn_table_full);

    const auto members = snap.members_of(*svc);
    const int pick = wrr_pick(members, svc->wrr, _s.wrr[svc_slot]);
    if (pick < 0) {
        _s.services[svc_slot].no_node.add();
        return drop(drop_reason::no_node);
    }
    const std::uint16_t slot = members[static_cast<std::size_t>(pick)].node;
    create(snap, pr, info.key, hash, slot, conn_state::active, now).peer = learn_peer(frame, in_port);
    _s.stats.event(conn_event::created).add();
    verdict v = forward(snap, frame, len, slot);
    v.mirror = snap.mirror.on && (snap.nodes[slot].flags & snap_node::mirrored);
    return v;
}

std::optional<router::conn_exit> router::drop_dead(const snapshot& snap, conn_table::probe& pr,
                                                   const common::flow_key& k, std::uint32_t hash,
                                                   std::uint32_t now) noexcept {
    if (!pr.hit) return std::nullopt;
    conn_entry& e = *pr.e;
    const snap_node& node = snap.nodes[e.node];
    conn_exit why;
    if (node.gen != e.node_gen || !(node.flags & snap_node::in_use)) {
        why = conn_exit::node_gone;  // its node slot was released
    } else if (node.flags & snap_node::failed) {
        why = conn_exit::node_failed;
    } else if (expired(e, node, now)) {  // the sweep has not reached it yet
        why = e.state == conn_state::fin ? conn_exit::fin_timeout : conn_exit::stale_timeout;
    } else {
        return std::nullopt;
    }
    leave(e, why);
    _s.conns.erase(&e);
    pr = _s.conns.lookup(k, hash);
    return why;
}

void router::touch(conn_entry& e, std::uint8_t flags, std::uint32_t now) noexcept {
    node_stats& ns = _s.nodes[e.node];
    if (flags & wire::tcp_syn) {  // SYN re-establishes as ACTIVE, same node
        if (e.state == conn_state::fin) {
            ns.fin.sub();
            ns.active.add();
        }
        e.state = conn_state::active;
        _s.stats.event(conn_event::syn_reopened).add();
    } else if ((flags & wire::tcp_fin) && e.state == conn_state::active) {
        ns.active.sub();
        ns.fin.add();
        e.state = conn_state::fin;
        _s.stats.event(conn_event::fin_seen).add();
    }
    e.last_seen = now;
}

conn_entry& router::create(const snapshot& snap, conn_table::probe pr, const common::flow_key& k, std::uint32_t hash,
                           std::uint16_t slot, conn_state state, std::uint32_t now) noexcept {
    conn_entry* e = _s.conns.insert(pr, k, hash);  // cannot fail: the caller saw the table not full
    const std::uint16_t svc_slot = snap.nodes[slot].service;
    e->node = slot;
    e->node_gen = snap.nodes[slot].gen;
    e->state = state;
    e->last_seen = now;
    _s.nodes[slot].new_conns.add();
    (state == conn_state::fin ? _s.nodes[slot].fin : _s.nodes[slot].active).add();
    if (svc_slot < _s.services.size()) _s.services[svc_slot].new_conns.add();
    return *e;
}

router::follow_result router::follow(const snapshot& snap, const pkt_info& info, std::uint32_t hash,
                                     std::uint16_t node, std::uint32_t now) noexcept {
    const std::uint8_t flags = info.kind == pkt_kind::tcp ? info.tcp_flags : 0;
    auto pr = _s.conns.lookup(info.key, hash);
    drop_dead(snap, pr, info.key, hash, now);
    if (pr.hit) {
        conn_entry& e = *pr.e;
        if (flags & wire::tcp_rst) {
            leave(e, conn_exit::rst);
            _s.conns.erase(&e);
            return follow_result::removed;
        }
        if (e.node != node) {  // the active knows better: move it, gauges with it
            node_stats& from = _s.nodes[e.node];
            node_stats& to = _s.nodes[node];
            (e.state == conn_state::fin ? from.fin : from.active).sub();
            (e.state == conn_state::fin ? to.fin : to.active).add();
            e.node = node;
        }
        e.node_gen = snap.nodes[node].gen;
        touch(e, flags, now);
        return follow_result::updated;
    }
    if (flags & wire::tcp_rst) return follow_result::absent;
    if (_s.conns.full()) {
        _s.stats.drops[static_cast<std::size_t>(drop_reason::conn_table_full)].add();
        return follow_result::full;
    }
    const bool opening = info.kind == pkt_kind::udp || (flags & wire::tcp_syn);
    create(snap, pr, info.key, hash, node, (flags & wire::tcp_fin) ? conn_state::fin : conn_state::active, now);
    _s.stats.event(opening ? conn_event::created : conn_event::learned).add();
    return opening ? follow_result::created : follow_result::learned;
}

verdict router::unknown_segment(const snapshot& snap, std::uint8_t* frame, const pkt_info& info,
                                std::uint16_t in_port, std::uint32_t now, bool node_failed) noexcept {
    if (info.tcp_flags & wire::tcp_rst) return drop(drop_reason::no_connection);
    // A failed node's connection is reset once (its entry is gone): not
    // limited, however many the node had.
    if (node_failed) return reply_reset(snap, frame, info, in_port);
    const bool in_window = snap.reset_unknown_until != 0 &&
                           static_cast<std::int32_t>(snap.reset_unknown_until - now) > 0;
    if (!in_window) return drop(drop_reason::no_connection);
    // Token bucket: resets_per_s a second, refilled by whole milliseconds.
    if (const std::uint32_t ms = now - _reset_refilled_ms; ms > 0) {
        _reset_tokens = static_cast<std::uint32_t>(
            std::min<std::uint64_t>(resets_per_s, _reset_tokens + std::uint64_t{ms} * resets_per_s / 1000));
        _reset_refilled_ms = now;
    }
    if (_reset_tokens == 0) {
        _s.stats.resets_limited.add();
        return drop(drop_reason::no_connection);
    }
    --_reset_tokens;
    return reply_reset(snap, frame, info, in_port);
}

verdict router::reply_reset(const snapshot& snap, std::uint8_t* frame, const pkt_info& info,
                            std::uint16_t in_port) noexcept {
    const std::uint32_t n = make_tcp_reset(frame, info, snap.ports[in_port].mac);
    _s.stats.tcp_resets.add();
    return {action::reply, drop_reason::count_, in_port, static_cast<std::uint16_t>(n)};
}

std::uint16_t router::learn_peer(const std::uint8_t* frame, std::uint16_t in_port) noexcept {
    common::mac_addr src;
    std::memcpy(src.b.data(), frame + 6, 6);
    return _s.peers.learn(in_port, src);
}

verdict router::forward(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, std::uint16_t slot) noexcept {
    const snap_node& node = snap.nodes[slot];
    std::memcpy(frame, node.mac.b.data(), 6);
    std::memcpy(frame + 6, snap.ports[node.tx_port].mac.b.data(), 6);
    _s.nodes[slot].pkts.add();
    _s.nodes[slot].bytes.add(len);
    return {action::forward, drop_reason::count_, node.tx_port};
}

verdict router::handle_arp(const snapshot& snap, std::uint8_t* frame, const pkt_info& info,
                           std::uint16_t in_port) noexcept {
    const arp_view a = read_arp(frame, info);
    // Learn node MACs from their requests and replies alike: a node that
    // changed its NIC announces itself before anyone asks.
    if ((a.op == 1 || a.op == 2) && snap.is_arp_target(a.sender_ip)) {
        if (_n_learned < max_learned)
            _learned[_n_learned++] = {a.sender_ip, a.sender_mac, in_port};
        else
            _s.stats.arp_learn_lost.add();
    }
    if (a.op == 1 && snap.owns_address(in_port, a.target_ip)) {
        make_arp_reply(frame, info, snap.ports[in_port].mac);
        _s.stats.arp_replies.add();
        return {action::reply, drop_reason::count_, in_port};
    }
    if (a.op != 1 && a.op != 2) return drop(drop_reason::bad_arp);
    // Replies, and requests for other hosts, are normal on a LAN: not drops.
    _s.stats.consumed.add();
    return {action::consume, drop_reason::count_, 0};
}

verdict router::handle_icmp(const snapshot& snap, std::uint8_t* frame, const pkt_info& info,
                            std::uint16_t in_port) noexcept {
    if (frame[info.l4_off] != 8 || !snap.owns_address(in_port, info.key.daddr))
        return drop(drop_reason::icmp_not_echo);
    make_icmp_echo_reply(frame, info, snap.ports[in_port].mac);
    _s.stats.icmp_replies.add();
    return {action::reply, drop_reason::count_, in_port};
}

bool router::expired(const conn_entry& e, const snap_node& n, std::uint32_t now) const noexcept {
    const std::uint32_t limit = e.state == conn_state::fin ? n.fin_ms : n.stale_ms;
    return now - e.last_seen >= limit;
}

void router::leave(const conn_entry& e, conn_exit why) noexcept {
    node_stats& ns = _s.nodes[e.node];
    (e.state == conn_state::fin ? ns.fin : ns.active).sub();
    switch (why) {
    case conn_exit::rst: _s.stats.event(conn_event::reset).add(); ns.completed.add(); break;
    case conn_exit::fin_timeout: _s.stats.event(conn_event::expired_fin).add(); ns.completed.add(); break;
    case conn_exit::stale_timeout: _s.stats.event(conn_event::expired_stale).add(); break;
    case conn_exit::node_gone: _s.stats.event(conn_event::node_gone).add(); break;
    case conn_exit::node_failed: _s.stats.event(conn_event::node_failed).add(); break;
    }
}

router::restore_result router::restore(const conn_entry& in, bool replace, std::uint32_t now) noexcept {
    const auto counted = [this](const conn_entry& e) -> counter& {
        node_stats& ns = _s.nodes[e.node];
        return e.state == conn_state::fin ? ns.fin : ns.active;
    };
    auto pr = _s.conns.lookup(in.key, in.hash);
    if (pr.hit) {
        conn_entry& e = *pr.e;
        if (!replace || (e.node == in.node && e.node_gen == in.node_gen && e.state == in.state))
            return restore_result::kept;
        counted(e).sub();
        e.node = in.node;
        e.node_gen = in.node_gen;
        e.state = in.state;
        e.last_seen = now;
        counted(e).add();
        return restore_result::replaced;
    }
    conn_entry* e = _s.conns.insert(pr, in.key, in.hash);
    if (!e) return restore_result::full;
    e->node = in.node;
    e->node_gen = in.node_gen;
    e->state = in.state;
    e->last_seen = now;
    counted(*e).add();
    _s.stats.event(conn_event::restored).add();
    return restore_result::inserted;
}

simulation router::simulate(const snapshot& snap, const common::flow_key& k, std::uint32_t now) noexcept {
    simulation sim;
    const auto pr = _s.conns.lookup(k, flow_hash(k));
    if (pr.hit) {
        const snap_node& node = snap.nodes[pr.e->node];
        if (node.gen == pr.e->node_gen && (node.flags & snap_node::in_use) && !expired(*pr.e, node, now)) {
            sim.what = simulation::outcome::existing;
            sim.node = pr.e->node;
            sim.state = pr.e->state;
            sim.idle_ms = now - pr.e->last_seen;
            return sim;
        }
    }
    const snap_service* svc = snap.find_service(k.daddr, k.proto, k.dport);
    if (!svc) {
        sim.why = drop_reason::no_service;
        return sim;
    }
    const auto members = snap.members_of(*svc);
    const auto slot = static_cast<std::size_t>(svc - snap.services.data());
    const int pick = wrr_peek(members, svc->wrr, _s.wrr[slot]);
    if (pick < 0) {
        sim.why = drop_reason::no_node;
        return sim;
    }
    if (_s.conns.full()) {
        sim.why = drop_reason::conn_table_full;
        return sim;
    }
    sim.what = simulation::outcome::new_connection;
    sim.node = members[static_cast<std::size_t>(pick)].node;
    return sim;
}

std::uint32_t router::sweep_rate(std::uint32_t slot_count) noexcept {
    return std::clamp<std::uint32_t>(slot_count / 1000, 64, 1024);
}

std::uint32_t router::age(const snapshot& snap, std::uint32_t now) noexcept {
    if (!_aged_once) {
        _aged_once = true;
        _last_age_ms = now;
        return 0;
    }
    const std::uint32_t elapsed = now - _last_age_ms;
    if (elapsed == 0) return 0;
    _last_age_ms = now;
    const std::uint32_t slots = _s.conns.slot_count();
    const std::uint32_t budget =
        static_cast<std::uint32_t>(std::min<std::uint64_t>(std::uint64_t{elapsed} * sweep_rate(slots), slots));
    return _s.conns.sweep(budget, [&](const conn_entry& e) {
        const snap_node& node = snap.nodes[e.node];
        if (node.gen != e.node_gen || !(node.flags & snap_node::in_use)) {
            leave(e, conn_exit::node_gone);
            return true;
        }
        if (!expired(e, node, now)) return false;
        leave(e, e.state == conn_state::fin ? conn_exit::fin_timeout : conn_exit::stale_timeout);
        return true;
    });
}

}  // namespace cg::dp
