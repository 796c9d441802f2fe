#include "dataplane/router/wrr.hpp"

#include <algorithm>

namespace cg::dp {

int wrr_pick(std::span<const wrr_member> members, const wrr_params& p, wrr_state& st) noexcept {
    const auto n = static_cast<std::uint32_t>(members.size());
    if (n == 0 || p.max_weight == 0) return -1;

    // Clamp a state left over from an older member list or other weights.
    std::uint32_t i = st.last < n ? st.last : n - 1;
    std::uint32_t cw = std::min(st.cw, p.max_weight);
    cw -= cw % p.gcd;
    if (cw == 0) i = n - 1;  // fresh round: the first step wraps and sets cw = max

    // Invariant: some member has weight max_weight >= cw, so every level
    // finds a pick within n steps, and a new level starts within n steps.
    for (std::uint32_t step = 0; step < 2 * n + 1; ++step) {
        i = i + 1 == n ? 0 : i + 1;
        if (i == 0) cw = cw > p.gcd ? cw - p.gcd : p.max_weight;
        if (members[i].weight >= cw) {
            st.last = static_cast<std::uint16_t>(i);
            st.cw = cw;
            return static_cast<int>(i);
        }
    }
    return -1;  // unreachable while the invariant holds
}

}  // namespace cg::dp
