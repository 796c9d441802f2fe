// The 5-tuple that names a connection, and its hash.
//
// 16 bytes, trivially copyable, padding always zero, so that two keys compare
// equal exactly when their bytes do. Addresses and ports in host byte order.
#pragma once

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

/// crc32c of the 16 key bytes (SSE4.2). The same function decides the
/// dispatch worker and the connection table bucket, so it must stay stable.
/// The two words are put together from the fields, as the little-endian
/// bytes would read: a key just written field by field is then hashed from
/// registers, not reloaded 8 bytes at a time over narrower stores (a
/// store-forwarding stall on every frame).
inline std::uint32_t flow_hash(const flow_key& k) noexcept {
    static_assert(std::endian::native == std::endian::little);
    const std::uint64_t w0 = k.saddr | std::uint64_t{k.daddr} << 32;
    const std::uint64_t w1 = k.sport | std::uint64_t{k.dport} << 16 | std::uint64_t{k.proto} << 32;  // pad is 0
    std::uint64_t h = _mm_crc32_u64(0x9e3779b9u, w0);
    h = _mm_crc32_u64(h, w1);
    return static_cast<std::uint32_t>(h);
}

}  // namespace cg::common
