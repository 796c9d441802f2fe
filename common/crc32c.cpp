#include "crc32c.hpp"

#include <nmmintrin.h>

#include <cstring>

namespace cg::common {

std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t crc) {
    std::uint64_t c = ~crc;
    std::size_t i = 0;
    for (; i + 8 <= bytes.size(); i += 8) {
        std::uint64_t w;
        std::memcpy(&w, bytes.data() + i, 8);
        c = _mm_crc32_u64(c, w);
    }
    for (; i < bytes.size(); ++i) c = _mm_crc32_u8(static_cast<std::uint32_t>(c), bytes[i]);
    return ~static_cast<std::uint32_t>(c);
}

}  // namespace cg::common
