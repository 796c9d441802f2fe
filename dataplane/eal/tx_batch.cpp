#include "dataplane/eal/tx_batch.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>

namespace cg::dp {

static_assert(RTE_MAX_ETHPORTS <= 64, "the TX pending mask is 64 bits");

tx_batch::tx_batch(burst_io& io, worker_stats& stats, int mirror_port)
    : _io(io), _stats(stats), _by_port(RTE_MAX_ETHPORTS), _mirror_port(mirror_port) {}

void tx_batch::send(std::uint16_t port, rte_mbuf* m) noexcept {
    m->port = port;  // the dispatch lcore reads it to pick the TX port
    buffer& b = _by_port[port];
    b.pkts[b.n++] = m;
    _pending |= std::uint64_t{1} << port;
    if (b.n == router::max_burst) flush(port);
}

void tx_batch::flush(std::uint16_t port) noexcept {
    buffer& b = _by_port[port];
    if (b.n == 0) return;
    const std::uint16_t sent = _io.tx(port, b.pkts, b.n);
    const bool mirror = port == _mirror_port;
    (mirror ? _stats.mirror_sent : _stats.tx_pkts).add(sent);
    if (sent < b.n) {
        if (mirror)
            _stats.mirror_dropped.add(b.n - sent);
        else
            _stats.drops[static_cast<std::size_t>(drop_reason::tx_full)].add(b.n - sent);
        rte_pktmbuf_free_bulk(b.pkts + sent, b.n - sent);
    }
    b.n = 0;
    _pending &= ~(std::uint64_t{1} << port);
}

void tx_batch::flush_all() noexcept {
    for (std::uint64_t pending = _pending; pending; pending &= pending - 1)
        flush(static_cast<std::uint16_t>(__builtin_ctzll(pending)));
}

}  // namespace cg::dp
