#include "config_load.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "config_check.hpp"
#include "duration.hpp"
#include "number.hpp"

namespace cg::common {

namespace {

std::string join(const std::string& path, std::string_view name) {
    return path.empty() ? std::string(name) : fmt::format("{}.{}", path, name);
}

std::string item_key(const std::string& list, std::string_view label) { return fmt::format("{}[{}]", list, label); }

/// "a[x].b" -> "a[x]" -> "a" -> "". Labels hold dots (addresses), so a trailing
/// "[...]" is cut as a whole.
std::string parent_key(const std::string& key) {
    const auto cut = key.ends_with(']') ? key.rfind('[') : key.rfind('.');
    return cut == std::string::npos ? std::string() : key.substr(0, cut);
}

/// The key itself or its nearest enclosing key that `keys` holds.
template <class Keys>
std::optional<std::string> nearest(std::string key, const Keys& keys) {
    for (;;) {
        if (keys.contains(key)) return key;
        if (key.empty()) return std::nullopt;
        key = parent_key(key);
    }
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

std::optional<std::string> as_text(std::string_view s) { return std::string(s); }

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

/// Reads a key quietly, to name an element before its keys are read (and
/// reported, if wrong).
template <class Parse>
auto peek(const YAML::Node& map, const char* name, Parse parse) -> decltype(parse(std::string_view{})) {
    if (!map.IsMap()) return std::nullopt;
    const YAML::Node v = map[name];
    if (!v.IsDefined() || !v.IsScalar()) return std::nullopt;
    return parse(v.Scalar());
}

class loader {
public:
    explicit loader(std::string_view file) : _file(file) {}

    /// line 0: about the file as a whole. `spoils_value`: the key's value in
    /// the model is not what the file says, so the checkers' opinion of it is moot.
    void fail(int line, const std::string& key, std::string reason, bool spoils_value = true) {
        const std::string where = line > 0 ? fmt::format("{}:{}", _file, line) : _file;
        _errors.emplace_back(line, config_error{where, key, std::move(reason)});
        if (spoils_value) _spoiled.insert(key);
    }

    void read(const YAML::Node& root) {
        _lines[""] = line_of(root);
        read_map(root, "", {
                               section("gateway", &loader::read_gateway),
                               section("eal", &loader::read_eal),
                               must(section("lcores", &loader::read_lcores)),
                               must(section("ports", &loader::read_ports)),
                               section("tables", &loader::read_tables),
                               section("timers", &loader::read_timers),
                               // After ports and timers: it takes its defaults from them.
                               section("clusters", &loader::read_clusters),
                               section("manager", &loader::read_manager),
                           });
        if (_cfg.control_socket.empty()) {
            _cfg.control_socket = fmt::format("/run/clustergate/{}.sock", _cfg.name);
            inherit("gateway.control_socket", "gateway.name", "/run/clustergate/<gateway.name>.sock");
        }
        if (_cfg.manager.control_socket.empty()) {
            _cfg.manager.control_socket = fmt::format("/run/clustergate/{}-controld.sock", _cfg.name);
            inherit("manager.control_socket", "gateway.name", "/run/clustergate/<gateway.name>-controld.sock");
        }
    }

    load_result finish() {
        std::vector<config_error> checked = check_static(_cfg, _file);
        for (auto* check : {&check_clusters, &check_manager}) {
            std::vector<config_error> more = check(_cfg, _file);
            checked.insert(checked.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
        }
        std::set<std::string> checked_keys;
        for (const config_error& e : checked) checked_keys.insert(e.key);
        for (config_error& e : checked) {
            if (nearest(e.key, _spoiled)) continue;  // the loader already said what is wrong there
            if (const auto it = _inherited.find(e.key); it != _inherited.end()) {
                if (checked_keys.contains(it->second.source)) continue;  // said once, where the value comes from
                e.reason += fmt::format(" (not set here: the default is {})", it->second.note);
            }
            fail(line_for(e.key), e.key, std::move(e.reason), false);
        }
        std::stable_sort(_errors.begin(), _errors.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        load_result result{std::move(_cfg), {}};
        for (auto& [line, e] : _errors) result.errors.push_back(std::move(e));
        return result;
    }

private:
    using reader = std::function<void(const YAML::Node& value, const std::string& key)>;
    template <class T>
    using value_reader = std::optional<T> (loader::*)(const YAML::Node&, const std::string&);

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

    field section(std::string_view name, void (loader::*read)(const YAML::Node&, const std::string&)) {
        return {name, [this, read](const YAML::Node& v, const std::string& key) { (this->*read)(v, key); }};
    }

    template <class T, class R>
    field set(std::string_view name, T& out, value_reader<R> read) {
        return {name, [this, &out, read](const YAML::Node& v, const std::string& key) {
                    if (auto x = (this->*read)(v, key)) out = std::move(*x);
                }};
    }

    void inherit(const std::string& key, const std::string& source, std::string note = {}) {
        _inherited[key] = {source, note.empty() ? source : std::move(note)};
    }

    int line_for(const std::string& key) const {
        const auto k = nearest(key, _lines);
        return k ? _lines.at(*k) : 1;
    }

    /// yaml-cpp marks an empty value where the next key starts: use its key's line.
    int value_line(const YAML::Node& v, const std::string& key) const {
        return v.IsNull() ? line_for(key) : line_of(v);
    }

    /// Reads the keys of a map in the order of `fields`, so that the sections
    /// that give defaults come before those that take them. A map left empty
    /// reads as one with no keys. Returns the names of the keys given.
    std::set<std::string_view> read_map(const YAML::Node& map, const std::string& path,
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

    static std::string names(const std::vector<field>& fields) {
        std::string out;
        for (const field& f : fields) out += fmt::format("{}{}", out.empty() ? "" : ", ", f.name);
        return out;
    }

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
                            const std::optional<std::string>& label, std::size_t index) {
        std::string key = item_key(list_key, label ? *label : std::to_string(index));
        _lines[key] = line_of(item);
        return key;
    }

    template <class T, class Parse>
    std::optional<T> parsed(const YAML::Node& v, const std::string& key, std::string_view expected, Parse parse) {
        if (v.IsScalar()) {
            if (std::optional<T> x = parse(v.Scalar())) return x;
        }
        fail(value_line(v, key), key, fmt::format("expected {}, got {}", expected, describe(v)));
        return std::nullopt;
    }

    std::optional<std::string> read_string(const YAML::Node& v, const std::string& key) {
        return parsed<std::string>(v, key, "a string", as_text);
    }

    template <class T>
    std::optional<T> read_uint(const YAML::Node& v, const std::string& key) {
        return parsed<T>(v, key, fmt::format("an integer 0..{}", std::numeric_limits<T>::max()), to_uint<T>);
    }

    std::optional<bool> read_bool(const YAML::Node& v, const std::string& key) {
        return parsed<bool>(v, key, "true or false", to_bool);
    }

    std::optional<micros> read_micros(const YAML::Node& v, const std::string& key) {
        return parsed<micros>(v, key, "a duration such as 50us, 1ms or 1s (a bare number means seconds)",
                              parse_duration);
    }

    std::optional<millis> read_millis(const YAML::Node& v, const std::string& key) {
        return parsed<millis>(v, key,
                              "a duration in whole milliseconds such as 90s, 2h15m or 250ms (a bare number means "
                              "seconds)",
                              to_millis);
    }

    std::optional<ipv4_addr> read_ipv4(const YAML::Node& v, const std::string& key) {
        return parsed<ipv4_addr>(v, key, "an IPv4 address such as 198.18.0.1", parse_ipv4);
    }

    std::optional<std::optional<mac_addr>> read_mac(const YAML::Node& v, const std::string& key) {
        return parsed<std::optional<mac_addr>>(v, key, "a MAC address such as 02:00:00:00:00:11, or arp", to_mac);
    }

    std::optional<mac_addr> read_port_mac(const YAML::Node& v, const std::string& key) {
        return parsed<mac_addr>(v, key, "a MAC address such as 02:00:00:00:00:01", parse_mac);
    }

    std::optional<l4_proto> read_proto(const YAML::Node& v, const std::string& key) {
        return parsed<l4_proto>(v, key, "tcp or udp", parse_proto);
    }

    std::optional<double> read_real(const YAML::Node& v, const std::string& key) {
        return parsed<double>(v, key, "a number, 0 or more, such as 0.5", parse_real);
    }

    std::optional<std::uint16_t> read_time_of_day(const YAML::Node& v, const std::string& key) {
        return parsed<std::uint16_t>(v, key, "a time of day HH:MM such as 02:00", to_time_of_day);
    }

    std::optional<probe_kind> read_probe_kind(const YAML::Node& v, const std::string& key) {
        return parsed<probe_kind>(v, key, "tcp or http", to_probe_kind);
    }

    std::optional<std::vector<ipv4_addr>> read_addresses(const YAML::Node& v, const std::string& key) {
        return read_list(v, key, &loader::read_ipv4);
    }

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

    std::optional<std::vector<std::string>> read_strings(const YAML::Node& v, const std::string& key) {
        return read_list(v, key, &loader::read_string);
    }

    std::optional<std::vector<unsigned>> read_lcore_ids(const YAML::Node& v, const std::string& key) {
        return read_list(v, key, &loader::read_uint<unsigned>);
    }

    void read_gateway(const YAML::Node& v, const std::string& key) {
        read_map(v, key, {
                             set("name", _cfg.name, &loader::read_string),
                             set("control_socket", _cfg.control_socket, &loader::read_string),
                             set("idle_sleep", _cfg.idle_sleep, &loader::read_micros),
                         });
    }

    void read_eal(const YAML::Node& v, const std::string& key) {
        read_map(v, key, {
                             set("huge", _cfg.eal.huge, &loader::read_bool),
                             set("memory", _cfg.eal.memory_mb, &loader::read_uint<std::uint32_t>),
                             set("args", _cfg.eal.args, &loader::read_strings),
                         });
    }

    void read_lcores(const YAML::Node& v, const std::string& key) {
        read_map(v, key, {
                             set("main", _cfg.lcores.main, &loader::read_uint<unsigned>),
                             set("workers", _cfg.lcores.workers, &loader::read_lcore_ids),
                             set("dispatch", _cfg.lcores.dispatch, &loader::read_uint<unsigned>),
                         });
    }

    void read_ports(const YAML::Node& list, const std::string& key) {
        for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
            port_cfg p;
            p.name = peek(item, "name", as_text).value_or("");
            const std::string k = port_key(p, i);
            _lines[k] = line_of(item);
            read_map(item, k, {
                                  must(set("name", p.name, &loader::read_string)),
                                  must(set("device", p.device, &loader::read_string)),
                                  set("address", p.address, &loader::read_ipv4),
                                  set("mac", p.mac, &loader::read_port_mac),
                                  set("rx_descriptors", p.rx_descriptors, &loader::read_uint<std::uint16_t>),
                                  set("tx_descriptors", p.tx_descriptors, &loader::read_uint<std::uint16_t>),
                              });
            _cfg.ports.push_back(std::move(p));
        });
    }

    void read_tables(const YAML::Node& v, const std::string& key) {
        table_cfg& t = _cfg.tables;
        read_map(v, key, {
                             set("connections", t.connections, &loader::read_uint<std::uint32_t>),
                             set("services", t.services, &loader::read_uint<std::uint32_t>),
                             set("nodes", t.nodes, &loader::read_uint<std::uint32_t>),
                             set("mbufs", t.mbufs, &loader::read_uint<std::uint32_t>),
                             set("burst", t.burst, &loader::read_uint<std::uint16_t>),
                         });
    }

    void read_timers(const YAML::Node& v, const std::string& key) {
        timer_cfg& t = _cfg.timers;
        read_map(v, key, {
                             set("msl", t.msl, &loader::read_millis),
                             set("fin_timeout", t.fin_timeout, &loader::read_millis),
                             set("stale_timeout", t.stale_timeout, &loader::read_millis),
                             set("arp_refresh", t.arp_refresh, &loader::read_millis),
                         });
    }

    // Clusters, their ports and nodes are named by what identifies them, as
    // config_check.hpp names them. One that cannot be named (its address does
    // not parse) is reported by position and left out of the model: what the
    // checkers would say of it could not be placed in the file.

    void read_clusters(const YAML::Node& list, const std::string& key) {
        for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
            cluster_cfg c;
            const auto address = peek(item, "address", parse_ipv4);
            auto label = peek(item, "name", as_text);
            if (!label || label->empty()) label = address ? std::optional(format_ipv4(*address)) : std::nullopt;
            const std::string k = element_key(key, item, label, i);
            read_map(item, k, {
                                  set("name", c.name, &loader::read_string),
                                  must(set("address", c.address, &loader::read_ipv4)),
                                  {"ports", [&](const YAML::Node& v, const std::string& pk) {
                                       read_services(v, pk, c.ports);
                                   }},
                              });
            if (!label) return;
            if (c.name.empty()) c.name = format_ipv4(c.address);
            _cfg.clusters.push_back(std::move(c));
        });
    }

