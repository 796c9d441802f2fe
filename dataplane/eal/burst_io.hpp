// Where a worker's packets come from and go to, as a value chosen when the
// data plane is set up: its own RX/TX queue on every port (run to
// completion, with RSS), or the SPSC rings to and from a dispatch lcore.
// The worker's jobs call it and never ask which one it is.
//
// Ownership: used by one lcore only; the rings belong to eal_dataplane.
#pragma once

#include <cstdint>
#include <vector>

struct rte_mbuf;
struct rte_ring;

namespace cg::dp {

class burst_io {
public:
    virtual ~burst_io() = default;
    /// Packet sources polled each iteration (ports, or the one ring).
    virtual unsigned sources() const noexcept = 0;
    /// Up to `max` packets from source `s`; each mbuf's `port` is its input port.
    virtual std::uint16_t rx(unsigned s, rte_mbuf** pkts, std::uint16_t max) noexcept = 0;
    /// Hands `n` packets to `port`'s way out; returns how many it took (the
    /// caller frees the rest). Each mbuf's `port` is already `port`.
    virtual std::uint16_t tx(std::uint16_t port, rte_mbuf** pkts, std::uint16_t n) noexcept = 0;
};

/// Queue `queue` of every port in `ports`.
class queue_io final : public burst_io {
public:
    queue_io(std::vector<std::uint16_t> ports, std::uint16_t queue) : _ports(std::move(ports)), _queue(queue) {}
    unsigned sources() const noexcept override { return static_cast<unsigned>(_ports.size()); }
    std::uint16_t rx(unsigned s, rte_mbuf** pkts, std::uint16_t max) noexcept override;
    std::uint16_t tx(std::uint16_t port, rte_mbuf** pkts, std::uint16_t n) noexcept override;

private:
    std::vector<std::uint16_t> _ports;
    std::uint16_t _queue;
};

/// From the dispatch lcore on `rx`, back to it on `tx` (it sends by
/// mbuf->port); copies for the mirror port on `mirror_tx`, so that a full
/// mirror ring never holds up forwarded frames.
class ring_io final : public burst_io {
public:
    ring_io(rte_ring* rx, rte_ring* tx, rte_ring* mirror_tx = nullptr, int mirror_port = -1)
        : _rx(rx), _tx(tx), _mirror_tx(mirror_tx), _mirror_port(mirror_port) {}
    unsigned sources() const noexcept override { return 1; }
    std::uint16_t rx(unsigned s, rte_mbuf** pkts, std::uint16_t max) noexcept override;
    std::uint16_t tx(std::uint16_t port, rte_mbuf** pkts, std::uint16_t n) noexcept override;

private:
    rte_ring* _rx;
    rte_ring* _tx;
    rte_ring* _mirror_tx;
    int _mirror_port;
};

}  // namespace cg::dp
