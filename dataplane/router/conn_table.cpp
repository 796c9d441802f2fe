#include "dataplane/router/conn_table.hpp"

#include <algorithm>
#include <bit>

namespace cg::dp {

std::uint32_t conn_table::slots_for(std::uint32_t max_entries) noexcept {
    const std::uint64_t want = std::max<std::uint64_t>(64, (std::uint64_t{max_entries} * 4 + 2) / 3);
    return static_cast<std::uint32_t>(std::bit_ceil(want));
}

conn_table::conn_table(std::span<conn_entry> slots, std::uint32_t max_entries) noexcept
    : _slots(slots.data()),
      _mask(static_cast<std::uint32_t>(slots.size()) - 1),
      _max_entries(std::min<std::uint32_t>(max_entries, static_cast<std::uint32_t>(slots.size()) - 1)) {}

void conn_table::erase(conn_entry* e) noexcept {
    std::uint32_t hole = static_cast<std::uint32_t>(e - _slots);
    --_size;
    for (std::uint32_t j = hole;;) {
        j = (j + 1) & _mask;
        conn_entry& next = _slots[j];
        if (next.state == conn_state::empty) break;
        // `next` may fill the hole unless its home slot lies cyclically in
        // (hole, j]: then moving it before its home would hide it.
        const std::uint32_t home = next.hash & _mask;
        const bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays) continue;
        _slots[hole] = next;
        hole = j;
    }
    _slots[hole] = conn_entry{};
}

std::uint32_t conn_table::dump(std::uint32_t& cursor, std::span<conn_entry> out, std::uint32_t max_slots) const noexcept {
    std::uint32_t n = 0;
    std::uint32_t i = cursor;
    const std::uint64_t end = std::min<std::uint64_t>(std::uint64_t{cursor} + max_slots, std::uint64_t{_mask} + 1);
    for (; i < end && n < out.size(); ++i)
        if (_slots[i].state != conn_state::empty) out[n++] = _slots[i];
    cursor = i;
    return n;
}

}  // namespace cg::dp
