#include "config.hpp"

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

std::string default_node_port(const gateway_cfg& cfg) {
    std::string found;
    for (const port_cfg& p : cfg.ports) {
        if (cfg.mirror && p.name == cfg.mirror->port) continue;  // no node is behind the mirror port
        if (!found.empty()) return {};
        found = p.name;
    }
    return found;
}

bool mirrors(const mirror_cfg& m, const std::string& cluster, l4_proto proto, std::uint16_t port) {
    if (m.services.empty()) return true;
    for (const mirror_service_cfg& s : m.services) {
        if (s.cluster != cluster) continue;
        if (!s.port || (*s.port == port && s.protocol.value_or(l4_proto::tcp) == proto)) return true;
    }
    return false;
}

}  // namespace cg::common
