#include "dataplane/eal/burst_io.hpp"

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

namespace cg::dp {

std::uint16_t queue_io::rx(unsigned s, rte_mbuf** pkts, std::uint16_t max) noexcept {
    const std::uint16_t port = _ports[s];
    const std::uint16_t n = rte_eth_rx_burst(port, _queue, pkts, max);
    for (std::uint16_t i = 0; i < n; ++i) pkts[i]->port = port;  // not every PMD sets it (net_ring)
    return n;
}

std::uint16_t queue_io::tx(std::uint16_t port, rte_mbuf** pkts, std::uint16_t n) noexcept {
    return rte_eth_tx_burst(port, _queue, pkts, n);
}

std::uint16_t ring_io::rx(unsigned, rte_mbuf** pkts, std::uint16_t max) noexcept {
    return static_cast<std::uint16_t>(rte_ring_sc_dequeue_burst(_rx, reinterpret_cast<void**>(pkts), max, nullptr));
}

std::uint16_t ring_io::tx(std::uint16_t port, rte_mbuf** pkts, std::uint16_t n) noexcept {
    rte_ring* r = port == _mirror_port && _mirror_tx ? _mirror_tx : _tx;
    return static_cast<std::uint16_t>(rte_ring_sp_enqueue_burst(r, reinterpret_cast<void**>(pkts), n, nullptr));
}

}  // namespace cg::dp
