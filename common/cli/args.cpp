#include "command.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>
#include <set>
#include <span>

#include "common/duration.hpp"

namespace cg::cli {

namespace {

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string valid_options(const std::vector<option_spec>& specs) {
    std::string s;
    for (const option_spec& o : specs) s += (s.empty() ? "" : ", ") + option_syntax(o);
    return s;
}

std::string join(std::span<const std::string> words, std::string_view sep) {
    std::string s;
    for (const std::string& w : words) s += (s.empty() ? "" : std::string(sep)) + w;
    return s;
}

std::string choice_text(std::string_view choices) {
    std::string s(choices);
    std::replace(s.begin(), s.end(), '#', '|');
    return s;
}

bool is_choice(std::string_view choices, std::string_view w) {
    while (true) {
        const std::size_t end = choices.find('#');
        if (choices.substr(0, end) == w) return true;
        if (end == std::string_view::npos) return false;
        choices.remove_prefix(end + 1);
    }
}

/// How many of `c`'s keywords start `words`.
std::size_t keyword_depth(const command& c, const std::vector<std::string>& words) {
    std::size_t d = 0;
    while (d < c.words.size() && d < words.size() && c.words[d] == words[d]) ++d;
    return d;
}

/// The first argument of `words` that `c` cannot take, if any.
std::optional<std::string> arg_problem(const command& c, const std::vector<std::string>& words) {
    std::size_t i = c.words.size();
    for (const arg_spec& a : c.args) {
        if (i == words.size()) {
            if (a.optional) return std::nullopt;
            return fmt::format("missing <{}>", a.name);
        }
        const std::string& w = words[i++];
        if (w.size() > max_word_length) return fmt::format("{}: longer than {} characters", a.name, max_word_length);
        if (!a.choices.empty() && !is_choice(a.choices, w)) {
            return fmt::format("{}: expected {}, got '{}'", a.name, choice_text(a.choices), w);
        }
    }
    if (i < words.size() && c.options.empty()) return fmt::format("unexpected '{}' after the arguments", words[i]);
    return std::nullopt;
}

[[noreturn]] void bad(std::string_view name, std::string_view expected, const std::string& v) {
    throw cli_error(fmt::format("{}: expected {}, got '{}'", name, expected, v));
}

}  // namespace

std::vector<std::string> split_words(std::string_view s) {
    std::vector<std::string> words;
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && is_blank(s[i])) ++i;
        std::size_t start = i;
        while (i < s.size() && !is_blank(s[i])) ++i;
        if (i > start) words.emplace_back(s.substr(start, i - start));
    }
    return words;
}

std::string option_syntax(const option_spec& o) {
    return o.value_name.empty() ? std::string(o.key) : fmt::format("{} <{}>", o.key, o.value_name);
}

std::string arg_syntax(const arg_spec& a) {
    return a.choices.empty() ? fmt::format("<{}>", a.name) : choice_text(a.choices);
}

std::string syntax(const command& c) {
    std::string s;
    auto add = [&s](std::string_view part) { s += (s.empty() ? "" : " ") + std::string(part); };
    for (std::string_view w : c.words) add(w);
    for (const arg_spec& a : c.args) add(a.optional ? "[" + arg_syntax(a) + "]" : arg_syntax(a));
    for (const option_spec& o : c.options) add("[" + option_syntax(o) + "]");
    return s;
}

std::map<std::string, std::string> parse_options(const std::vector<option_spec>& specs, std::string_view tail) {
    std::map<std::string, std::string> out;
    const std::vector<std::string> words = split_words(tail);
    for (std::size_t i = 0; i < words.size(); ++i) {
        const std::string& key = words[i];
        auto spec = std::find_if(specs.begin(), specs.end(), [&](const option_spec& o) { return o.key == key; });
        if (spec == specs.end()) {
            throw cli_error(fmt::format("unknown option '{}'; valid options: {}", key, valid_options(specs)));
        }
        if (out.contains(key)) throw cli_error(fmt::format("option '{}' given twice", key));
        std::string value;
        if (!spec->value_name.empty()) {
            if (i + 1 == words.size()) {
                throw cli_error(fmt::format("option '{}' needs a value: {}", key, option_syntax(*spec)));
            }
            value = words[++i];
        }
        out.emplace(key, std::move(value));
    }
    return out;
}

