#include "dataplane/tables/snapshot.hpp"

#include <bit>
#include <nmmintrin.h>

namespace cg::dp {

namespace {
std::uint32_t hash_key(std::uint64_t k) noexcept { return static_cast<std::uint32_t>(_mm_crc32_u64(0, k)); }
}  // namespace

void slot_lookup::build(std::span<const std::pair<std::uint64_t, std::uint16_t>> items) {
    // At most half full, so that misses (the common case for stray packets)
    // end after a probe or two.
    const std::size_t cap = std::bit_ceil(std::max<std::size_t>(16, items.size() * 2));
    _items.assign(cap, item{empty_key, 0});
    _mask = static_cast<std::uint32_t>(cap - 1);
    for (const auto& [key, slot] : items) {
        std::uint32_t i = hash_key(key) & _mask;
        while (_items[i].key != empty_key && _items[i].key != key) i = (i + 1) & _mask;
        _items[i] = {key, slot};
    }
}

int slot_lookup::find(std::uint64_t key) const noexcept {
    if (_items.empty()) return -1;
    for (std::uint32_t i = hash_key(key) & _mask;; i = (i + 1) & _mask) {
        if (_items[i].key == key) return _items[i].slot;
        if (_items[i].key == empty_key) return -1;
    }
}

}  // namespace cg::dp
