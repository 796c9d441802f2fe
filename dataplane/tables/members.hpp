// The weighted members of a cluster port as a snapshot holds them, and the
// static facts the round robin (router/wrr.hpp) needs of them, computed once
// when the snapshot is built.
#pragma once

#include <cstdint>
#include <span>

namespace cg::dp {

struct wrr_member {
    std::uint32_t weight;  ///< effective weight (0: not selectable)
    std::uint16_t node;    ///< node slot
};

/// Static facts about the member list, computed once per snapshot.
struct wrr_params {
    std::uint32_t max_weight = 0;  ///< 0: every weight is zero
    std::uint32_t gcd = 0;
};

wrr_params wrr_compute(std::span<const wrr_member> members) noexcept;

}  // namespace cg::dp
