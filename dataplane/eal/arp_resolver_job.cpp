#include "dataplane/eal/arp_resolver_job.hpp"

#include <rte_mbuf.h>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

namespace {
constexpr std::uint32_t round_ms = 1000;  ///< unresolved nodes are asked every second
}

unsigned arp_resolver_job::run(const loop_tick& t) noexcept {
    if (t.now_ms - _last_round < round_ms) return 0;
    _last_round = t.now_ms;
    const snapshot& snap = *t.snap;
    unsigned sent = 0;
    for (const arp_target& a : snap.arp_targets) {
        const bool due = !a.resolved || t.now_ms - _asked[a.node] >= _refresh_ms;
        if (!due || a.port >= snap.ports.size() || snap.ports[a.port].address == 0) continue;
        rte_mbuf* m = rte_pktmbuf_alloc(_pool);
        if (!m) break;  // out of mbufs: try again next round
        const std::uint32_t len =
            build_arp_request(rte_pktmbuf_mtod(m, std::uint8_t*), snap.ports[a.port].mac, snap.ports[a.port].address, a.ip);
        m->data_len = static_cast<std::uint16_t>(len);
        m->pkt_len = len;
        _asked[a.node] = t.now_ms;
        _stats.arp_requests.add();
        _tx.send(a.port, m);
        ++sent;
    }
    return sent;
}

}  // namespace cg::dp
