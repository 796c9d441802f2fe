// The input format of fuzz_router, shared with fuzz_seeds so that the seed
// corpus holds well-formed bursts and the fuzzer starts from deep states
// (connections open, in FIN, aged) instead of having to discover the
// framing first.
//
// Every input is used twice: once whole, as a single frame, and once split
// into records, each a 3-byte header and the frame bytes:
//   u16 length (little endian; clamped to what is left of the input)
//   u8  control: bits 0-1 ingress port (0 lan, 1 wan, 2-3 no such port)
//                bits 2-4 clock step before this frame (index into clock_steps)
//                bit  5   move to the next fixture snapshot before this frame
//                bit  6   end the current burst before this frame
//                bit  7   do not age after the clock step (the sweep lags)
// A clock step or a snapshot change also ends the burst and, unless bit 7
// says otherwise, ages the table: without bit 7 the sweep covers the whole
// fixture table, and the router's own expiry check on lookup is never needed.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/net_types.hpp"

namespace cg::fuzz {

/// MAC of the second gateway port ("wan", port 1): no address, no nodes.
inline const common::mac_addr wan_mac{{0x02, 0, 0, 0, 0, 0x02}};

/// Clock steps around the fixture's timers (FIN 3 s, stale 10 s), plus half
/// the 32-bit clock range, where "compared by difference" is at its limit.
inline constexpr std::array<std::uint32_t, 8> clock_steps = {0, 1, 250, 2'999, 3'000, 9'999, 10'000, 1u << 31};

inline constexpr std::size_t record_header = 3;
inline constexpr std::uint8_t ctl_port_mask = 0x03;
inline constexpr unsigned ctl_step_shift = 2;
inline constexpr std::uint8_t ctl_step_mask = 0x07;
inline constexpr std::uint8_t ctl_next_snapshot = 0x20;
inline constexpr std::uint8_t ctl_end_burst = 0x40;
inline constexpr std::uint8_t ctl_no_aging = 0x80;

inline std::uint8_t control(std::uint8_t port, std::uint8_t step = 0, bool next_snapshot = false,
                            bool end_burst = false, bool no_aging = false) {
    return static_cast<std::uint8_t>((port & ctl_port_mask) | ((step & ctl_step_mask) << ctl_step_shift) |
                                     (next_snapshot ? ctl_next_snapshot : 0) | (end_burst ? ctl_end_burst : 0) |
                                     (no_aging ? ctl_no_aging : 0));
}

/// Appends one record (used by fuzz_seeds).
inline void append_record(std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& frame, std::uint8_t ctl) {
    const auto n = static_cast<std::uint16_t>(frame.size());
    out.push_back(static_cast<std::uint8_t>(n));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(ctl);
    out.insert(out.end(), frame.begin(), frame.end());
}

}  // namespace cg::fuzz
