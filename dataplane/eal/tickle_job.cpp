#include "dataplane/eal/tickle_job.hpp"

#include <algorithm>

#include <rte_mbuf.h>

#include "dataplane/pkt/arp_icmp.hpp"

namespace cg::dp {

unsigned tickle_job::run(const loop_tick& t) noexcept {
    if (!t.snap) return 0;  // step() itself costs one comparison while no node newly failed
    _snap = t.snap;
    const std::uint32_t tickles = _route.backlogged() ? 1 : std::max(1, _route.burst() / 2);
    return _sweep.step(*t.snap, _table, _peers, t.now_ms, *this, _stats, 4096, tickles);
}

bool tickle_job::tickle(const conn_entry& e, const peer_macs::peer& to) noexcept {
    if (to.port >= _snap->ports.size()) return true;  // a port gone: nothing to send on
    rte_mbuf* m = rte_pktmbuf_alloc(_pool);
    if (!m) return false;  // out of mbufs: the next turn tries again
    const std::uint32_t len =
        build_tcp_tickle(rte_pktmbuf_mtod(m, std::uint8_t*), to.mac, _snap->ports[to.port].mac, e.key);
    m->data_len = static_cast<std::uint16_t>(len);
    m->pkt_len = len;
    _tx.send(to.port, m);
    return true;
}

}  // namespace cg::dp
