// One followed connection's requests and replies, in order (requirements 6.2,
// docs/architecture.md "The mirror parser"): each request the client sent
// and the node has not answered is kept whole, its bytes in the lcore's
// chunk_pool, so that a restored connection can replay it; answered ones are
// kept (without their bytes) only up to a bound. Replies find their call by
// XID / MessageId.
//
// A connection can be restored only if every unanswered request is held
// whole: flaw() says which one is not, and why.
//
// Ownership: one per followed connection, owned by the parser lcore that
// follows it, with that lcore's chunk_pool. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <utility>

#include "dataplane/mirror/app_message.hpp"
#include "dataplane/mirror/chunk_pool.hpp"

namespace cg::dp::mirror {

/// Why an unanswered request cannot be given back whole.
enum class fifo_flaw : std::uint8_t {
    none,
    request_too_large,  ///< the framer held only its first bytes (longer than its cap)
    no_memory,          ///< the chunk pool had no room for its bytes
    request_dropped,    ///< more requests in flight than the FIFO holds: the oldest unanswered was dropped
};

const char* fifo_flaw_name(fifo_flaw f) noexcept;

struct fifo_entry {
    app_message msg;
    held_bytes bytes;  ///< the request's record while unanswered and held whole
    fifo_flaw flaw = fifo_flaw::none;
    bool answered = false;
};

class msg_fifo {
public:
    /// Requests a connection may have in flight and be restorable.
    static constexpr std::uint8_t capacity = 8;
    /// Answered entries kept (without bytes), most recent last.
    static constexpr std::uint8_t keep_answered = 2;

    msg_fifo() noexcept {
        for (std::uint8_t i = 0; i < capacity; ++i) _order[i] = i;
    }
    msg_fifo(const msg_fifo&) = delete;
    msg_fifo& operator=(const msg_fifo&) = delete;

    /// A request seen whole (`whole`: `record` is all of it) or only in part.
    /// Makes room by dropping the oldest answered entry, else the oldest
    /// unanswered one (then flaw() is request_dropped until clear()).
    /// Returns the new entry's flaw: none when its bytes are held.
    fifo_flaw push(const app_message& request, std::span<const std::uint8_t> record, bool whole,
                   chunk_pool& pool) noexcept;

    /// The unanswered request with this id (to parse its reply by), or nullptr.
    const app_message* find_request(std::uint64_t id) const noexcept;
    /// The same, to complete what a later message tells of the request: an
    /// SMB2 interim response's AsyncId, a CREATE response's FileId for the
    /// related requests of its chain. Its id must not change.
    app_message* find_request(std::uint64_t id) noexcept {
        return const_cast<app_message*>(std::as_const(*this).find_request(id));
    }

    /// Marks the request that `reply` answers as answered and gives its bytes
    /// back. Returns false when no unanswered request has its id.
    bool answer(const app_message& reply, chunk_pool& pool) noexcept;

    /// none when every unanswered request is held whole (and none was
    /// dropped); else the flaw of the oldest that is not.
    fifo_flaw flaw() const noexcept;

    /// Calls f(const fifo_entry&) for each entry, oldest first.
    template <typename F>
    void for_each(F&& f) const {
        for (std::uint8_t i = 0; i < _count; ++i) f(_entries[_order[i]]);
    }

    std::uint8_t size() const noexcept { return _count; }
    std::uint8_t unanswered() const noexcept;
    /// The bytes held for unanswered requests.
    std::uint64_t held() const noexcept;

    /// Forgets everything (the connection is released or evicted).
    void clear(chunk_pool& pool) noexcept;

private:
    void remove(std::uint8_t pos, chunk_pool& pool) noexcept;
    int oldest(bool answered) const noexcept;

    std::array<fifo_entry, capacity> _entries{};
    /// A permutation of the entries: the live ones oldest first, then the free ones.
    std::array<std::uint8_t, capacity> _order{};
    std::uint8_t _count = 0;
    bool _dropped = false;
};

}  // namespace cg::dp::mirror
