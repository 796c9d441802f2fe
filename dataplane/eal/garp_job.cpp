#include "dataplane/eal/garp_job.hpp"

#include <rte_mbuf.h>

#include "dataplane/pkt/arp_icmp.hpp"

namespace cg::dp {

unsigned garp_job::run(const loop_tick& t) noexcept {
    const snapshot& snap = *t.snap;
    if (snap.role != _last_role) {
        _left = snap.role == gateway_role::active ? rounds : 0;
        _last_role = snap.role;
        _last_round_ms = t.now_ms - interval_ms;  // the first round at once
    }
    if (_left == 0 || t.now_ms - _last_round_ms < interval_ms) return 0;
    _last_round_ms = t.now_ms;
    --_left;
    return announce(snap);
}

unsigned garp_job::announce(const snapshot& snap) noexcept {
    unsigned sent = 0;
    const auto send = [&](std::uint16_t port, common::ipv4_addr ip) {
        rte_mbuf* m = rte_pktmbuf_alloc(_pool);
        if (!m) return false;  // out of mbufs: the next round tries again
        const std::uint32_t len = build_gratuitous_arp(rte_pktmbuf_mtod(m, std::uint8_t*), snap.ports[port].mac, ip);
        m->data_len = static_cast<std::uint16_t>(len);
        m->pkt_len = len;
        _stats.garps_sent.add();
        _tx.send(port, m);
        ++sent;
        return true;
    };
    for (std::uint16_t p = 0; p < snap.ports.size(); ++p) {
        if (snap.ports[p].address == 0) continue;
        if (!send(p, snap.ports[p].address)) return sent;
        for (common::ipv4_addr vip : snap.cluster_addresses)
            if (!send(p, vip)) return sent;
    }
    return sent;
}

}  // namespace cg::dp
