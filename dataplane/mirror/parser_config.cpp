#include "dataplane/mirror/parser_config.hpp"

namespace cg::dp::mirror {

std::optional<port_proto> port_proto_of(std::string_view name) noexcept {
    for (std::size_t i = 0; i < port_proto_count; ++i)
        if (port_proto_names[i] == name) return static_cast<port_proto>(i);
    return std::nullopt;
}

parser_table_config parser_config_of(const common::gateway_cfg& cfg) {
    const common::mirror_parser_cfg& m = *cfg.mirror_parser;
    parser_table_config t;
    t.capacity = m.connections;
    t.pool_chunks = m.request_chunks;
    t.stale_timeout_ms = static_cast<std::uint32_t>(cfg.timers.stale_timeout.count());
    t.fin_timeout_ms = static_cast<std::uint32_t>(cfg.timers.fin_timeout.value_or(3 * cfg.timers.msl).count());
    for (const common::span_protocol_cfg& p : m.protocols)
        if (const auto proto = port_proto_of(p.protocol)) t.ports.set(p.port, *proto);
    return t;
}

}  // namespace cg::dp::mirror
