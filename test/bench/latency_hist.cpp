#include "latency_hist.hpp"

#include <algorithm>
#include <cmath>

namespace cg::bench {

std::uint64_t latency_hist::percentile(double p) const noexcept {
    if (_total == 0) return 0;
    p = std::clamp(p, 0.0, 1.0);
    const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(p * static_cast<double>(_total))));
    std::uint64_t seen = 0;
    for (unsigned i = 0; i < bucket_count; ++i) {
        seen += _counts[i];
        if (seen >= rank) return std::clamp(upper_of(i), _min, _max);
    }
    return _max;
}

void latency_hist::merge(const latency_hist& o) noexcept {
    for (unsigned i = 0; i < bucket_count; ++i) _counts[i] += o._counts[i];
    _total += o._total;
    _max = std::max(_max, o._max);
    _min = std::min(_min, o._min);
}

}  // namespace cg::bench
