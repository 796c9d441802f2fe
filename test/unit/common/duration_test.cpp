#include <catch2/catch.hpp>

#include <limits>

#include "common/duration.hpp"

using namespace cg::common;
using std::chrono::microseconds;

namespace {

constexpr std::int64_t sec = 1'000'000;

struct spelling {
    const char* text;
    std::int64_t us;
};

}  // namespace

TEST_CASE("parse_duration reads unit groups and bare seconds", "[duration]") {
    const auto c = GENERATE(values<spelling>({
        {"0", 0},
        {"90", 90 * sec},
        {"90s", 90 * sec},
        {"0s", 0},
        {"250ms", 250'000},
        {"100us", 100},
        {"1h", 3600 * sec},
        {"1h30m", 5400 * sec},
        {"2h15m", 8100 * sec},
        {"1m30s", 90 * sec},
        {"1h2m3s4ms5us", 3723 * sec + 4005},
        {"1s500ms", 1'500'000},
        {"90m", 5400 * sec},
        {"007s", 7 * sec},
    }));
    INFO(c.text);
    CHECK(parse_duration(c.text) == microseconds(c.us));
}

TEST_CASE("parse_duration rejects what is not a duration", "[duration]") {
    const auto* text = GENERATE("", " ", "1 s", " 1s", "1s ", "-1s", "+1s", "-5", "s", "1x", "1.5s", "1S", "30m1h",
                                "1m1m", "1s1m", "500ms2s", "1h30", "1m 30s", "h1", "0x10", "1ns", "1d");
    INFO("'" << text << "'");
    CHECK_FALSE(parse_duration(text).has_value());
}

TEST_CASE("parse_duration refuses to overflow", "[duration]") {
    const auto max = std::numeric_limits<std::int64_t>::max();
    CHECK(parse_duration(std::to_string(max) + "us") == microseconds(max));
    CHECK_FALSE(parse_duration(std::to_string(max) + "0us").has_value());
    CHECK_FALSE(parse_duration("2562047789h").has_value());  // one group past 2^63 us
    CHECK(parse_duration("2562047788h54s") == microseconds(2562047788LL * 3600 * sec + 54 * sec));
    CHECK_FALSE(parse_duration("2562047788h55s").has_value());  // each group fits, the sum does not
    CHECK_FALSE(parse_duration("99999999999999999999999s").has_value());  // beyond 64 bits
}

TEST_CASE("format_duration writes the largest units first", "[duration]") {
    const auto c = GENERATE(values<spelling>({
        {"0s", 0},
        {"1m30s", 90 * sec},
        {"250ms", 250'000},
        {"2h15m", 8100 * sec},
        {"1s500ms", 1'500'000},
        {"1ms500us", 1500},
        {"48h", 48 * 3600 * sec},
        {"1h2m3s4ms5us", 3723 * sec + 4005},
        {"-1m30s", -90 * sec},
    }));
    CHECK(format_duration(microseconds(c.us)) == c.text);
}

TEST_CASE("format_duration and parse_duration round-trip", "[duration]") {
    const auto us = GENERATE(std::int64_t{0}, std::int64_t{1}, 999, 1000, 61 * sec, 3600 * sec + 1,
                             std::numeric_limits<std::int64_t>::max());
    CHECK(parse_duration(format_duration(microseconds(us))) == microseconds(us));
}

TEST_CASE("format_duration handles the most negative value", "[duration]") {
    const auto text = format_duration(microseconds(std::numeric_limits<std::int64_t>::min()));
    CHECK(text.starts_with("-2562047788h"));
}
