#include "dataplane/eal/router_jobs.hpp"

#include <algorithm>

#include <rte_mbuf.h>

namespace cg::dp {

namespace {
constexpr std::uint16_t max_rx_burst = 512;
}

route_job::route_job(router& r, burst_io& io, tx_batch& tx, std::uint16_t burst, mirror_copy* mirror)
    : _router(r), _follower(r), _io(io), _tx(tx), _mirror(mirror), _burst(std::min(burst, max_rx_burst)) {}

unsigned route_job::run(const loop_tick& t) noexcept {
    rte_mbuf* pkts[max_rx_burst];
    unsigned got = 0;
    _backlogged = false;
    for (unsigned s = 0, n = _io.sources(); s < n; ++s) {
        std::uint16_t k = _io.rx(s, pkts, _burst);
        got += k;
        _backlogged |= k == _burst;
        if (t.snap->mirror.on) k = follow_mirrored(pkts, k, *t.snap, t.now_ms);
        handle(pkts, k, *t.snap, t.now_ms);
    }
    return got;
}

std::uint16_t route_job::follow_mirrored(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap,
                                         std::uint32_t now) noexcept {
    rte_mbuf* done[max_rx_burst];
    std::uint16_t n_done = 0, kept = 0;
    for (std::uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        if (m->port != snap.mirror.port) {
            pkts[kept++] = m;
            continue;
        }
        _follower.follow(snap, rte_pktmbuf_mtod(m, const std::uint8_t*), rte_pktmbuf_data_len(m), now);
        done[n_done++] = m;
    }
    if (n_done) rte_pktmbuf_free_bulk(done, n_done);
    return kept;
}

void route_job::handle(rte_mbuf** pkts, std::uint16_t n, const snapshot& snap, std::uint32_t now) noexcept {
    rte_mbuf* dead[max_rx_burst];
    unsigned n_dead = 0;
    for (std::uint16_t off = 0; off < n; off += router::max_burst) {
        const std::uint32_t k = std::min<std::uint32_t>(n - off, router::max_burst);
        std::uint8_t* frames[router::max_burst];
        std::uint32_t lens[router::max_burst];
        std::uint16_t in_ports[router::max_burst];
        verdict v[router::max_burst];
        for (std::uint32_t i = 0; i < k; ++i) {
            rte_mbuf* m = pkts[off + i];
            frames[i] = rte_pktmbuf_mtod(m, std::uint8_t*);
            lens[i] = rte_pktmbuf_data_len(m);
            in_ports[i] = m->port;
        }
        _router.route_burst(snap, frames, lens, in_ports, k, now, v);
        for (std::uint32_t i = 0; i < k; ++i) {
            rte_mbuf* m = pkts[off + i];
            switch (v[i].act) {
            case action::forward:
                if (v[i].mirror && _mirror) _mirror->copy(m);  // before m is queued: once sent it may be freed
                _tx.send(v[i].tx_port, m);
                break;
            case action::reply:
                if (v[i].len != 0 && v[i].len < rte_pktmbuf_pkt_len(m))
                    rte_pktmbuf_trim(m, static_cast<std::uint16_t>(rte_pktmbuf_pkt_len(m) - v[i].len));
                _tx.send(m->port, m);
                break;
            case action::drop:
            case action::consume: dead[n_dead++] = m; break;
            }
        }
    }
    if (n_dead) rte_pktmbuf_free_bulk(dead, n_dead);
}

unsigned age_job::run(const loop_tick& t) noexcept {
    _router.age(*t.snap, t.now_ms);
    _stats.conns.set(_table.size());
    return 0;
}

}  // namespace cg::dp
