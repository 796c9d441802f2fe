// A worker's connection table: open addressing with linear probing and
// backward-shift deletion (no tombstones), 32-byte entries, two per cache
// line. Sized once from the config; never grows, never allocates.
//
// Ownership: one table per worker lcore, which is its only reader and
// writer. The control thread reaches it only through worker requests
// (dataplane/ctl/worker_job.hpp, run by the worker's control job), never directly. Not thread-safe.
//
// Memory: slots_for(n) slots of 32 bytes for n entries (load factor <= 3/4):
// 10 million connections take 16 Mi slots = 512 MiB.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>

#include "common/flow_key.hpp"

namespace cg::dp {

enum class conn_state : std::uint8_t { empty = 0, active = 1, fin = 2 };

struct conn_entry {
    common::flow_key key;
    std::uint32_t hash = 0;       ///< flow_hash(key): home slot and fast compare
    std::uint32_t last_seen = 0;  ///< worker clock, milliseconds (wraps; compared by difference)
    std::uint16_t node = 0;       ///< node slot in the snapshot
    std::uint16_t node_gen = 0;   ///< the slot's generation when the entry was made
    conn_state state = conn_state::empty;
    std::uint8_t flags = 0;
    std::uint16_t peer = 0;       ///< where its client's frames come from (peer_macs index); 0: unknown
};
static_assert(sizeof(conn_entry) == 32);

class conn_table {
public:
    /// Slots needed for `max_entries`: a power of two, at least 4/3 of it, at least 64.
    static std::uint32_t slots_for(std::uint32_t max_entries) noexcept;

    /// `slots` must hold a power-of-two count of zeroed entries, more than
    /// `max_entries`. The table does not own the memory.
    conn_table(std::span<conn_entry> slots, std::uint32_t max_entries) noexcept;

    struct probe {
        conn_entry* e;  ///< the entry (hit) or the empty slot where it would go (miss)
        bool hit;
    };
    probe lookup(const common::flow_key& k, std::uint32_t hash) noexcept {
        for (std::uint32_t i = hash & _mask;; i = (i + 1) & _mask) {
            conn_entry& e = _slots[i];
            if (e.state == conn_state::empty) return {&e, false};
            if (e.hash == hash && e.key == k) return {&e, true};
        }
    }
    /// Fills the empty slot of a missed lookup (no other change in between).
    /// Returns nullptr, changing nothing, when the table holds max_entries.
    conn_entry* insert(probe p, const common::flow_key& k, std::uint32_t hash) noexcept {
        if (full()) return nullptr;
        ++_size;
        p.e->key = k;
        p.e->hash = hash;
        return p.e;
    }
    /// Removes an entry. Entries after it may move: pointers into the table
    /// are invalid after an erase.
    void erase(conn_entry* e) noexcept;

    void prefetch(std::uint32_t hash) const noexcept { __builtin_prefetch(&_slots[hash & _mask], 1); }

    /// Visits up to `budget` slots from where the last sweep stopped and
    /// erases every entry for which `remove(entry)` returns true; `remove`
    /// does the bookkeeping (counters) before the entry goes. Aging runs as
    /// many small sweeps, never as one stop-the-world pass.
    template <class F>
    std::uint32_t sweep(std::uint32_t budget, F&& remove) noexcept {
        std::uint32_t removed = 0;
        while (budget-- > 0) {
            conn_entry& e = _slots[_cursor];
            if (e.state != conn_state::empty && remove(e)) {
                erase(&e);  // a later entry may shift into this slot: look again
                ++removed;
                continue;
            }
            _cursor = (_cursor + 1) & _mask;
        }
        return removed;
    }

    /// Copies up to out.size() entries found at or after slot `cursor`,
    /// visiting at most `max_slots` slots; sets `cursor` to the slot after
    /// the last one visited (slot_count() at the end).
    /// Entries that move between two calls may be missed or seen twice.
    std::uint32_t dump(std::uint32_t& cursor, std::span<conn_entry> out, std::uint32_t max_slots = ~0u) const noexcept;

    /// Calls f(entry) for each entry in the up to `max_slots` slots from
    /// `cursor` on, and moves `cursor` past them (slot_count() at the end);
    /// f returns false when it cannot take this entry now: the visit stops
    /// with `cursor` on it, so the next visit begins with it.
    template <class F>
    void visit(std::uint32_t& cursor, std::uint32_t max_slots, F&& f) const noexcept {
        const std::uint32_t end = std::min(slot_count(), cursor + std::min(max_slots, slot_count()));
        for (; cursor < end; ++cursor)
            if (_slots[cursor].state != conn_state::empty && !f(_slots[cursor])) return;
    }

    std::uint32_t size() const noexcept { return _size; }
    bool full() const noexcept { return _size >= _max_entries; }
    std::uint32_t max_entries() const noexcept { return _max_entries; }
    std::uint32_t slot_count() const noexcept { return _mask + 1; }

private:
    conn_entry* _slots;
    std::uint32_t _mask;
    std::uint32_t _max_entries;
    std::uint32_t _size = 0;
    std::uint32_t _cursor = 0;
};

}  // namespace cg::dp
