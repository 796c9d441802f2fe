// The clusters as the data plane serves them, spares included (docs/config.md
// "spares", docs/architecture.md "A failed node and its spare"). Pure: the
// controller calls it on every edit and on every failed mark.
//
// Each port of a cluster lists its configured nodes, then the spare of each
// node that has one in the correspondence table and is not a node of that
// port already. A spare stands by with weight 0: its slot exists, the data
// plane resolves its MAC by ARP and keeps it fresh, so that switching over
// needs nothing but a new snapshot. While its node is failed the spare
// takes the node's weight (and quiesced flag, and gateway port): new
// connections go to the spare at once. Nothing is re-addressed: the spare
// holds the cluster address on `lo`, like any node. When the node is live
// again the spare's weight goes back to 0; the connections it took stay on
// it, as on a quiesced node.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "common/config.hpp"

namespace cg::dp {

std::vector<common::cluster_cfg> with_spares(const std::vector<common::cluster_cfg>& clusters,
                                             const std::vector<common::spare_cfg>& spares,
                                             const std::set<common::ipv4_addr>& failed);

/// The spares that with_spares() adds, each with the working node it stands
/// by for.
std::map<common::ipv4_addr, common::ipv4_addr> spare_owners(const std::vector<common::cluster_cfg>& clusters,
                                                            const std::vector<common::spare_cfg>& spares);

}  // namespace cg::dp
