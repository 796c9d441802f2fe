#include "dataplane/tables/spare_view.hpp"

#include <algorithm>

namespace cg::dp {

namespace {

bool has_node(const common::service_cfg& s, common::ipv4_addr a) {
    return std::any_of(s.nodes.begin(), s.nodes.end(), [&](const common::node_cfg& n) { return n.address == a; });
}

}  // namespace

std::vector<common::cluster_cfg> with_spares(const std::vector<common::cluster_cfg>& clusters,
                                             const std::vector<common::spare_cfg>& spares,
                                             const std::set<common::ipv4_addr>& failed) {
    std::vector<common::cluster_cfg> out = clusters;
    if (spares.empty()) return out;
    for (common::cluster_cfg& c : out) {
        for (common::service_cfg& s : c.ports) {
            const std::size_t working = s.nodes.size();
            for (std::size_t i = 0; i < working; ++i) {
                const common::node_cfg n = s.nodes[i];  // a copy: push_back may move the vector
                const auto spare = common::spare_of(spares, n.address);
                if (!spare || has_node(s, *spare)) continue;
                common::node_cfg sp;
                sp.address = *spare;
                sp.port = n.port;
                sp.weight_bound = n.weight_bound;
                if (failed.contains(n.address)) {
                    sp.weight = n.weight;
                    sp.quiesced = n.quiesced;
                } else {
                    sp.weight = 0;
                }
                s.nodes.push_back(std::move(sp));
            }
        }
    }
    return out;
}

std::map<common::ipv4_addr, common::ipv4_addr> spare_owners(const std::vector<common::cluster_cfg>& clusters,
                                                            const std::vector<common::spare_cfg>& spares) {
    std::map<common::ipv4_addr, common::ipv4_addr> out;
    const std::set<common::ipv4_addr> working = common::node_addresses(clusters);
    for (common::ipv4_addr n : working)
        if (const auto s = common::spare_of(spares, n); s && !working.contains(*s)) out.emplace(*s, n);
    return out;
}

}  // namespace cg::dp
