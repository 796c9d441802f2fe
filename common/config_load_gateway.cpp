// The gateway's own sections (gateway, eal, lcores, ports, tables, timers,
// mirror, mirror_parser)
// and the cluster tables (clusters -> ports -> nodes).
#include <fmt/format.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config_check.hpp"
#include "config_loader.hpp"

namespace cg::common::config_yaml {

void loader::read_gateway(const YAML::Node& v, const std::string& key) {
    read_map(v, key, {
                         set("name", _cfg.name, &loader::read_string),
                         set("control_socket", _cfg.control_socket, &loader::read_string),
                         set("idle_sleep", _cfg.idle_sleep, &loader::read_micros),
                     });
}

void loader::read_eal(const YAML::Node& v, const std::string& key) {
    read_map(v, key, {
                         set("huge", _cfg.eal.huge, &loader::read_bool),
                         set("memory", _cfg.eal.memory_mb, &loader::read_uint<std::uint32_t>),
                         set("args", _cfg.eal.args, &loader::read_strings),
                     });
}

void loader::read_lcores(const YAML::Node& v, const std::string& key) {
    read_map(v, key, {
                         set("main", _cfg.lcores.main, &loader::read_uint<unsigned>),
                         set("workers", _cfg.lcores.workers, &loader::read_lcore_ids),
                         set("dispatch", _cfg.lcores.dispatch, &loader::read_uint<unsigned>),
                     });
}

void loader::read_ports(const YAML::Node& list, const std::string& key) {
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

void loader::read_tables(const YAML::Node& v, const std::string& key) {
    table_cfg& t = _cfg.tables;
    read_map(v, key, {
                         set("connections", t.connections, &loader::read_uint<std::uint32_t>),
                         set("services", t.services, &loader::read_uint<std::uint32_t>),
                         set("nodes", t.nodes, &loader::read_uint<std::uint32_t>),
                         set("mbufs", t.mbufs, &loader::read_uint<std::uint32_t>),
                         set("burst", t.burst, &loader::read_uint<std::uint16_t>),
                     });
}

void loader::read_timers(const YAML::Node& v, const std::string& key) {
    timer_cfg& t = _cfg.timers;
    read_map(v, key, {
                         set("msl", t.msl, &loader::read_millis),
                         set("fin_timeout", t.fin_timeout, &loader::read_millis),
                         set("stale_timeout", t.stale_timeout, &loader::read_millis),
                         set("arp_refresh", t.arp_refresh, &loader::read_millis),
                     });
}

void loader::read_mirror(const YAML::Node& v, const std::string& key) {
    mirror_cfg m;
    read_map(v, key, {
                         must(set("port", m.port, &loader::read_string)),
                         set("mode", m.mode, &loader::read_mirror_mode),
                         set("refresh", m.refresh, &loader::read_millis),
                         list_of<mirror_service_cfg>("services", m.services, false, [&](mirror_service_cfg& s) {
                             return std::vector<field>{
                                 must(set("cluster", s.cluster, &loader::read_string)),
                                 set("protocol", s.protocol, &loader::read_proto),
                                 set("port", s.port, &loader::read_uint<std::uint16_t>),
                             };
                         }),
                     });
    _cfg.mirror = std::move(m);
}

void loader::read_mirror_parser(const YAML::Node& v, const std::string& key) {
    mirror_parser_cfg m;
    read_map(v, key, {
                         must(set("ports", m.ports, &loader::read_strings)),
                         must(set("lcores", m.lcores, &loader::read_lcore_ids)),
                         set("connections", m.connections, &loader::read_uint<std::uint32_t>),
                         set("request_chunks", m.request_chunks, &loader::read_uint<std::uint32_t>),
                         set("ring_size", m.ring_size, &loader::read_uint<std::uint32_t>),
                         list_of<span_protocol_cfg>("protocols", m.protocols, false, [&](span_protocol_cfg& p) {
                             return std::vector<field>{
                                 must(set("port", p.port, &loader::read_uint<std::uint16_t>)),
                                 must(set("protocol", p.protocol, &loader::read_string)),
                             };
                         }),
                     });
    _cfg.mirror_parser = std::move(m);
}

// Clusters, their ports and nodes are named by what identifies them, as
// config_check.hpp names them. One that cannot be named (its address does
// not parse) is reported by position and left out of the model: what the
// checkers would say of it could not be placed in the file.

void loader::read_clusters(const YAML::Node& list, const std::string& key) {
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

void loader::read_services(const YAML::Node& list, const std::string& key, std::vector<service_cfg>& out) {
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

void loader::read_nodes(const YAML::Node& list, const std::string& key, std::vector<node_cfg>& out) {
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
        if (!given.contains("port")) n.port = default_node_port(_cfg);
        if (label) out.push_back(std::move(n));
    });
}

namespace {

/// "198.18.0.11-198.18.0.19": the first and the last address.
std::optional<std::pair<ipv4_addr, ipv4_addr>> parse_range(std::string_view s) {
    const auto dash = s.find('-');
    if (dash == std::string_view::npos) return std::nullopt;
    const auto a = parse_ipv4(s.substr(0, dash)), b = parse_ipv4(s.substr(dash + 1));
    if (!a || !b) return std::nullopt;
    return std::pair{*a, *b};
}

/// A signed decimal integer, -4294967295..4294967295.
std::optional<std::int64_t> parse_offset(std::string_view s) {
    const bool negative = s.starts_with('-');
    if (negative || s.starts_with('+')) s.remove_prefix(1);
    const auto n = to_uint<std::uint32_t>(s);
    if (!n) return std::nullopt;
    return negative ? -std::int64_t{*n} : std::int64_t{*n};
}

}  // namespace

// The spare correspondence table: each entry names its working nodes, so
// that an error reads spares[198.18.0.11] or spares[198.18.0.12-198.18.0.19].
void loader::read_spares(const YAML::Node& list, const std::string& key) {
    for_each_item(list, key, [&](const YAML::Node& item, std::size_t i) {
        auto label = peek(item, "node", as_text);
        if (!label) label = peek(item, "nodes", as_text);
        const std::string k = element_key(key, item, label, i);
        std::optional<ipv4_addr> node, spare;
        std::optional<std::pair<ipv4_addr, ipv4_addr>> nodes;
        std::optional<std::int64_t> offset;
        std::vector<std::int64_t> terminators;
        const auto given = read_map(
            item, k,
            {
                set("node", node, &loader::read_ipv4),
                set("spare", spare, &loader::read_ipv4),
                {"nodes",
                 [&](const YAML::Node& v, const std::string& vk) {
                     nodes = parsed<std::pair<ipv4_addr, ipv4_addr>>(
                         v, vk, "a range of addresses such as 198.18.0.11-198.18.0.19", parse_range);
                 }},
                {"offset",
                 [&](const YAML::Node& v, const std::string& vk) {
                     offset = parsed<std::int64_t>(v, vk, "an integer such as 10 or -10", parse_offset);
                 }},
                {"terminators",
                 [&](const YAML::Node& v, const std::string& vk) {
                     for_each_item(v, vk, [&](const YAML::Node& t, std::size_t j) {
                         const std::string tk = element_key(vk, t, std::nullopt, j);
                         if (auto k = parsed<std::int64_t>(t, tk, "an offset such as 100 or -100", parse_offset))
                             terminators.push_back(*k);
                     });
                 }},
            });
        const bool one = given.contains("node") || given.contains("spare");
        const bool range = given.contains("nodes") || given.contains("offset");
        if (one == range || (one && !(given.contains("node") && given.contains("spare"))) ||
            (range && !(given.contains("nodes") && given.contains("offset")))) {
            fail(line_for(k), k, "give node and spare, or nodes (a range) and offset");
            return;
        }
        if (one && node && spare)
            _cfg.spares.push_back({*node, *node, std::int64_t{*spare} - std::int64_t{*node}, terminators});
        if (range && nodes && offset) _cfg.spares.push_back({nodes->first, nodes->second, *offset, terminators});
    });
}

}  // namespace cg::common::config_yaml
