#include "flow_plan.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace cg::bench {

std::optional<mix> parse_mix(std::string_view s) {
    mix m;
    double total = 0;
    for (std::size_t i = 0; i < 4; ++i) {
        const auto colon = s.find(':');
        if ((i < 3) == (colon == std::string_view::npos)) return std::nullopt;  // exactly three colons
        const std::string_view part = s.substr(0, colon);
        if (part.empty()) return std::nullopt;
        double v = 0;
        const auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), v);
        if (ec != std::errc{} || end != part.data() + part.size() || !std::isfinite(v) || v < 0) return std::nullopt;
        m.w[i] = v;
        total += v;
        s = colon == std::string_view::npos ? std::string_view{} : s.substr(colon + 1);
    }
    if (total <= 0) return std::nullopt;
    return m;
}

std::string format_mix(const mix& m) { return fmt::format("{:g}:{:g}:{:g}:{:g}", m.w[0], m.w[1], m.w[2], m.w[3]); }

flow_plan::flow_plan(std::span<flow_slot> slots, const mix& m) noexcept
    : _slots(slots.data()),
      _n(static_cast<std::uint32_t>(slots.size())),
      _types(m.w),
      _closes(std::array<double, 2>{m.fin(), m.rst()}),
      _close_any(m.fin() > 0 || m.rst() > 0) {}

void flow_plan::assume_open() noexcept {
    for (std::uint32_t i = 0; i < _n; ++i) _slots[i] = {1, 1, 0, 0};
    _head = 0;
    _open = _n;
    _data = 0;
}

pkt_op flow_plan::open() noexcept {
    if (_open == _n) {  // every slot busy: the oldest connection is abandoned
        _slots[_head].open = 0;
        _head = _head + 1 == _n ? 0 : _head + 1;
        --_open;
        ++_abandoned;
    }
    std::uint32_t slot = _head + _open;
    if (slot >= _n) slot -= _n;
    flow_slot& s = _slots[slot];
    s.gen = next_gen(s.gen);
    s.open = 1;
    ++_open;
    return {pkt_type::syn, slot, s.gen};
}

pkt_op flow_plan::close(pkt_type fin_or_rst) noexcept {
    if (_open == 0) return open();
    const std::uint32_t slot = _head;
    flow_slot& s = _slots[slot];
    s.open = 0;
    _head = _head + 1 == _n ? 0 : _head + 1;
    --_open;
    return {fin_or_rst, slot, s.gen};
}

pkt_op flow_plan::data() noexcept {
    if (_open == 0) return open();
    // Keep the cursor inside the open range [head, head + open).
    std::uint32_t off = _data >= _head ? _data - _head : _data + _n - _head;
    if (off >= _open) off = 0;
    std::uint32_t slot = _head + off;
    if (slot >= _n) slot -= _n;
    _data = slot + 1 == _n ? 0 : slot + 1;
    return {pkt_type::data, slot, _slots[slot].gen};
}

pkt_op flow_plan::next() noexcept {
    switch (_types.next()) {
    case 0: return open();
    case 2: return close(pkt_type::fin);
    case 3: return close(pkt_type::rst);
    default: return data();
    }
}

unsigned flow_plan::churn(pkt_op out[2]) noexcept {
    unsigned n = 0;
    if (_open == _n && _close_any) out[n++] = close(_closes.next() == 0 ? pkt_type::fin : pkt_type::rst);
    out[n++] = open();
    return n;
}

}  // namespace cg::bench
