#include "dataplane/eal/span_reader_job.hpp"

#include <algorithm>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/mirror/conn_key.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/router/router.hpp"

namespace cg::dp {

namespace {
constexpr unsigned max_parsers = 64;
}

std::uint32_t parser_for_frame(const std::uint8_t* frame, std::uint32_t len, std::uint32_t parsers) noexcept {
    pkt_info info;
    const bool flow = !classify(frame, len, info) && (info.kind == pkt_kind::tcp || info.kind == pkt_kind::udp);
    return flow ? worker_for_hash(mirror::either_way_hash(info.key), parsers) : 0;
}

unsigned span_reader_job::run(const loop_tick&) noexcept {
    const auto parsers = static_cast<std::uint32_t>(std::min<std::size_t>(_to.size(), max_parsers));
    unsigned moved = 0;
    for (const span_queue& q : _queues) {
        rte_mbuf* pkts[router::max_burst];
        const std::uint16_t n =
            rte_eth_rx_burst(q.port, q.queue, pkts, std::min<std::uint16_t>(_burst, router::max_burst));
        if (n == 0) continue;
        moved += n;
        _stats[span_event::received].add(n);
        if (parsers == 1) {  // nothing to choose: the parser classifies each frame itself
            hand_over(0, pkts, n);
            continue;
        }
        rte_mbuf* per[max_parsers][router::max_burst];
        std::uint16_t count[max_parsers] = {};
        for (std::uint16_t i = 0; i < n; ++i) {
            const std::uint32_t p =
                parser_for_frame(rte_pktmbuf_mtod(pkts[i], const std::uint8_t*), rte_pktmbuf_data_len(pkts[i]), parsers);
            per[p][count[p]++] = pkts[i];
        }
        for (std::uint32_t p = 0; p < parsers; ++p)
            if (count[p] != 0) hand_over(p, per[p], count[p]);
    }
    return moved;
}

void span_reader_job::hand_over(std::uint32_t parser, rte_mbuf** pkts, std::uint16_t n) noexcept {
    const unsigned sent = rte_ring_sp_enqueue_burst(_to[parser], reinterpret_cast<void**>(pkts), n, nullptr);
    if (sent < n) {
        _stats[span_event::ring_full].add(n - sent);
        rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
}

}  // namespace cg::dp
