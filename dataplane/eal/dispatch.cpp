#include "dataplane/eal/dispatch.hpp"

#include <algorithm>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/router/router.hpp"

namespace cg::dp {

dispatcher::dispatcher(dispatch_config cfg)
    : _cfg(std::move(cfg)),
      _stats(std::make_unique<worker_stats>()),
      _loop({nullptr, 0, _cfg.idle_sleep, _stats.get()}) {  // reads no snapshot: no RCU reader
    _loop.emplace<dispatch_job>(_cfg, *_stats);
}

unsigned dispatch_job::run(const loop_tick&) noexcept {
    unsigned moved = 0;
    for (std::uint16_t port : _cfg.ports) moved += spread(port);
    for (rte_ring* r : _cfg.from_workers) moved += drain(r, false);
    for (rte_ring* r : _cfg.mirror_from_workers) moved += drain(r, true);  // after what is forwarded
    return moved;
}

unsigned dispatch_job::spread(std::uint16_t port) noexcept {
    constexpr unsigned max_workers = 64;
    rte_mbuf* pkts[router::max_burst];
    const std::uint16_t n = rte_eth_rx_burst(port, 0, pkts, std::min<std::uint16_t>(_cfg.burst, router::max_burst));
    if (n == 0) return 0;
    _stats.rx_pkts.add(n);
    for (std::uint16_t i = 0; i < n; ++i) pkts[i]->port = port;  // not every PMD sets it (net_ring)

    const auto workers = static_cast<std::uint32_t>(std::min<std::size_t>(_cfg.to_workers.size(), max_workers));
    rte_mbuf* per_worker[max_workers][router::max_burst];
    std::uint16_t count[max_workers] = {};
    for (std::uint16_t i = 0; i < n; ++i) {
        // Flows by their 5-tuple; everything else (ARP, ICMP, junk) to worker
        // 0, which counts what is wrong with it.
        pkt_info info;
        const bool flow = !classify(rte_pktmbuf_mtod(pkts[i], std::uint8_t*), rte_pktmbuf_data_len(pkts[i]), info) &&
                          (info.kind == pkt_kind::tcp || info.kind == pkt_kind::udp);
        const std::uint32_t w = flow ? worker_for_hash(common::flow_hash(info.key), workers) : 0;
        per_worker[w][count[w]++] = pkts[i];
    }
    for (std::uint32_t w = 0; w < workers; ++w) {
        if (count[w] == 0) continue;
        const unsigned sent =
            rte_ring_sp_enqueue_burst(_cfg.to_workers[w], reinterpret_cast<void**>(per_worker[w]), count[w], nullptr);
        if (sent < count[w]) {
            _stats.drops[static_cast<std::size_t>(drop_reason::ring_full)].add(count[w] - sent);
            rte_pktmbuf_free_bulk(per_worker[w] + sent, count[w] - sent);
        }
    }
    return n;
}

unsigned dispatch_job::drain(rte_ring* ring, bool mirror) noexcept {
    rte_mbuf* pkts[router::max_burst];
    const unsigned n = rte_ring_sc_dequeue_burst(ring, reinterpret_cast<void**>(pkts),
                                                 std::min<unsigned>(_cfg.burst, router::max_burst), nullptr);
    // Workers set mbuf->port to the TX port; send runs of the same port together.
    for (unsigned start = 0; start < n;) {
        unsigned end = start + 1;
        while (end < n && pkts[end]->port == pkts[start]->port) ++end;
        const std::uint16_t k = static_cast<std::uint16_t>(end - start);
        const std::uint16_t sent = rte_eth_tx_burst(pkts[start]->port, 0, pkts + start, k);
        if (!mirror) _stats.tx_pkts.add(sent);  // a copy was counted mirror_sent by its worker
        if (sent < k) {
            if (mirror)
                _stats.mirror_dropped.add(k - sent);
            else
                _stats.drops[static_cast<std::size_t>(drop_reason::tx_full)].add(k - sent);
            rte_pktmbuf_free_bulk(pkts + start + sent, k - sent);
        }
        start = end;
    }
    return n;
}

}  // namespace cg::dp
