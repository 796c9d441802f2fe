// The bytes of unanswered requests, held so that a restored connection can
// replay them (docs/architecture.md "The mirror parser"). One fixed arena per
// parser lcore, cut into equal chunks at start; a request's bytes are a
// chain of chunks. Nothing is allocated after construction: a request that
// does not fit is refused whole (the connection then cannot be restored, and
// says why), never half held.
//
// Ownership: one per parser lcore. Not thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace cg::dp::mirror {

/// A chain of chunks in a chunk_pool; empty when len is 0.
struct held_bytes {
    static constexpr std::uint32_t none = UINT32_MAX;
    std::uint32_t head = none;
    std::uint32_t len = 0;

    bool empty() const noexcept { return head == none; }
};

class chunk_pool {
public:
    /// `chunks` chunks of `chunk_size` bytes (both at least 1), allocated here once.
    chunk_pool(std::uint32_t chunks, std::uint32_t chunk_size);

    /// Copies `bytes` into free chunks. Returns an empty held_bytes (and
    /// counts a refusal) when there are not enough free chunks, or when
    /// `bytes` is empty.
    held_bytes hold(std::span<const std::uint8_t> bytes) noexcept;

    /// Gives `h`'s chunks back and empties `h`. Safe on an empty one.
    void release(held_bytes& h) noexcept;

    /// Copies `h` into `out` (at least h.len bytes); returns the bytes copied.
    std::uint32_t copy_out(const held_bytes& h, std::span<std::uint8_t> out) const noexcept;

    std::uint32_t chunk_size() const noexcept { return _chunk_size; }
    std::uint32_t chunks() const noexcept { return static_cast<std::uint32_t>(_next.size()); }
    std::uint32_t free_chunks() const noexcept { return _free_count; }
    std::uint64_t refused() const noexcept { return _refused; }
    /// The chunks that `len` bytes take.
    std::uint32_t chunks_for(std::uint32_t len) const noexcept { return (len + _chunk_size - 1) / _chunk_size; }

private:
    std::uint32_t _chunk_size;
    std::vector<std::uint8_t> _arena;
    std::vector<std::uint32_t> _next;  ///< the chain: each chunk's successor, or held_bytes::none
    std::uint32_t _free = held_bytes::none;
    std::uint32_t _free_count = 0;
    std::uint64_t _refused = 0;
};

}  // namespace cg::dp::mirror
