// Parsing of the real numbers that configuration and console take.
#pragma once

#include <optional>
#include <string_view>

namespace cg::common {

/// A finite number, 0 or more ("0.5", "3", "1e3"). Nothing else: no sign,
/// no spaces, no trailing text.
std::optional<double> parse_real(std::string_view s);

}  // namespace cg::common
