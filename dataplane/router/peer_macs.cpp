#include "dataplane/router/peer_macs.hpp"

#include <algorithm>
#include <bit>

namespace cg::dp {

namespace {

std::uint32_t hash_of(std::uint16_t port, const common::mac_addr& mac) noexcept {
    std::uint64_t v = port;
    for (std::uint8_t b : mac.b) v = (v << 8) | b;
    v *= 0x9e3779b97f4a7c15ull;  // Fibonacci hashing: the high bits mix all of them
    return static_cast<std::uint32_t>(v >> 32);
}

}  // namespace

peer_macs::peer_macs(std::uint32_t capacity)
    : _capacity(std::clamp<std::uint32_t>(capacity, 1, 65'535)) {
    _peers.resize(_capacity + 1u);
    _index.assign(std::bit_ceil(_capacity * 2u), 0);  // at most half full: short probes
    _mask = static_cast<std::uint32_t>(_index.size()) - 1;
}

std::uint16_t peer_macs::learn(std::uint16_t port, const common::mac_addr& mac) noexcept {
    for (std::uint32_t i = hash_of(port, mac) & _mask;; i = (i + 1) & _mask) {
        const std::uint16_t at = _index[i];
        if (at == 0) {
            if (_size == _capacity) {
                ++_full;
                return 0;
            }
            const auto n = static_cast<std::uint16_t>(++_size);
            _peers[n] = {mac, port};
            _index[i] = n;
            return n;
        }
        if (_peers[at].port == port && _peers[at].mac == mac) return at;
    }
}

}  // namespace cg::dp
