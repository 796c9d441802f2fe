#include "number.hpp"

#include <charconv>
#include <cmath>

namespace cg::common {

std::optional<double> parse_real(std::string_view s) {
    double v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size() || !std::isfinite(v) || v < 0) return std::nullopt;
    return v;
}

}  // namespace cg::common
