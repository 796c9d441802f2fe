#include "duration.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <limits>

namespace cg::common {

namespace {

struct unit {
    std::string_view name;
    std::uint64_t us;
};

// Largest first: parsing requires this order, formatting divides greedily in it.
constexpr std::array<unit, 5> units{{
    {"h", 3'600'000'000ULL},
    {"m", 60'000'000ULL},
    {"s", 1'000'000ULL},
    {"ms", 1'000ULL},
    {"us", 1ULL},
}};
constexpr std::size_t seconds_unit = 2;

/// The unit that `s` starts with; "ms" must win over "m".
std::optional<std::size_t> match_unit(std::string_view s) {
    std::optional<std::size_t> best;
    for (std::size_t i = 0; i < units.size(); ++i) {
        if (s.starts_with(units[i].name) && (!best || units[i].name.size() > units[*best].name.size())) best = i;
    }
    return best;
}

}  // namespace

std::optional<std::chrono::microseconds> parse_duration(std::string_view s) {
    constexpr auto limit = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (s.empty()) return std::nullopt;
    std::uint64_t total = 0;
    std::size_t next_unit = 0;  // each unit at most once, largest first: "30m1h" is a typo, not 1h30m
    bool first = true;
    while (!s.empty()) {
        std::uint64_t n = 0;
        const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (ec != std::errc{}) return std::nullopt;
        s.remove_prefix(static_cast<std::size_t>(end - s.data()));
        std::size_t u = seconds_unit;
        if (!s.empty()) {
            const auto m = match_unit(s);
            if (!m) return std::nullopt;
            u = *m;
            s.remove_prefix(units[u].name.size());
        } else if (!first) {
            return std::nullopt;  // "1m30": a bare number only stands alone
        }
        if (u < next_unit) return std::nullopt;
        next_unit = u + 1;
        first = false;
        if (n > (limit - total) / units[u].us) return std::nullopt;
        total += n * units[u].us;
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(total));
}

std::string format_duration(std::chrono::microseconds d) {
    if (d.count() == 0) return "0s";
    std::string out;
    // Unsigned so that the most negative value has a magnitude too.
    std::uint64_t rest = static_cast<std::uint64_t>(d.count());
    if (d.count() < 0) {
        out = "-";
        rest = 0 - rest;
    }
    for (const unit& u : units) {
        if (rest < u.us) continue;
        out += std::to_string(rest / u.us);
        out += u.name;
        rest %= u.us;
    }
    return out;
}

}  // namespace cg::common
