#include "dataplane/mirror/msg_fifo.hpp"

namespace cg::dp::mirror {

const char* fifo_flaw_name(fifo_flaw f) noexcept {
    switch (f) {
        case fifo_flaw::none: return "none";
        case fifo_flaw::request_too_large: return "request_too_large";
        case fifo_flaw::no_memory: return "no_memory";
        case fifo_flaw::request_dropped: return "request_dropped";
    }
    return "?";
}

int msg_fifo::oldest(bool answered) const noexcept {
    for (std::uint8_t i = 0; i < _count; ++i)
        if (_entries[_order[i]].answered == answered) return i;
    return -1;
}

void msg_fifo::remove(std::uint8_t pos, chunk_pool& pool) noexcept {
    const std::uint8_t idx = _order[pos];
    pool.release(_entries[idx].bytes);
    for (std::uint8_t i = pos; i + 1 < _count; ++i) _order[i] = _order[i + 1];
    _order[--_count] = idx;  // free slots follow the live ones
}

fifo_flaw msg_fifo::push(const app_message& request, std::span<const std::uint8_t> record, bool whole,
                         chunk_pool& pool) noexcept {
    if (_count == capacity) {
        int victim = oldest(true);
        if (victim < 0) {
            victim = 0;  // every entry unanswered: the oldest goes, and with it restorability
            _dropped = true;
        }
        remove(static_cast<std::uint8_t>(victim), pool);
    }
    fifo_entry& e = _entries[_order[_count]];
    e.msg = request;
    e.answered = false;
    e.bytes = whole ? pool.hold(record) : held_bytes{};
    e.flaw = !whole ? fifo_flaw::request_too_large : e.bytes.empty() ? fifo_flaw::no_memory : fifo_flaw::none;
    ++_count;
    return e.flaw;
}

const app_message* msg_fifo::find_request(std::uint64_t id) const noexcept {
    for (std::uint8_t i = 0; i < _count; ++i) {
        const fifo_entry& e = _entries[_order[i]];
        if (!e.answered && e.msg.id == id) return &e.msg;
    }
    return nullptr;
}

bool msg_fifo::answer(const app_message& reply, chunk_pool& pool) noexcept {
    for (std::uint8_t i = 0; i < _count; ++i) {
        fifo_entry& e = _entries[_order[i]];
        if (e.answered || e.msg.id != reply.id) continue;
        e.answered = true;
        e.flaw = fifo_flaw::none;  // answered: nothing to replay
        pool.release(e.bytes);
        std::uint8_t answered = 0;
        for (std::uint8_t j = 0; j < _count; ++j) answered += _entries[_order[j]].answered;
        if (answered > keep_answered) remove(static_cast<std::uint8_t>(oldest(true)), pool);
        return true;
    }
    return false;
}

fifo_flaw msg_fifo::flaw() const noexcept {
    if (_dropped) return fifo_flaw::request_dropped;
    for (std::uint8_t i = 0; i < _count; ++i) {
        const fifo_entry& e = _entries[_order[i]];
        if (!e.answered && e.flaw != fifo_flaw::none) return e.flaw;
    }
    return fifo_flaw::none;
}

std::uint8_t msg_fifo::unanswered() const noexcept {
    std::uint8_t n = 0;
    for (std::uint8_t i = 0; i < _count; ++i) n += !_entries[_order[i]].answered;
    return n;
}

std::uint64_t msg_fifo::held() const noexcept {
    std::uint64_t n = 0;
    for (std::uint8_t i = 0; i < _count; ++i) n += _entries[_order[i]].bytes.len;
    return n;
}

void msg_fifo::clear(chunk_pool& pool) noexcept {
    while (_count > 0) remove(static_cast<std::uint8_t>(_count - 1), pool);
    _dropped = false;
}

}  // namespace cg::dp::mirror
