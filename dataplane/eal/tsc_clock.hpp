// The workers' clock: milliseconds from the TSC, 32 bits, wrapping after
// 49 days (connection timestamps are compared by difference, and no timer
// may exceed 24 days). Valid after rte_eal_init().
#pragma once

#include <cstdint>

#include <rte_cycles.h>

namespace cg::dp {

inline std::uint32_t clock_ms() noexcept {
    static const std::uint64_t cycles_per_ms = rte_get_tsc_hz() / 1000;
    return static_cast<std::uint32_t>(rte_get_tsc_cycles() / cycles_per_ms);
}

}  // namespace cg::dp