    void read_services(const YAML::Node& list, const std::string& key, std::vector<service_cfg>& out) {
        for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
            service_cfg s;
            s.msl = _cfg.timers.msl;
            s.stale_timeout = _cfg.timers.stale_timeout;
            const auto port = peek(item, "port", to_uint<std::uint16_t>);
            const bool has_proto = item.IsMap() && item["protocol"].IsDefined();
            const auto proto = has_proto ? peek(item, "protocol", parse_proto) : std::optional(l4_proto::tcp);
            const auto label = port && proto ? std::optional(fmt::format("{}/{}", proto_name(*proto), *port))
                                             : std::nullopt;
            const std::string k = element_key(key, item, label, i);
            const auto given = read_map(
                item, k,
                {
                    must(set("port", s.port, &loader::read_uint<std::uint16_t>)),
                    set("protocol", s.protocol, &loader::read_proto),
                    set("msl", s.msl, &loader::read_millis),
                    set("fin_timeout", s.fin_timeout, &loader::read_millis),
                    set("stale_timeout", s.stale_timeout, &loader::read_millis),
                    set("weight_bound", s.weight_bound, &loader::read_uint<std::uint32_t>),
                    {"nodes", [&](const YAML::Node& v, const std::string& nk) { read_nodes(v, nk, s.nodes); }},
                });
            if (!given.contains("msl")) inherit(k + ".msl", "timers.msl");
            if (!given.contains("stale_timeout")) inherit(k + ".stale_timeout", "timers.stale_timeout");
            if (!given.contains("fin_timeout") && _cfg.timers.fin_timeout) {
                s.fin_timeout = *_cfg.timers.fin_timeout;
                inherit(k + ".fin_timeout", "timers.fin_timeout");
            } else if (!given.contains("fin_timeout")) {
                s.fin_timeout = 3 * s.msl;
                inherit(k + ".fin_timeout", k + ".msl", "3 x msl");
            }
            if (label) out.push_back(std::move(s));
        });
    }

    void read_nodes(const YAML::Node& list, const std::string& key, std::vector<node_cfg>& out) {
        for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
            node_cfg n;
            const auto address = peek(item, "address", parse_ipv4);
            const auto label = address ? std::optional(format_ipv4(*address)) : std::nullopt;
            const std::string k = element_key(key, item, label, i);
            const auto given = read_map(item, k, {
                                                     must(set("address", n.address, &loader::read_ipv4)),
                                                     set("mac", n.mac, &loader::read_mac),
                                                     set("weight", n.weight, &loader::read_uint<std::uint32_t>),
                                                     set("weight_bound", n.weight_bound,
                                                         &loader::read_uint<std::uint32_t>),
                                                     set("port", n.port, &loader::read_string),
                                                     set("quiesced", n.quiesced, &loader::read_bool),
                                                 });
            if (!given.contains("port") && _cfg.ports.size() == 1) n.port = _cfg.ports.front().name;
            if (label) out.push_back(std::move(n));
        });
    }

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

    void read_manager(const YAML::Node& v, const std::string& key) {
        manager_cfg& m = _cfg.manager;
        importance_cfg& w = m.importance;
        read_map(v, key, {
            set("gatewayd", m.gatewayd, &loader::read_string),
            set("control_socket", m.control_socket, &loader::read_string),
            set("prometheus", m.prometheus, &loader::read_string),
            set("period", m.period, &loader::read_millis),
            set("smoothing", m.smoothing, &loader::read_real),
            set("threshold", m.threshold, &loader::read_real),
            set("min_weight", m.min_weight, &loader::read_real),
            {"importance", [&](const YAML::Node& iv, const std::string& ik) {
                 read_map(iv, ik, {
                     set("conns", w.conns, &loader::read_real),
                     set("conn_rate", w.conn_rate, &loader::read_real),
                     set("answer_time", w.answer_time, &loader::read_real),
                     set("load", w.load, &loader::read_real),
                     set("cpu", w.cpu, &loader::read_real),
                     set("memory", w.memory, &loader::read_real),
                     set("sockets", w.sockets, &loader::read_real),
                     set("script", w.script, &loader::read_real),
                 });
             }},
            {"agents", [&](const YAML::Node& av, const std::string& ak) {
                 agents_cfg a;
                 read_map(av, ak, {
                     must(set("listen", a.listen, &loader::read_string)),
                     must(set("key_file", a.key_file, &loader::read_string)),
                     set("stale", a.stale, &loader::read_millis),
                     set("max_skew", a.max_skew, &loader::read_millis),
                 });
                 m.agents = std::move(a);
             }},
            list_of<probe_cfg>("probes", m.probes, false, [&](probe_cfg& p) {
                return std::vector<field>{
                    must(set("cluster", p.cluster, &loader::read_ipv4)),
                    must(set("port", p.port, &loader::read_uint<std::uint16_t>)),
                    set("protocol", p.protocol, &loader::read_proto),
                    set("type", p.type, &loader::read_probe_kind),
                    set("target", p.target, &loader::read_uint<std::uint16_t>),
                    set("path", p.path, &loader::read_string),
                    set("expect", p.expect, &loader::read_uint<std::uint16_t>),
                    set("interval", p.interval, &loader::read_millis),
                    set("timeout", p.timeout, &loader::read_millis),
                };
            }),
            list_of<rule_cfg>("rules", m.rules, true, [&](rule_cfg& r) {
                return std::vector<field>{
                    must(set("name", r.name, &loader::read_string)),
                    must(set("nodes", r.nodes, &loader::read_addresses)),
                    must(set("from", r.from, &loader::read_time_of_day)),
                    must(set("to", r.to, &loader::read_time_of_day)),
                };
            }),
            list_of<user_metric_cfg>("metrics", m.metrics, true, [&](user_metric_cfg& u) {
                return std::vector<field>{
                    must(set("name", u.name, &loader::read_string)),
                    must(set("command", u.command, &loader::read_string)),
                    set("interval", u.interval, &loader::read_millis),
                    set("timeout", u.timeout, &loader::read_millis),
                    set("importance", u.importance, &loader::read_real),
                };
            }),
        });
    }

    std::string _file;
    gateway_cfg _cfg;
    std::vector<std::pair<int, config_error>> _errors;
    std::map<std::string, int> _lines;  ///< key path -> 1-based line; a repeated key keeps its last line
    std::set<std::string> _spoiled;
    std::map<std::string, inheritance> _inherited;
};

