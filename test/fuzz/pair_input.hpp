// The input format of fuzz_pair, shared with fuzz_seeds so that the seed
// corpus holds well-formed scripts (a pair that settles, a cut link, a
// switchover, a recovered primary) and the fuzzer starts from them.
//
// An input is a header, then events of two bytes each (op, arg); what is
// missing reads as zeros. The header (header_size bytes):
//   0, 1  A's and B's priority
//   2     dead_time: 20 + (b % 9) * 10 ms, the same on both sides
//   3     interval: dead_time / (2 + b % 3), so at most half the dead time
//   4     preempt_delay: (b % 4) * 10 dead times (0: no pre-emption)
//   5     B's heartbeat timer runs b % interval ms after A's
//   6     bits 0-6: the quiet phase's link latency, b % interval ms;
//         bit 7: B has the lower address (A's otherwise)
//   7     the quiet phase's takeover time: (b % 21) / 10 dead times
// Then the quiet phase (see fuzz_pair.cpp) runs after the last event.
#pragma once

#include <cstdint>
#include <vector>

namespace cg::fuzz::pair_input {

inline constexpr std::size_t header_size = 8;

enum class op : std::uint8_t {
    wait,          ///< the clock moves arg + 1 ms (the timers beat meanwhile)
    wait_long,     ///< the clock moves (arg % 64 + 1) dead times
    deliver_ab,    ///< the arg % 8 + 1 oldest A->B heartbeats in flight arrive
    drop_ab,       ///< the oldest A->B heartbeat in flight is lost
    delay_ab,      ///< the oldest A->B heartbeat in flight goes behind the others
    deliver_ba,
    drop_ba,
    delay_ba,
    health_a,      ///< A's gatewayd is now arg % 3: down, up, hung
    health_b,
    taken_over_a,  ///< A's takeover (if one runs) ended: arg & 1 ok, else failed
    taken_over_b,
    switchover_a,  ///< the operator types `ha switchover` on A
    switchover_b,
    count
};

inline void append(std::vector<std::uint8_t>& out, op o, std::uint8_t arg = 0) {
    out.push_back(static_cast<std::uint8_t>(o));
    out.push_back(arg);
}

}  // namespace cg::fuzz::pair_input
