// The 5-tuple that names a connection, and its hash.
//
// 16 bytes, trivially copyable, padding always zero, so that two keys compare
// equal exactly when their bytes do. Addresses and ports in host byte order.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <nmmintrin.h>

#include "net_types.hpp"

namespace cg::common {

struct flow_key {
    ipv4_addr saddr = 0;
    ipv4_addr daddr = 0;
    std::uint16_t sport = 0;
    std::uint16_t dport = 0;
    std::uint8_t proto = 0;  ///< IP protocol number (6 or 17)
    std::uint8_t pad[3] = {0, 0, 0};

    friend bool operator==(const flow_key& a, const flow_key& b) noexcept {
        return std::memcmp(&a, &b, sizeof a) == 0;
    }
};
static_assert(sizeof(flow_key) == 16);

/// A key's 16 bytes as the two little-endian words they are (pad zero),
/// put together from the fields: a key just written field by field is then
/// used from registers, not reloaded 8 or 16 bytes at a time over narrower
/// stores (a store-forwarding stall on every frame).
inline std::array<std::uint64_t, 2> key_words(ipv4_addr saddr, ipv4_addr daddr, std::uint16_t sport,
                                              std::uint16_t dport, std::uint8_t proto) noexcept {
    static_assert(std::endian::native == std::endian::little);
    return {saddr | std::uint64_t{daddr} << 32, sport | std::uint64_t{dport} << 16 | std::uint64_t{proto} << 32};
}

/// crc32c of the 16 key bytes (SSE4.2). The same function decides the
/// dispatch worker and the connection table bucket, so it must stay stable.
inline std::uint32_t flow_hash(const flow_key& k) noexcept {
    const auto w = key_words(k.saddr, k.daddr, k.sport, k.dport, k.proto);
    return static_cast<std::uint32_t>(_mm_crc32_u64(_mm_crc32_u64(0x9e3779b9u, w[0]), w[1]));
}

}  // namespace cg::common
