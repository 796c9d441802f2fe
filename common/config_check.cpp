#include "config_check.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <map>
#include <set>
#include <string_view>
#include <utility>

#include "duration.hpp"

namespace cg::common {

namespace {

// DPDK's RTE_MAX_LCORE on the distribution's build.
constexpr unsigned lcore_limit = 128;
constexpr millis max_idle_sleep{10};
// sizeof(sockaddr_un::sun_path), the terminating NUL included.
constexpr std::size_t socket_path_limit = 108;
// PATH_MAX less room for the store's ".prev" and ".tmp" beside it.
constexpr std::size_t max_store_path = 4000;
constexpr std::uint32_t max_history = 1000;
constexpr std::uint32_t max_backups_kept = 1000;
constexpr std::uint32_t max_rung_failures = 1000;
// About 116 KiB each (dataplane/mirror/README.md): 256Ki of them is 30 GB.
constexpr std::uint32_t max_parser_connections = 262'144;
constexpr std::size_t max_span_protocols = 13;

bool is_unicast(ipv4_addr a) { return a != 0 && a != 0xffffffffU && (a >> 28) != 0xe; }

/// Names end up in file prefixes, key paths and console commands: keep them plain.
bool is_plain_name(std::string_view s, std::size_t max_len, std::string_view extra) {
    const auto ok = [extra](char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               extra.find(ch) != std::string_view::npos;
    };
    return !s.empty() && s.size() <= max_len && std::all_of(s.begin(), s.end(), ok);
}

class collector {
public:
    explicit collector(const std::string& where) : _where(where) {}

    void add(std::string key, std::string reason) {
        _errors.push_back({_where, std::move(key), std::move(reason)});
    }

    void range(const std::string& key, std::uint64_t v, std::uint64_t lo, std::uint64_t hi) {
        if (v < lo || v > hi) add(key, fmt::format("must be between {} and {}, got {}", lo, hi, v));
    }

    void timeout(const std::string& key, millis v, millis lo = millis{1}, millis hi = max_timeout) {
        if (v < lo || v > hi) {
            add(key, fmt::format("must be between {} and {}, got {}", format_duration(lo), format_duration(hi),
                                 format_duration(v)));
        }
    }

    void unicast(const std::string& key, ipv4_addr a, std::string_view what) {
        if (!is_unicast(a)) {
            add(key, fmt::format("{} cannot be {}: it must be a unicast address (not 0.0.0.0, 255.255.255.255 or "
                                 "multicast 224.0.0.0/4)",
                                 format_ipv4(a), what));
        }
    }

