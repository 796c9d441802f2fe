#include "dataplane/mirror/chunk_pool.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace cg::dp::mirror {

chunk_pool::chunk_pool(std::uint32_t chunks, std::uint32_t chunk_size)
    : _chunk_size(chunk_size), _arena(std::size_t{chunks} * chunk_size), _next(chunks) {
    if (chunks == 0 || chunk_size == 0 || chunks == held_bytes::none)
        throw std::invalid_argument("chunk_pool: at least one chunk of at least one byte");
    for (std::uint32_t i = 0; i < chunks; ++i) _next[i] = i + 1 < chunks ? i + 1 : held_bytes::none;
    _free = 0;
    _free_count = chunks;
}

held_bytes chunk_pool::hold(std::span<const std::uint8_t> bytes) noexcept {
    const std::uint64_t need = (bytes.size() + _chunk_size - 1) / _chunk_size;
    if (bytes.empty() || need > _free_count || bytes.size() >= UINT32_MAX) {
        ++_refused;
        return {};
    }
    held_bytes h{_free, static_cast<std::uint32_t>(bytes.size())};
    std::uint32_t c = _free, last = c;
    for (std::size_t at = 0; at < bytes.size(); at += _chunk_size) {
        const std::size_t n = std::min<std::size_t>(_chunk_size, bytes.size() - at);
        std::memcpy(&_arena[std::size_t{c} * _chunk_size], bytes.data() + at, n);
        last = c;
        c = _next[c];
    }
    _free = c;
    _next[last] = held_bytes::none;
    _free_count -= static_cast<std::uint32_t>(need);
    return h;
}

void chunk_pool::release(held_bytes& h) noexcept {
    if (h.empty()) return;
    std::uint32_t c = h.head, n = 1;
    while (_next[c] != held_bytes::none) {
        c = _next[c];
        ++n;
    }
    _next[c] = _free;
    _free = h.head;
    _free_count += n;
    h = {};
}

std::uint32_t chunk_pool::copy_out(const held_bytes& h, std::span<std::uint8_t> out) const noexcept {
    std::uint32_t done = 0;
    for (std::uint32_t c = h.head; c != held_bytes::none && done < h.len && done < out.size(); c = _next[c]) {
        const std::size_t n = std::min<std::size_t>({_chunk_size, h.len - done, out.size() - done});
        std::memcpy(out.data() + done, &_arena[std::size_t{c} * _chunk_size], n);
        done += static_cast<std::uint32_t>(n);
    }
    return done;
}

}  // namespace cg::dp::mirror
