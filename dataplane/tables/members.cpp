#include "dataplane/tables/members.hpp"

#include <algorithm>
#include <numeric>

namespace cg::dp {

wrr_params wrr_compute(std::span<const wrr_member> members) noexcept {
    wrr_params p;
    for (const auto& m : members) {
        if (m.weight == 0) continue;
        p.max_weight = std::max(p.max_weight, m.weight);
        p.gcd = std::gcd(p.gcd, m.weight);
    }
    return p;
}

}  // namespace cg::dp