    std::vector<config_error> take() { return std::move(_errors); }

private:
    const std::string& _where;
    std::vector<config_error> _errors;
};

void check_gateway(const gateway_cfg& cfg, collector& out) {
    if (!is_plain_name(cfg.name, 32, "_-")) {
        out.add("gateway.name", fmt::format("'{}' cannot name a gateway: use 1 to 32 letters, digits, '_' or '-' "
                                            "(it becomes the DPDK file prefix)",
                                            cfg.name));
    }
    if (!cfg.control_socket.starts_with('/') || cfg.control_socket.size() >= socket_path_limit) {
        out.add("gateway.control_socket",
                fmt::format("must be an absolute path shorter than {} bytes (a Unix socket address), got '{}'",
                            socket_path_limit, cfg.control_socket));
    }
    if (cfg.idle_sleep < micros{0} || cfg.idle_sleep > max_idle_sleep) {
        out.add("gateway.idle_sleep", fmt::format("must be between 0s and {} (a longer sleep delays packets), got {}",
                                                  format_duration(max_idle_sleep), format_duration(cfg.idle_sleep)));
    }
}

void check_lcores(const lcore_cfg& l, collector& out) {
    const auto check_id = [&out](const std::string& key, unsigned id) {
        if (id >= lcore_limit) out.add(key, fmt::format("lcore {} is out of range 0..{}", id, lcore_limit - 1));
    };
    check_id("lcores.main", l.main);
    if (l.workers.empty()) out.add("lcores.workers", "at least one worker lcore is needed");
    std::set<unsigned> workers;
    for (const unsigned w : l.workers) {
        check_id("lcores.workers", w);
        if (!workers.insert(w).second) out.add("lcores.workers", fmt::format("lcore {} is listed twice", w));
        if (w == l.main) {
            out.add("lcores.workers", fmt::format("lcore {} is the main lcore; a worker needs an lcore of its own", w));
        }
    }
    if (!l.dispatch) return;
    check_id("lcores.dispatch", *l.dispatch);
    if (*l.dispatch == l.main || workers.contains(*l.dispatch)) {
        out.add("lcores.dispatch",
                fmt::format("lcore {} is already the main lcore or a worker; dispatch needs an lcore of its own",
                            *l.dispatch));
    }
}

void check_descriptors(const std::string& key, std::uint32_t n, collector& out) {
    if (n < 64 || n > 16384 || !std::has_single_bit(n)) {
        out.add(key, fmt::format("must be a power of two between 64 and 16384, got {}", n));
    }
}

void check_ports(const std::vector<port_cfg>& ports, collector& out) {
    if (ports.empty()) out.add("ports", "at least one port is needed");
    std::set<std::string> names;
    for (std::size_t i = 0; i < ports.size(); ++i) {
        const port_cfg& p = ports[i];
        const std::string key = port_key(p, i);
        if (p.name.empty()) {
            out.add(key + ".name", "a port needs a name");
        } else if (!is_plain_name(p.name, 16, "_-")) {
            out.add(key + ".name",
                    fmt::format("'{}' cannot name a port: use 1 to 16 letters, digits, '_' or '-'", p.name));
        } else if (!names.insert(p.name).second) {
            out.add(key + ".name", fmt::format("port name '{}' is used twice", p.name));
        }
        if (p.device.empty()) out.add(key + ".device", "a port needs a device (PCI address or vdev string)");
        if (p.address) out.unicast(key + ".address", *p.address, "the address of a port");
        if (p.mac && (p.mac->is_zero() || (p.mac->b[0] & 1) != 0))
            out.add(key + ".mac",
                    fmt::format("{} cannot be a port's MAC: it must be a non-zero unicast MAC", format_mac(*p.mac)));
        check_descriptors(key + ".rx_descriptors", p.rx_descriptors, out);
        check_descriptors(key + ".tx_descriptors", p.tx_descriptors, out);
    }
}

void check_tables(const table_cfg& t, collector& out) {
    out.range("tables.connections", t.connections, 1, 1'000'000'000);
    out.range("tables.services", t.services, 1, max_service_slots);
    out.range("tables.nodes", t.nodes, 1, max_node_slots);
    out.range("tables.mbufs", t.mbufs, 1023, 16'777'215);
    out.range("tables.burst", t.burst, 1, 512);
}

void check_timers(const timer_cfg& t, collector& out) {
    out.timeout("timers.msl", t.msl);
    if (t.fin_timeout) out.timeout("timers.fin_timeout", *t.fin_timeout);
    out.timeout("timers.stale_timeout", t.stale_timeout);
    // Asking more often than once a second only floods the nodes with ARP.
    out.timeout("timers.arp_refresh", t.arp_refresh, millis{1000});
}

const port_cfg* find_port(const gateway_cfg& cfg, const std::string& name) {
    const auto it = std::find_if(cfg.ports.begin(), cfg.ports.end(), [&](const port_cfg& p) { return p.name == name; });
    return it == cfg.ports.end() ? nullptr : &*it;
}

/// The gateway port that reaches a node, and whether ARP can work on it.
void check_node_port(const gateway_cfg& cfg, const node_cfg& n, const std::string& key, collector& out) {
    if (n.port.empty()) {
        out.add(key + ".port", fmt::format("the gateway has {} port{}: say which one reaches this node",
                                           cfg.ports.size(), cfg.ports.size() == 1 ? "" : "s"));
        return;
    }
    const port_cfg* p = find_port(cfg, n.port);
    if (p && cfg.mirror && cfg.mirror->port == p->name) {
        out.add(key + ".port", fmt::format("port '{}' is the mirror port (mirror.port): no node can be behind it",
                                           p->name));
    } else if (p && is_span_port(cfg, p->name)) {
        out.add(key + ".port", fmt::format("port '{}' is a SPAN port (mirror_parser.ports): no node can be behind it",
                                           p->name));
    } else if (!p) {
        std::string names;
        for (const port_cfg& q : cfg.ports) names += (names.empty() ? "" : ", ") + q.name;
        out.add(key + ".port", fmt::format("the gateway has no port named '{}' (its ports: {})", n.port, names));
    } else if (!n.mac && !p->address) {
        out.add(key + ".mac", fmt::format("no MAC is given, so it is resolved by ARP on port '{}', which needs an "
                                          "address of its own: set ports[{}].address or give the node's mac",
                                          p->name, p->name));
    }
}

void check_node(const gateway_cfg& cfg, const service_cfg& s, const node_cfg& n, const std::string& key,
                collector& out) {
    out.unicast(key + ".address", n.address, "the address of a node");
    if (n.mac && (n.mac->is_zero() || (n.mac->b[0] & 1) != 0)) {
        out.add(key + ".mac", fmt::format("{} cannot be a node's MAC: it must be a non-zero unicast MAC",
                                          format_mac(*n.mac)));
    }
    check_node_port(cfg, n, key, out);
    // Weights are only compared with a bound that is itself valid; the bound's own error says the rest.
    if (s.weight_bound < 1 || s.weight_bound > max_weight_bound) return;
    std::uint32_t bound = s.weight_bound;
    std::string_view whose = "the port's weight_bound";
    if (n.weight_bound) {
        if (*n.weight_bound < 1 || *n.weight_bound > s.weight_bound) {
            out.add(key + ".weight_bound", fmt::format("must be between 1 and the port's weight_bound {}, got {}",
                                                       s.weight_bound, *n.weight_bound));
        } else {
            bound = *n.weight_bound;
            whose = "the node's weight_bound";
        }
    }
    if (n.weight > bound) {
        out.add(key + ".weight", fmt::format("weight {} is above {} {}", n.weight, whose, bound));
    }
}

void check_service(const gateway_cfg& cfg, const cluster_cfg& c, const service_cfg& s, collector& out) {
    const std::string key = service_key(c, s);
    if (s.port == 0) out.add(key + ".port", "port must be between 1 and 65535, got 0");
    out.timeout(key + ".msl", s.msl);
    out.timeout(key + ".fin_timeout", s.fin_timeout);
    out.timeout(key + ".stale_timeout", s.stale_timeout);
    out.range(key + ".weight_bound", s.weight_bound, 1, max_weight_bound);
    std::set<ipv4_addr> addresses;
    for (const node_cfg& n : s.nodes) {
        const std::string nkey = node_key(c, s, n);
        if (!addresses.insert(n.address).second) {
            out.add(nkey + ".address", fmt::format("node {} is listed twice in this port", format_ipv4(n.address)));
        }
        check_node(cfg, s, n, nkey, out);
    }
}

void check_cluster(const gateway_cfg& cfg, const cluster_cfg& c, collector& out) {
    const std::string key = cluster_key(c);
    if (!c.name.empty() && !is_plain_name(c.name, 64, "_-.")) {
        out.add(key + ".name",
                fmt::format("'{}' cannot name a cluster: use 1 to 64 letters, digits, '_', '-' or '.'", c.name));
    }
    out.unicast(key + ".address", c.address, "a cluster address");
    for (std::size_t i = 0; i < cfg.ports.size(); ++i) {
        if (cfg.ports[i].address == c.address) {
            out.add(key + ".address", fmt::format("{} is the gateway's own address on {}", format_ipv4(c.address),
                                                  port_key(cfg.ports[i], i)));
        }
    }
    std::set<std::pair<l4_proto, std::uint16_t>> services;
    for (const service_cfg& s : c.ports) {
        if (!services.emplace(s.protocol, s.port).second) {
            out.add(service_key(c, s) + ".port",
                    fmt::format("{}/{} is listed twice in this cluster", proto_name(s.protocol), s.port));
        }
        check_service(cfg, c, s, out);
    }
}

}  // namespace

std::string cluster_key(const cluster_cfg& c) {
    return fmt::format("clusters[{}]", c.name.empty() ? format_ipv4(c.address) : c.name);
}

std::string service_key(const cluster_cfg& c, const service_cfg& s) {
    return fmt::format("{}.ports[{}/{}]", cluster_key(c), proto_name(s.protocol), s.port);
}

std::string node_key(const cluster_cfg& c, const service_cfg& s, const node_cfg& n) {
    return fmt::format("{}.nodes[{}]", service_key(c, s), format_ipv4(n.address));
}

std::string port_key(const port_cfg& p, std::size_t index) {
    return fmt::format("ports[{}]", p.name.empty() ? std::to_string(index) : p.name);
}

std::vector<config_error> check_static(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    check_gateway(cfg, out);
    check_lcores(cfg.lcores, out);
    check_ports(cfg.ports, out);
    check_tables(cfg.tables, out);
    check_timers(cfg.timers, out);
    if (cfg.eal.memory_mb != 0 && cfg.eal.memory_mb < 64) {
        out.add("eal.memory", fmt::format("must be 0 (let EAL decide) or at least 64 MB, got {}", cfg.eal.memory_mb));
    }
    return out.take();
}

std::vector<config_error> check_clusters(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    std::set<std::string> names;
    std::map<ipv4_addr, const cluster_cfg*> addresses;
    std::size_t services = 0;
    std::size_t nodes = 0;
    for (const cluster_cfg& c : cfg.clusters) {
        if (!names.insert(cluster_key(c)).second) {
            out.add(cluster_key(c) + ".name", fmt::format("cluster name '{}' is used twice", c.name));
        }
        if (const auto [it, fresh] = addresses.emplace(c.address, &c); !fresh) {
            out.add(cluster_key(c) + ".address", fmt::format("{} is also the address of {}", format_ipv4(c.address),
                                                             cluster_key(*it->second)));
        }
        check_cluster(cfg, c, out);
        services += c.ports.size();
        for (const service_cfg& s : c.ports) nodes += s.nodes.size();
    }
    if (services > cfg.tables.services) {
        out.add("clusters", fmt::format("the clusters have {} ports in all, more than tables.services = {}", services,
                                        cfg.tables.services));
    }
    if (nodes > cfg.tables.nodes) {
        out.add("clusters", fmt::format("the clusters have {} nodes in all, more than tables.nodes = {}", nodes,
                                        cfg.tables.nodes));
    }
    return out.take();
}

std::vector<config_error> check_spares(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    const std::set<ipv4_addr> working = node_addresses(cfg.clusters);
    // The entries themselves; the ones that make no sense are left out of
    // the pieces' checks below (one error each, not a cascade).
    std::vector<spare_cfg> sound;
    for (const spare_cfg& s : cfg.spares) {
        const std::string key = spare_key(s);
        if (s.first > s.last) {
            out.add(key, fmt::format("the range runs backwards: {} is after {}", format_ipv4(s.first), format_ipv4(s.last)));
            continue;
        }
        if (s.offset == 0) {
            out.add(key, "a node cannot be its own spare (offset 0)");
            continue;
        }
        bool ok = true;
        for (std::size_t t = 0; t < s.terminators.size(); ++t) {
            const std::string tk = fmt::format("{}.terminators[{}]", key, t);
            if (s.terminators[t] == 0) {
                out.add(tk, "a terminator at offset 0 is the node itself");
                ok = false;
            } else if (std::find(s.terminators.begin(), s.terminators.begin() + static_cast<std::ptrdiff_t>(t),
                                 s.terminators[t]) != s.terminators.begin() + static_cast<std::ptrdiff_t>(t)) {
                out.add(tk, fmt::format("offset {} given twice", s.terminators[t]));
                ok = false;
            }
        }
        if (ok) sound.push_back(s);
    }
    // Each piece (an entry's nodes, or its nodes' terminators at one offset)
    // with its spares: in the address space, unicast, one spare per address
    // and one address per spare, spares standing by.
    const std::vector<spare_piece> pieces = spare_pieces(sound);
    std::vector<bool> fine(pieces.size(), false);
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        const spare_piece& s = pieces[i];
        const std::string& k = s.key;
        if (s.first < 0 || s.last > 0xffffffffll) {
            out.add(k, "the terminators are out of the IPv4 address space");
            continue;
        }
        const std::int64_t lo = s.first + s.offset, hi = s.last + s.offset;
        if (lo < 0 || hi > 0xffffffffll) {
            out.add(k, fmt::format("offset {} takes the spares out of the IPv4 address space", s.offset));
            continue;
        }
        if (!is_unicast(static_cast<ipv4_addr>(lo)) || !is_unicast(static_cast<ipv4_addr>(hi))) {
            out.add(k, fmt::format("the spares {}-{} are not unicast addresses", format_ipv4(static_cast<ipv4_addr>(lo)),
                                   format_ipv4(static_cast<ipv4_addr>(hi))));
            continue;
        }
        if (!is_unicast(static_cast<ipv4_addr>(s.first)) || !is_unicast(static_cast<ipv4_addr>(s.last))) {
            out.add(k, fmt::format("the terminators {}-{} are not unicast addresses",
                                   format_ipv4(static_cast<ipv4_addr>(s.first)), format_ipv4(static_cast<ipv4_addr>(s.last))));
            continue;
        }
        fine[i] = true;
    }
    for (std::size_t i = 0; i < pieces.size(); ++i) {
        if (!fine[i]) continue;
        const spare_piece& s = pieces[i];
        const std::string& k = s.key;
        const std::int64_t lo = s.first + s.offset, hi = s.last + s.offset;
        for (std::size_t j = 0; j < i; ++j) {
            if (!fine[j]) continue;
            const spare_piece& o = pieces[j];
            if (o.first <= s.last && s.first <= o.last)
                out.add(k, fmt::format("{} also has a spare by {}: a node has one spare",
                                       format_ipv4(static_cast<ipv4_addr>(std::max(s.first, o.first))), o.key));
            // One spare serves one node: two failed nodes would pile on it.
            const std::int64_t olo = o.first + o.offset, ohi = o.last + o.offset;
            if (olo <= hi && lo <= ohi)
                out.add(k, fmt::format("spare {} is also the spare of a node of {}: a spare stands by for one node",
                                       format_ipv4(static_cast<ipv4_addr>(std::max(lo, olo))), o.key));
        }
        // A spare must stand by: neither a node of a cluster port nor a working address of an entry.
        if (const auto w = working.lower_bound(static_cast<ipv4_addr>(lo));
            w != working.end() && std::int64_t{*w} <= hi) {
            out.add(k, fmt::format("spare {} is itself a working node (a node of a cluster port)", format_ipv4(*w)));
        }
        for (std::size_t j = 0; j < pieces.size(); ++j) {
            if (!fine[j]) continue;
            const spare_piece& o = pieces[j];
            if (o.first <= hi && lo <= o.last)
                out.add(k, fmt::format("spare {} is a working node of {}",
                                       format_ipv4(static_cast<ipv4_addr>(std::max(lo, o.first))), o.key));
        }
    }
    // Each spare stands by on every port of its node, in a node slot of its own.
    std::size_t nodes = 0, spares = 0;
    for (const cluster_cfg& c : cfg.clusters)
        for (const service_cfg& s : c.ports) {
            nodes += s.nodes.size();
            for (const node_cfg& n : s.nodes) spares += spare_of(cfg.spares, n.address) ? 1 : 0;
        }
    if (spares > 0 && nodes <= cfg.tables.nodes && nodes + spares > cfg.tables.nodes)
        out.add("spares", fmt::format("the clusters' {} nodes and their {} spares (one per port of each node) need "
                                      "more than tables.nodes = {} node slots", nodes, spares, cfg.tables.nodes));
    return out.take();
}

std::vector<config_error> check_mirror(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    if (!cfg.mirror) return out.take();
    const mirror_cfg& m = *cfg.mirror;
    if (!find_port(cfg, m.port)) {
        std::string names;
        for (const port_cfg& q : cfg.ports) names += (names.empty() ? "" : ", ") + q.name;
        out.add("mirror.port", fmt::format("the gateway has no port named '{}' (its ports: {})", m.port, names));
    }
    // Above the stale timer, the standby would age a quiet connection out between two refreshes.
    const millis most = std::min(max_mirror_refresh, cfg.timers.stale_timeout / 2);
    if (m.refresh < min_mirror_refresh || m.refresh > most) {
        out.add("mirror.refresh", fmt::format("must be between {} and {} (at most half of timers.stale_timeout), got {}",
                                              format_duration(min_mirror_refresh), format_duration(most),
                                              format_duration(m.refresh)));
    }
    for (std::size_t i = 0; i < m.services.size(); ++i) {
        const mirror_service_cfg& s = m.services[i];
        const std::string key = fmt::format("mirror.services[{}]", i);
        const auto c = std::find_if(cfg.clusters.begin(), cfg.clusters.end(),
                                    [&](const cluster_cfg& x) { return x.name == s.cluster; });
        if (c == cfg.clusters.end()) {
            out.add(key + ".cluster", fmt::format("there is no cluster named '{}'", s.cluster));
            continue;
        }
        if (s.protocol && !s.port) {
            out.add(key + ".protocol", "a protocol without a port: give the port too, or neither (every port)");
            continue;
        }
        if (!s.port) continue;
        const l4_proto proto = s.protocol.value_or(l4_proto::tcp);
        const bool found = std::any_of(c->ports.begin(), c->ports.end(), [&](const service_cfg& x) {
            return x.port == *s.port && x.protocol == proto;
        });
        if (!found) {
            out.add(key + ".port",
                    fmt::format("cluster '{}' has no port {}/{}", s.cluster, proto_name(proto), *s.port));
        }
    }
    return out.take();
}

std::vector<config_error> check_mirror_parser(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    if (!cfg.mirror_parser) return out.take();
    const mirror_parser_cfg& m = *cfg.mirror_parser;
    if (m.ports.empty()) out.add("mirror_parser.ports", "at least one SPAN port is needed");
    std::set<std::string> ports;
    for (const std::string& name : m.ports) {
        if (!find_port(cfg, name)) {
            std::string names;
            for (const port_cfg& q : cfg.ports) names += (names.empty() ? "" : ", ") + q.name;
            out.add("mirror_parser.ports", fmt::format("the gateway has no port named '{}' (its ports: {})", name, names));
        } else if (cfg.mirror && cfg.mirror->port == name) {
            out.add("mirror_parser.ports", fmt::format("port '{}' is the pair's mirror port (mirror.port): a SPAN port "
                                                       "needs a port of its own",
                                                       name));
        }
        if (const port_cfg* p = find_port(cfg, name); p && p->address)
            // The gateway announces its addresses by gratuitous ARP: it would send on the SPAN port.
            out.add("mirror_parser.ports", fmt::format("port '{}' has an address (ports[{}].address): a SPAN port has "
                                                       "none, nothing is sent there",
                                                       name, name));
        if (!ports.insert(name).second)
            out.add("mirror_parser.ports", fmt::format("port '{}' is listed twice", name));
    }
    if (m.lcores.empty()) out.add("mirror_parser.lcores", "at least one parser lcore is needed");
    std::set<unsigned> lcores;
    for (const unsigned l : m.lcores) {
        if (l >= lcore_limit) out.add("mirror_parser.lcores", fmt::format("lcore {} is out of range 0..{}", l, lcore_limit - 1));
        if (!lcores.insert(l).second) out.add("mirror_parser.lcores", fmt::format("lcore {} is listed twice", l));
        if (l == cfg.lcores.main || (cfg.lcores.dispatch && l == *cfg.lcores.dispatch))
            out.add("mirror_parser.lcores",
                    fmt::format("lcore {} is the main or the dispatch lcore; a parser runs on a worker's lcore or one "
                                "of its own",
                                l));
    }
    out.range("mirror_parser.connections", m.connections, 1, max_parser_connections);
    out.range("mirror_parser.request_chunks", m.request_chunks, 1, 16'777'216);
    if (m.ring_size < 64 || m.ring_size > 65536 || !std::has_single_bit(m.ring_size))
        out.add("mirror_parser.ring_size", fmt::format("must be a power of two between 64 and 65536, got {}", m.ring_size));
    // The parser's port map holds 16 ports, the 3 defaults among them.
    if (m.protocols.size() > max_span_protocols)
        out.add("mirror_parser.protocols",
                fmt::format("at most {} ports (with 2049, 111 and 445 the parser knows 16), got {}",
                            max_span_protocols, m.protocols.size()));
    std::set<std::uint16_t> seen;
    for (std::size_t i = 0; i < m.protocols.size(); ++i) {
        const span_protocol_cfg& p = m.protocols[i];
        const std::string key = fmt::format("mirror_parser.protocols[{}]", i);
        if (p.port == 0) out.add(key + ".port", "must be a TCP port, 1-65535, got 0");
        else if (!seen.insert(p.port).second) out.add(key + ".port", fmt::format("port {} is listed twice", p.port));
        if (std::find(span_protocols.begin(), span_protocols.end(), p.protocol) == span_protocols.end()) {
            std::string names;
            for (std::string_view n : span_protocols) names += fmt::format("{}{}", names.empty() ? "" : ", ", n);
            out.add(key + ".protocol", fmt::format("expected one of {}, got '{}'", names, p.protocol));
        }
    }
    return out.take();
}

std::vector<config_error> check_manager(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    const manager_cfg& m = cfg.manager;
    out.timeout("manager.period", m.period, millis{10});
    if (m.smoothing < 1) out.add("manager.smoothing", fmt::format("must be 1 or more (1: no smoothing), got {}", m.smoothing));
    if (m.threshold > 1) out.add("manager.threshold", fmt::format("is a share of the total weight, 0..1, got {}", m.threshold));
    if (m.min_weight > max_weight_bound)
        out.add("manager.min_weight", fmt::format("must be at most {}, got {}", max_weight_bound, m.min_weight));
    if (!m.prometheus.empty() && !parse_endpoint(m.prometheus))
        out.add("manager.prometheus", fmt::format("expected address:port such as 127.0.0.1:9650, or empty, got '{}'",
                                                  m.prometheus));
    if (m.agents) {
        if (!parse_endpoint(m.agents->listen))
            out.add("manager.agents.listen",
                    fmt::format("expected address:port such as 198.18.0.2:9651, got '{}'", m.agents->listen));
        out.timeout("manager.agents.stale", m.agents->stale, millis{10});
        out.timeout("manager.agents.max_skew", m.agents->max_skew);
        if (m.agents->shadow_port == 0) out.add("manager.agents.shadow_port", "must be a TCP port, 1-65535, got 0");
        out.timeout("manager.agents.shadow_deadline", m.agents->shadow_deadline, millis{10});
        if (m.agents->alive_timeout.count() != 0)
            out.timeout("manager.agents.alive_timeout", m.agents->alive_timeout, millis{30});
        if (m.agents->mirror_silence.count() != 0) {
            out.timeout("manager.agents.mirror_silence", m.agents->mirror_silence, millis{20});
            if (m.agents->alive_timeout.count() == 0)
                out.add("manager.agents.mirror_silence", "needs alive monitoring (manager.agents.alive_timeout)");
            else if (!cfg.mirror_parser)
                out.add("manager.agents.mirror_silence", "needs gatewayd's mirror parser (a mirror_parser section)");
        }
        if (m.agents->reset_window > millis{max_reset_window_ms})
            out.add("manager.agents.reset_window",
                    fmt::format("at most 1h (a reset after the stale timer could hit a live connection), got {} ms",
                                m.agents->reset_window.count()));
    }
    if (const auto& b = m.state_backups) {
        out.timeout("manager.state_backups.every", b->every, millis{100});
        out.timeout("manager.state_backups.timeout", b->timeout, millis{100});
        if (b->keep < 1 || b->keep > 1000)
            out.add("manager.state_backups.keep", fmt::format("must be 1 to 1000 backups per node, got {}", b->keep));
        if (!m.agents || !m.agents->shadow_port)
            out.add("manager.state_backups", "needs manager.agents.shadow_port: the agents send and take the state there");
    }
    if (const auto& p = m.pair) {
        const auto listen = parse_endpoint(p->listen), peer = parse_endpoint(p->peer);
        if (!listen)
            out.add("manager.pair.listen", fmt::format("expected address:port such as 198.18.0.3:9653, got '{}'", p->listen));
        if (!peer) out.add("manager.pair.peer", fmt::format("expected address:port such as 198.18.0.4:9653, got '{}'", p->peer));
        if (listen && peer && listen->address == peer->address)
            out.add("manager.pair.peer", "is this controld's own address: the peer runs on the other gateway");
        out.timeout("manager.pair.interval", p->interval);
        out.timeout("manager.pair.max_skew", p->max_skew);
        if (p->dead_time < 2 * p->interval)
            out.add("manager.pair.dead_time",
                    fmt::format("must be at least two intervals ({} ms), or one lost heartbeat is a takeover; got {} ms",
                                2 * p->interval.count(), p->dead_time.count()));
        // A peer must stay healthy for many dead times (each of them enough
        // to see it hang or fall silent) before it gets the active role:
        // a gateway that keeps failing soon after it is up never does.
        if (p->preempt_delay != millis{0} && (p->preempt_delay < 10 * p->dead_time || p->preempt_delay > max_timeout))
            out.add("manager.pair.preempt_delay",
                    fmt::format("must be 0 (no pre-emption) or between ten dead times ({}) and {}, got {}",
                                format_duration(10 * p->dead_time), format_duration(max_timeout),
                                format_duration(p->preempt_delay)));
        std::set<ipv4_addr> members;
        if (listen) members.insert(listen->address);
        if (peer) members.insert(peer->address);
        for (std::size_t i = 0; i < p->pool.size(); ++i) {
            const auto& h = p->pool[i];
            const std::string key = fmt::format("manager.pair.pool[{}]", i);
            const auto at = parse_endpoint(h.address);
            if (!at)
                out.add(key + ".address", fmt::format("expected address:port such as 198.18.0.6:9653, got '{}'", h.address));
            else if (!members.insert(at->address).second)
                out.add(key + ".address", fmt::format("{} is already this controld, its peer or another pool host",
                                                      format_ipv4(at->address)));
            if (h.start.find_first_not_of(" \t") == std::string::npos) out.add(key + ".start", "is empty");
        }
        if (p->heal_after < p->dead_time || p->heal_after > max_timeout)
            out.add("manager.pair.heal_after", fmt::format("must be between the dead time ({}) and {}, got {}",
                                                           format_duration(p->dead_time), format_duration(max_timeout),
                                                           format_duration(p->heal_after)));
        out.timeout("manager.pair.heal_timeout", p->heal_timeout);
        if (p->rt_priority > 99)
            out.add("manager.pair.rt_priority", fmt::format("must be 0 (none) to 99, got {}", p->rt_priority));
        if (!m.agents || !m.agents->shadow_port)
            out.add("manager.pair", "needs manager.agents.shadow_port: a takeover asks the nodes for their connections");
    }
    const std::set<ipv4_addr> nodes = node_addresses(cfg.clusters);
    for (std::size_t i = 0; i < m.probes.size(); ++i) {
        const probe_cfg& p = m.probes[i];
        const std::string key = fmt::format("manager.probes[{}]", i);
        const bool exists = std::any_of(cfg.clusters.begin(), cfg.clusters.end(), [&](const cluster_cfg& c) {
            return c.address == p.cluster && std::any_of(c.ports.begin(), c.ports.end(), [&](const service_cfg& s) {
                       return s.port == p.port && s.protocol == p.protocol;
                   });
        });
        if (!exists)
            out.add(key + ".port", fmt::format("{} {}/{} is not a cluster port of this gateway", format_ipv4(p.cluster),
                                               proto_name(p.protocol), p.port));
        if (p.protocol != l4_proto::tcp)
            out.add(key + ".protocol", "probes connect with TCP: the cluster port must be tcp");
        out.timeout(key + ".interval", p.interval, millis{10});
        out.timeout(key + ".timeout", p.timeout);
        if (p.timeout > p.interval)
            out.add(key + ".timeout", fmt::format("{} is longer than the interval {}", format_duration(p.timeout),
                                                  format_duration(p.interval)));
        if (p.type == probe_kind::http && (p.path.empty() || p.path.front() != '/'))
            out.add(key + ".path", fmt::format("must start with /, got '{}'", p.path));
    }
    std::set<std::string> names;
    for (const rule_cfg& r : m.rules) {
        const std::string key = fmt::format("manager.rules[{}]", r.name);
        if (!names.insert(r.name).second) out.add(key + ".name", fmt::format("rule name '{}' is used twice", r.name));
        if (r.from == r.to) out.add(key + ".to", "the window is empty: from and to are the same time");
        for (ipv4_addr a : r.nodes)
            if (!nodes.contains(a)) out.add(key + ".nodes", fmt::format("{} is not a node of any cluster", format_ipv4(a)));
    }
    names.clear();
    for (const user_metric_cfg& u : m.metrics) {
        const std::string key = fmt::format("manager.metrics[{}]", u.name);
        if (!names.insert(u.name).second) out.add(key + ".name", fmt::format("metric name '{}' is used twice", u.name));
        if (u.command.empty()) out.add(key + ".command", "must not be empty");
        out.timeout(key + ".interval", u.interval, millis{10});
        out.timeout(key + ".timeout", u.timeout);
        if (u.timeout > u.interval)
            out.add(key + ".timeout", fmt::format("{} is longer than the interval {}", format_duration(u.timeout),
                                                  format_duration(u.interval)));
    }
    return out.take();
}

std::vector<config_error> check_supervision(const gateway_cfg& cfg, const std::string& where) {
    collector out(where);
    const supervision_cfg& s = cfg.supervision;
    // A file, since <store>.tmp and <store>.prev go beside it.
    if (!s.store.starts_with('/') || s.store.ends_with('/') || s.store.size() > max_store_path)
        out.add("supervision.store",
                fmt::format("must be the absolute path of a file, at most {} bytes, got '{}'", max_store_path, s.store));
    // Much shorter, and a gatewayd that dies soon after each start would
    // find the counts cleared every time: the ladder would never climb.
    out.timeout("supervision.healthy_after", s.healthy_after, millis{1000});
    // Shorter than a few health questions (a quarter of it apart) and a
    // loaded machine would kill a gatewayd that is only slow; longer than a
    // minute and the connections it holds would time out anyway.
    out.timeout("supervision.hung_after", s.hung_after, millis{100}, millis{60'000});
    out.range("supervision.history", s.history, 1, max_history);
    if (s.backup_every.count() != 0) out.timeout("supervision.backup_every", s.backup_every, millis{100});
    out.range("supervision.backups_kept", s.backups_kept, 1, max_backups_kept);
    for (std::size_t i = 0; i < limited_rungs; ++i) {
        const std::string key = fmt::format("supervision.ladder.{}", rung_keys[i]);
        out.range(key + ".failures", s.ladder[i].failures, 0, max_rung_failures);
        out.timeout(key + ".window", s.ladder[i].window, millis{1000});
    }
    return out.take();
}

}  // namespace cg::common
