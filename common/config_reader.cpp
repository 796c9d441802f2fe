#include "config_reader.hpp"

#include <algorithm>

#include "duration.hpp"
#include "number.hpp"

namespace cg::common::config_yaml {

namespace {

std::string join(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
}

std::string item_key(const std::string& list, std::string_view label) { return fmt::format("{}[{}]", list, label); }

/// "HH:MM" -> minutes after midnight.
std::optional<std::uint16_t> to_time_of_day(std::string_view s) {
    const auto colon = s.find(':');
    if (colon == std::string_view::npos || s.size() - colon != 3) return std::nullopt;
    const auto h = to_uint<unsigned>(s.substr(0, colon));
    const auto m = to_uint<unsigned>(s.substr(colon + 1));
    if (!h || !m || *h > 23 || *m > 59) return std::nullopt;
    return static_cast<std::uint16_t>(*h * 60 + *m);
}

std::optional<probe_kind> to_probe_kind(std::string_view s) {
    if (s == "tcp") return probe_kind::tcp;
    if (s == "http") return probe_kind::http;
    return std::nullopt;
}

std::optional<mirror_mode> to_mirror_mode(std::string_view s) {
    if (s == "every_frame") return mirror_mode::every_frame;
    if (s == "state_changes") return mirror_mode::state_changes;
    return std::nullopt;
}

std::optional<bool> to_bool(std::string_view s) {
    if (s == "true") return true;
    if (s == "false") return false;
    return std::nullopt;
}

std::optional<millis> to_millis(std::string_view s) {
    const auto d = parse_duration(s);
    if (!d || d->count() % 1000 != 0) return std::nullopt;
    return std::chrono::duration_cast<millis>(*d);
}

/// The word "arp" stands for "no MAC: resolve it by ARP".
std::optional<std::optional<mac_addr>> to_mac(std::string_view s) {
    if (s == "arp") return std::optional<std::optional<mac_addr>>(std::in_place);
    if (const auto m = parse_mac(s)) return std::optional<std::optional<mac_addr>>(*m);
    return std::nullopt;
}

}  // namespace

std::string parent_key(const std::string& key) {
    const auto cut = key.ends_with(']') ? key.rfind('[') : key.rfind('.');
    return cut == std::string::npos ? std::string() : key.substr(0, cut);
}

std::string describe(const YAML::Node& v) {
    switch (v.Type()) {
    case YAML::NodeType::Scalar: return fmt::format("'{}'", v.Scalar());
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a map";
    default: return "nothing";
    }
}

int line_of(const YAML::Node& v) { return std::max(v.Mark().line, 0) + 1; }

std::optional<std::string> as_text(std::string_view s) { return std::string(s); }

void config_reader::fail(int line, const std::string& key, std::string reason, bool spoils_value) {
    const std::string where = line > 0 ? fmt::format("{}:{}", _file, line) : _file;
    _errors.emplace_back(line, config_error{where, key, std::move(reason)});
    if (spoils_value) _spoiled.insert(key);
}

void config_reader::inherit(const std::string& key, const std::string& source, std::string note) {
    _inherited[key] = {source, note.empty() ? source : std::move(note)};
}

int config_reader::line_for(const std::string& key) const {
    const auto k = nearest(key, _lines);
    return k ? _lines.at(*k) : 1;
}

int config_reader::value_line(const YAML::Node& v, const std::string& key) const {
    return v.IsNull() ? line_for(key) : line_of(v);
}

std::set<std::string_view> config_reader::read_map(const YAML::Node& map, const std::string& path,
                                                   const std::vector<field>& fields) {
    if (!map.IsMap() && !map.IsNull()) {
        fail(value_line(map, path), path, "expected a map of keys, got " + describe(map));
        return {};
    }
    std::vector<std::optional<YAML::Node>> found(fields.size());
    for (const auto& kv : map) {
        const int line = line_of(kv.first);
        const auto it = std::find_if(fields.begin(), fields.end(), [&](const field& f) {
            return kv.first.IsScalar() && f.name == kv.first.Scalar();
        });
        if (it == fields.end()) {
            const std::string key = kv.first.IsScalar() ? join(path, kv.first.Scalar()) : path;
            fail(line, key, fmt::format("unknown key {}; the keys here are: {}", describe(kv.first), names(fields)),
                 false);
            continue;
        }
        const std::string key = join(path, it->name);
        auto& slot = found[static_cast<std::size_t>(it - fields.begin())];
        if (slot) {
            fail(line, key, fmt::format("key '{}' is given twice", it->name), false);
            continue;
        }
        slot.emplace(kv.second);  // copy-construct: assigning a YAML::Node rebinds the node it refers to
        _lines[key] = line;
    }
    std::set<std::string_view> given;
    for (std::size_t i = 0; i < fields.size(); ++i) {
        const std::string key = join(path, fields[i].name);
        if (found[i]) {
            given.insert(fields[i].name);
            fields[i].read(*found[i], key);
        } else if (fields[i].required) {
            fail(line_for(path), key, fmt::format("required key '{}' is missing", fields[i].name));
        }
    }
    return given;
}

std::string config_reader::names(const std::vector<field>& fields) {
    std::string out;
    for (const field& f : fields) out += fmt::format("{}{}", out.empty() ? "" : ", ", f.name);
    return out;
}

std::string config_reader::element_key(const std::string& list_key, const YAML::Node& item,
                                       const std::optional<std::string>& label, std::size_t index) {
    std::string key = item_key(list_key, label ? *label : std::to_string(index));
    _lines[key] = line_of(item);
    return key;
}

std::optional<std::string> config_reader::read_string(const YAML::Node& v, const std::string& key) {
    return parsed<std::string>(v, key, "a string", as_text);
}

std::optional<bool> config_reader::read_bool(const YAML::Node& v, const std::string& key) {
    return parsed<bool>(v, key, "true or false", to_bool);
}

std::optional<micros> config_reader::read_micros(const YAML::Node& v, const std::string& key) {
    return parsed<micros>(v, key, "a duration such as 50us, 1ms or 1s (a bare number means seconds)", parse_duration);
}

std::optional<millis> config_reader::read_millis(const YAML::Node& v, const std::string& key) {
    return parsed<millis>(v, key,
                          "a duration in whole milliseconds such as 90s, 2h15m or 250ms (a bare number means "
                          "seconds)",
                          to_millis);
}

std::optional<ipv4_addr> config_reader::read_ipv4(const YAML::Node& v, const std::string& key) {
    return parsed<ipv4_addr>(v, key, "an IPv4 address such as 198.18.0.1", parse_ipv4);
}

std::optional<std::optional<mac_addr>> config_reader::read_mac(const YAML::Node& v, const std::string& key) {
    return parsed<std::optional<mac_addr>>(v, key, "a MAC address such as 02:00:00:00:00:11, or arp", to_mac);
}

std::optional<mac_addr> config_reader::read_port_mac(const YAML::Node& v, const std::string& key) {
    return parsed<mac_addr>(v, key, "a MAC address such as 02:00:00:00:00:01", parse_mac);
}

std::optional<l4_proto> config_reader::read_proto(const YAML::Node& v, const std::string& key) {
    return parsed<l4_proto>(v, key, "tcp or udp", parse_proto);
}

std::optional<double> config_reader::read_real(const YAML::Node& v, const std::string& key) {
    return parsed<double>(v, key, "a number, 0 or more, such as 0.5", parse_real);
}

std::optional<std::uint16_t> config_reader::read_time_of_day(const YAML::Node& v, const std::string& key) {
    return parsed<std::uint16_t>(v, key, "a time of day HH:MM such as 02:00", to_time_of_day);
}

std::optional<probe_kind> config_reader::read_probe_kind(const YAML::Node& v, const std::string& key) {
    return parsed<probe_kind>(v, key, "tcp or http", to_probe_kind);
}

std::optional<mirror_mode> config_reader::read_mirror_mode(const YAML::Node& v, const std::string& key) {
    return parsed<mirror_mode>(v, key, "every_frame or state_changes", to_mirror_mode);
}

std::optional<std::vector<ipv4_addr>> config_reader::read_addresses(const YAML::Node& v, const std::string& key) {
    return read_list(v, key, &config_reader::read_ipv4);
}

std::optional<std::vector<std::string>> config_reader::read_strings(const YAML::Node& v, const std::string& key) {
    return read_list(v, key, &config_reader::read_string);
}

std::optional<std::vector<unsigned>> config_reader::read_lcore_ids(const YAML::Node& v, const std::string& key) {
    return read_list(v, key, &config_reader::read_uint<unsigned>);
}

}  // namespace cg::common::config_yaml
