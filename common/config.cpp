#include "config.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cg::common {

std::string format_error(const config_error& e) {
    std::string out;
    for (const std::string* part : {&e.where, &e.key, &e.reason}) {
        if (part->empty()) continue;
        if (!out.empty()) out += ": ";
        out += *part;
    }
    return out;
}

std::string eal_file_prefix(const gateway_cfg& cfg) { return "cg-" + cfg.name; }

std::string default_node_port(const gateway_cfg& cfg) {
    std::string found;
    for (const port_cfg& p : cfg.ports) {
        if (cfg.mirror && p.name == cfg.mirror->port) continue;  // no node is behind the mirror port
        if (is_span_port(cfg, p.name)) continue;                  // nor behind a SPAN port
        if (!found.empty()) return {};
        found = p.name;
    }
    return found;
}

bool is_span_port(const gateway_cfg& cfg, const std::string& port) {
    return cfg.mirror_parser && std::find(cfg.mirror_parser->ports.begin(), cfg.mirror_parser->ports.end(), port) !=
                                    cfg.mirror_parser->ports.end();
}

bool mirrors(const mirror_cfg& m, const std::string& cluster, l4_proto proto, std::uint16_t port) {
    if (m.services.empty()) return true;
    for (const mirror_service_cfg& s : m.services) {
        if (s.cluster != cluster) continue;
        if (!s.port || (*s.port == port && s.protocol.value_or(l4_proto::tcp) == proto)) return true;
    }
    return false;
}

std::set<ipv4_addr> node_addresses(const std::vector<cluster_cfg>& clusters) {
    std::set<ipv4_addr> out;
    for (const cluster_cfg& c : clusters)
        for (const service_cfg& s : c.ports)
            for (const node_cfg& n : s.nodes) out.insert(n.address);
    return out;
}

std::optional<ipv4_addr> spare_of(const std::vector<spare_cfg>& spares, ipv4_addr node) {
    const std::int64_t n = node;
    for (const spare_cfg& s : spares) {
        if (node >= s.first && node <= s.last) return static_cast<ipv4_addr>(n + s.offset);
        for (const std::int64_t k : s.terminators)  // a terminator of one of the entry's nodes
            if (n - k >= s.first && n - k <= s.last) return static_cast<ipv4_addr>(n + s.offset);
    }
    return std::nullopt;
}

std::vector<ipv4_addr> terminators_of(const std::vector<spare_cfg>& spares, ipv4_addr node) {
    std::vector<ipv4_addr> out;
    for (const spare_cfg& s : spares)
        if (node >= s.first && node <= s.last) {
            for (const std::int64_t k : s.terminators)
                if (std::int64_t{node} + k >= 0 && std::int64_t{node} + k <= 0xffffffffll)
                    out.push_back(static_cast<ipv4_addr>(std::int64_t{node} + k));
            break;
        }
    return out;
}

std::set<ipv4_addr> terminator_addresses(const std::vector<spare_cfg>& spares) {
    std::set<ipv4_addr> out;
    for (const spare_cfg& s : spares)
        for (std::int64_t node = s.first; node <= std::int64_t{s.last}; ++node)
            for (const ipv4_addr t : terminators_of(spares, static_cast<ipv4_addr>(node))) out.insert(t);
    return out;
}

std::string spare_key(const spare_cfg& s) {
    return s.first == s.last ? fmt::format("spares[{}]", format_ipv4(s.first))
                             : fmt::format("spares[{}-{}]", format_ipv4(s.first), format_ipv4(s.last));
}

std::vector<spare_piece> spare_pieces(const std::vector<spare_cfg>& spares) {
    std::vector<spare_piece> out;
    for (const spare_cfg& s : spares) {
        const std::string key = spare_key(s);
        out.push_back({s.first, s.last, s.offset, key});
        for (std::size_t i = 0; i < s.terminators.size(); ++i)
            out.push_back({std::int64_t{s.first} + s.terminators[i], std::int64_t{s.last} + s.terminators[i], s.offset,
                           fmt::format("{}.terminators[{}]", key, i)});
    }
    return out;
}

std::vector<spare_cfg> with_spare(const std::vector<spare_cfg>& spares, ipv4_addr node, std::optional<ipv4_addr> spare) {
    std::vector<spare_cfg> out;
    std::vector<std::int64_t> kept;
    for (const spare_cfg& s : spares) {
        if (node < s.first || node > s.last) {
            out.push_back(s);
            continue;
        }
        if (node > s.first) out.push_back({s.first, node - 1, s.offset, s.terminators});
        if (node < s.last) out.push_back({node + 1, s.last, s.offset, s.terminators});
        kept = s.terminators;  // the node's front-ends are still there: they follow its new spare
    }
    if (spare) out.push_back({node, node, std::int64_t{*spare} - std::int64_t{node}, kept});
    return out;
}

}  // namespace cg::common
