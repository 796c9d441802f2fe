// The link-layer sources a worker's clients arrive from (a router's MAC, or
// the clients' own on a flat network), each with the gateway port it came in
// on: a connection entry keeps a 16-bit index here (conn_entry::peer), so
// that the gateway can send its client a frame it did not answer (the
// tickle of a failed node's connections, failed_sweep.hpp) without a frame
// of that client in hand.
//
// Fixed capacity, made at construction; open addressing by MAC. A worker
// meets few distinct sources (one per upstream router); when the table is
// full a new source gets index 0, "unknown", and is counted.
//
// Ownership: one per worker, written only by its router (on the packet
// path: one probe per new connection). Not thread-safe.
#pragma once

#include <cstdint>
#include <vector>

#include "common/net_types.hpp"

namespace cg::dp {

class peer_macs {
public:
    struct peer {
        common::mac_addr mac;
        std::uint16_t port = 0;
    };
    static constexpr std::uint32_t default_capacity = 1024;

    /// `capacity` sources at most (at least 1, at most 65,535).
    explicit peer_macs(std::uint32_t capacity = default_capacity);

    /// The index of (port, mac), made on its first sight; 0 when the table is
    /// full (counted in `full()`).
    std::uint16_t learn(std::uint16_t port, const common::mac_addr& mac) noexcept;
    /// The source of index i (1..size()).
    const peer& at(std::uint16_t i) const noexcept { return _peers[i]; }
    std::uint32_t size() const noexcept { return _size; }
    std::uint64_t full() const noexcept { return _full; }

private:
    std::vector<peer> _peers;           ///< [0] unused: index 0 is "unknown"
    std::vector<std::uint16_t> _index;  ///< open addressing over _peers' indices; 0 empty
    std::uint32_t _mask = 0, _size = 0, _capacity = 0;
    std::uint64_t _full = 0;
};

}  // namespace cg::dp
