// The loader's YAML reading, apart from what any section holds: key paths,
// scalars parsed by hand, and a reader that walks maps and lists, keeps the
// line of every key and collects every error. Only config_load*.cpp use it.
#pragma once

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config.hpp"

namespace cg::common::config_yaml {

/// "a[x].b" -> "a[x]" -> "a" -> "". Labels hold dots (addresses), so a trailing
/// "[...]" is cut as a whole.
std::string parent_key(const std::string& key);

/// The key itself or its nearest enclosing key that `keys` holds.
template <class Keys>
std::optional<std::string> nearest(std::string key, const Keys& keys) {
    for (;;) {
        if (keys.contains(key)) return key;
        if (key.empty()) return std::nullopt;
        key = parent_key(key);
    }
}

std::string describe(const YAML::Node& v);

int line_of(const YAML::Node& v);

// Scalars are read as text and parsed here, never by yaml-cpp's conversions:
// YAML 1.1 would read 02:00:00:00:00:11 or 1:30 as sexagesimal numbers and
// 0x10 as 16.

template <class T>
std::optional<T> to_uint(std::string_view s) {
    T v{};
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

std::optional<std::string> as_text(std::string_view s);

/// Reads a key quietly, to name an element before its keys are read (and
/// reported, if wrong).
template <class Parse>
auto peek(const YAML::Node& map, const char* name, Parse parse) -> decltype(parse(std::string_view{})) {
    if (!map.IsMap()) return std::nullopt;
    const YAML::Node v = map[name];
    if (!v.IsDefined() || !v.IsScalar()) return std::nullopt;
    return parse(v.Scalar());
}

class config_reader {
public:
    explicit config_reader(std::string_view file) : _file(file) {}

    /// line 0: about the file as a whole. `spoils_value`: the key's value in
    /// the model is not what the file says, so the checkers' opinion of it is moot.
    void fail(int line, const std::string& key, std::string reason, bool spoils_value = true);

protected:
    using reader = std::function<void(const YAML::Node& value, const std::string& key)>;
    template <class T>
    using value_reader = std::optional<T> (config_reader::*)(const YAML::Node&, const std::string&);

    struct field {
        std::string_view name;
        reader read;
        bool required = false;
    };

    /// A value the file does not give, taken from `source`.
    struct inheritance {
        std::string source;
        std::string note;
    };

    static field must(field f) {
        f.required = true;
        return f;
    }

    template <class T, class R>
    field set(std::string_view name, T& out, value_reader<R> read) {
        return {name, [this, &out, read](const YAML::Node& v, const std::string& key) {
                    if (auto x = (this->*read)(v, key)) out = std::move(*x);
                }};
    }

    void inherit(const std::string& key, const std::string& source, std::string note = {});

    int line_for(const std::string& key) const;

    /// yaml-cpp marks an empty value where the next key starts: use its key's line.
    int value_line(const YAML::Node& v, const std::string& key) const;

    /// Reads the keys of a map in the order of `fields`, so that the sections
    /// that give defaults come before those that take them. A map left empty
    /// reads as one with no keys. Returns the names of the keys given.
    std::set<std::string_view> read_map(const YAML::Node& map, const std::string& path,
                                        const std::vector<field>& fields);

    static std::string names(const std::vector<field>& fields);

    /// Calls read_item(item, index) for each item. An empty value reads as an
    /// empty list. Returns false when `list` is not a list.
    template <class F>
    bool for_each_item(const YAML::Node& list, const std::string& key, F read_item) {
        if (list.IsNull()) return true;
        if (!list.IsSequence()) {
            fail(value_line(list, key), key, "expected a list, got " + describe(list));
            return false;
        }
        std::size_t i = 0;
        for (const auto& item : list) read_item(item, i++);
        return true;
    }

    /// The key of a list's element: by its label, by its position where it has none.
    std::string element_key(const std::string& list_key, const YAML::Node& item,
                            const std::optional<std::string>& label, std::size_t index);

    /// A list of maps, each read into a T by `fields(item)`; items are named
    /// by their `name` key when `named`, else by position.
    template <class T, class Fields>
    field list_of(std::string_view name, std::vector<T>& out, bool named, Fields fields) {
        return {name, [this, &out, named, fields](const YAML::Node& list, const std::string& key) {
                    for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
                        T x;
                        const auto label = named ? peek(item, "name", as_text) : std::nullopt;
                        read_map(item, element_key(key, item, label, i), fields(x));
                        out.push_back(std::move(x));
                    });
                }};
    }

    template <class T, class Parse>
    std::optional<T> parsed(const YAML::Node& v, const std::string& key, std::string_view expected, Parse parse) {
        if (v.IsScalar()) {
            if (std::optional<T> x = parse(v.Scalar())) return x;
        }
        fail(value_line(v, key), key, fmt::format("expected {}, got {}", expected, describe(v)));
        return std::nullopt;
    }

    // The value readers: each says what it expected when the value is wrong.

    std::optional<std::string> read_string(const YAML::Node& v, const std::string& key);

    template <class T>
    std::optional<T> read_uint(const YAML::Node& v, const std::string& key) {
        return parsed<T>(v, key, fmt::format("an integer 0..{}", std::numeric_limits<T>::max()), to_uint<T>);
    }

    std::optional<bool> read_bool(const YAML::Node& v, const std::string& key);
    std::optional<micros> read_micros(const YAML::Node& v, const std::string& key);
    std::optional<millis> read_millis(const YAML::Node& v, const std::string& key);
    std::optional<ipv4_addr> read_ipv4(const YAML::Node& v, const std::string& key);
    std::optional<std::optional<mac_addr>> read_mac(const YAML::Node& v, const std::string& key);
    std::optional<mac_addr> read_port_mac(const YAML::Node& v, const std::string& key);
    std::optional<l4_proto> read_proto(const YAML::Node& v, const std::string& key);
    std::optional<double> read_real(const YAML::Node& v, const std::string& key);
    std::optional<std::uint16_t> read_time_of_day(const YAML::Node& v, const std::string& key);
    std::optional<probe_kind> read_probe_kind(const YAML::Node& v, const std::string& key);
    std::optional<mirror_mode> read_mirror_mode(const YAML::Node& v, const std::string& key);
    std::optional<std::vector<ipv4_addr>> read_addresses(const YAML::Node& v, const std::string& key);

    /// All or nothing: a list with a bad item leaves the default in place.
    template <class T>
    std::optional<std::vector<T>> read_list(const YAML::Node& list, const std::string& key, value_reader<T> read) {
        std::vector<T> out;
        bool ok = true;
        const bool is_list = for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
            const std::string k = element_key(key, item, std::nullopt, i);
            if (auto x = (this->*read)(item, k)) {
                out.push_back(std::move(*x));
            } else {
                ok = false;
            }
        });
        if (!is_list || !ok) {
            _spoiled.insert(key);
            return std::nullopt;
        }
        return out;
    }

    std::optional<std::vector<std::string>> read_strings(const YAML::Node& v, const std::string& key);
    std::optional<std::vector<unsigned>> read_lcore_ids(const YAML::Node& v, const std::string& key);

    std::string _file;
    std::vector<std::pair<int, config_error>> _errors;
    std::map<std::string, int> _lines;  ///< key path -> 1-based line; a repeated key keeps its last line
    std::set<std::string> _spoiled;
    std::map<std::string, inheritance> _inherited;
};

}  // namespace cg::common::config_yaml
