// What controld sends a restarted gatewayd so that its cluster tables are
// the ones it had before it died (clusters, ports, nodes, weights, quiesce
// flags), whatever was edited at run time since the file was read.
#pragma once

#include <vector>

#include "common/ctl_msg.hpp"

namespace cg::control {

/// `t` without its spares (node_view::spare_for): gatewayd adds them to the
/// tables from its spares section and gives them their node's weight while
/// the node is failed, so controld neither weighs nor restores them.
common::api::tables_rep without_spares(common::api::tables_rep t);

/// The requests that turn `have` into `want`, in an order the data plane
/// accepts (adds before the nodes that need them, deletes of nodes before
/// their ports). Draining nodes are left alone: their connections died with
/// the process. A port's timers are not compared: the control API sets them
/// only when a port is added. The spares table comes last, whole, when it
/// differs.
std::vector<common::api::request> resync(const common::api::tables_rep& want, const common::api::tables_rep& have);

/// The requests that throw `have` away and build `want` whole: every
/// cluster of `have` deleted, then every cluster, port (with its timers and
/// weight bound) and node of `want` added, so that nothing of `have` is
/// kept, not even what resync() leaves alone (a port's timers, draining
/// nodes). The escalation's PH1.0 and wider rungs (recovery_plan.hpp).
std::vector<common::api::request> rebuild(const common::api::tables_rep& want, const common::api::tables_rep& have);

}  // namespace cg::control
