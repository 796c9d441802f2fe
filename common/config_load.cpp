#include "config_load.hpp"

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <system_error>
#include <utility>

#include "config_check.hpp"
#include "config_reader.hpp"

namespace cg::common {

namespace config_yaml {
namespace {

class loader : public config_reader {
public:
    explicit loader(std::string_view file) : config_reader(file) {}

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
    field section(std::string_view name, void (loader::*read)(const YAML::Node&, const std::string&)) {
        return {name, [this, read](const YAML::Node& v, const std::string& key) { (this->*read)(v, key); }};
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

    gateway_cfg _cfg;
};

}  // namespace
}  // namespace config_yaml

namespace {

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
    config_yaml::loader l(file_name);
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