std::string describe_mismatch(const std::vector<const command*>& commands, std::string_view line) {
    const std::vector<std::string> words = split_words(line.substr(0, line.find('#')));
    if (words.empty()) return "empty command";
    std::size_t depth = 0;
    const command* named = nullptr;  // the command whose keywords all match, the longest
    for (const command* c : commands) {
        const std::size_t d = keyword_depth(*c, words);
        if (d == c->words.size() && (!named || d > named->words.size())) named = c;
        depth = std::max(depth, d);
    }
    if (depth == 0) return fmt::format("unknown command: {}  (try: help)", join(words, " "));
    const std::string see = fmt::format("see help {}", words[0]);
    if (named) {
        const std::string what = join(std::span(words).first(named->words.size()), " ");
        if (auto problem = arg_problem(*named, words)) {
            return fmt::format("bad arguments for {}: {}\n  usage: {}", what, *problem, syntax(*named));
        }
        return fmt::format("bad arguments for {}: {}", what, see);
    }
    std::set<std::string_view> expected;  // the keywords that could come next, sorted for the message
    for (const command* c : commands) {
        if (keyword_depth(*c, words) == depth && c->words.size() > depth) expected.insert(c->words[depth]);
    }
    std::string choices;
    for (std::string_view e : expected) choices += (choices.empty() ? "" : "|") + std::string(e);
    const std::string got = words.size() > depth ? fmt::format(", got '{}'", words[depth]) : "";
    return fmt::format("bad arguments for {}: expected {}{}; {}", join(std::span(words).first(depth), " "), choices,
                       got, see);
}

common::ipv4_addr ipv4_arg(std::string_view name, const std::string& v) {
    if (auto a = common::parse_ipv4(v)) return *a;
    bad(name, "an IPv4 address like 198.18.0.1", v);
}

std::uint64_t uint_arg(std::string_view name, const std::string& v, std::uint64_t min, std::uint64_t max) {
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || n < min || n > max) {
        bad(name, fmt::format("an integer from {} to {}", min, max), v);
    }
    return n;
}

common::l4_proto proto_arg(std::string_view name, const std::string& v) {
    if (auto p = common::parse_proto(v)) return *p;
    bad(name, "tcp or udp", v);
}

common::mac_addr mac_arg(std::string_view name, const std::string& v) {
    if (auto m = common::parse_mac(v)) return *m;
    bad(name, "a MAC address like 02:00:00:00:00:01", v);
}

std::uint32_t duration_ms_arg(std::string_view name, const std::string& v) {
    using std::chrono::milliseconds;
    const auto d = common::parse_duration(v);
    if (!d) bad(name, "a duration like 90s, 2h15m or 250ms", v);
    if (*d % milliseconds(1) != std::chrono::microseconds(0)) bad(name, "whole milliseconds", v);
    constexpr std::uint64_t max_ms = std::numeric_limits<std::uint32_t>::max();
    const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<milliseconds>(*d).count());
    if (ms > max_ms) {
        bad(name, "at most " + common::format_duration(milliseconds(max_ms)), v);
    }
    return static_cast<std::uint32_t>(ms);
}

bool bool_arg(std::string_view name, const std::string& v) {
    if (v == "on") return true;
    if (v == "off") return false;
    bad(name, "on or off", v);
}

const std::string* find_option(const parsed& p, std::string_view key) {
    auto it = p.options.find(std::string(key));
    return it == p.options.end() ? nullptr : &it->second;
}

}  // namespace cg::cli
