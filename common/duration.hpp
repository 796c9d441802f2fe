// Durations as people write them in YAML and at the console: "90s", "2h15m",
// "250ms", "1m30s", "100us", or a bare integer meaning seconds.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace cg::common {

/// Returns nullopt for anything that is not a non-negative duration made of
/// <integer><unit> groups (units h, m, s, ms, us) or a bare integer (seconds);
/// also on overflow past 2^63 microseconds (about 292,000 years).
std::optional<std::chrono::microseconds> parse_duration(std::string_view s);

/// The shortest exact spelling: 90000ms -> "1m30s", 250ms -> "250ms", 0 -> "0s".
std::string format_duration(std::chrono::microseconds d);

}  // namespace cg::common
