// A parser lcore's table configuration from the gateway's
// (docs/config.md "mirror_parser", "timers"): its connections and chunk
// pool, the timers of requirements 2.7, and the server ports' protocols on
// top of port_map::defaults().
//
// Thread-safety: pure. Called from: the data plane's set-up, tests.
#pragma once

#include <optional>
#include <string_view>

#include "common/config.hpp"
#include "dataplane/mirror/parser_table.hpp"

namespace cg::dp::mirror {

/// port_proto by its name (port_proto_names); nullopt for another word.
std::optional<port_proto> port_proto_of(std::string_view name) noexcept;

/// `cfg.mirror_parser` must be set and checked (check_mirror_parser).
parser_table_config parser_config_of(const common::gateway_cfg& cfg);

}  // namespace cg::dp::mirror