/// Finds where a second YAML document starts, if there is one. Parses at
/// most two documents: yaml-cpp 0.7's LoadAll never returns on some
/// malformed input (a lone ","), because its parser reports document after
/// document without consuming anything (jbeder/yaml-cpp#1040); found by
/// test/fuzz/fuzz_config.
class second_document final : public YAML::EventHandler {
public:
    static std::optional<int> line(const std::string& text) {
        std::istringstream in(text);
        YAML::Parser parser(in);
        second_document h;
        for (int docs = 0; docs < 2 && parser.HandleNextDocument(h); ++docs) {}
        return h._starts > 1 ? std::optional<int>(h._second_line) : std::nullopt;
    }

private:
    void OnDocumentStart(const YAML::Mark& m) override {
        if (++_starts == 2) _second_line = m.line + 1;
    }
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t, const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}

    int _starts = 0;
    int _second_line = 0;
};

}  // namespace

load_result parse_config(std::string_view yaml_text, std::string_view file_name) {
    loader l(file_name);
    try {
        const std::string text(yaml_text);
        if (const auto second = second_document::line(text))
            l.fail(*second, "", "expected one YAML document, found more than one");
        else
            l.read(YAML::Load(text));
    } catch (const YAML::Exception& e) {
        l.fail(e.mark.is_null() ? 0 : e.mark.line + 1, "", fmt::format("YAML syntax error: {}", e.msg));
    } catch (const std::exception& e) {
        l.fail(0, "", fmt::format("cannot read the configuration: {}", e.what()));
    }
    return l.finish();
}

load_result load_config_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    const int open_errno = errno;
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec)) {
        load_result result;
        const std::string reason = in ? "it is a directory, not a file"
                                      : std::generic_category().message(open_errno);
        result.errors.push_back({path, "", fmt::format("cannot read the configuration: {}", reason)});
        return result;
    }
    std::ostringstream text;
    text << in.rdbuf();
    return parse_config(text.str(), path);
}

}  // namespace cg::common
