// Semantic rules of a configuration (requirements 2.1, 2.5, 2.7), shared by the file
// loader and by the controller, which checks every run-time edit with them
// before anything is applied.
//
// Key paths name things rather than count them, so that an error reads the
// same for a file and for an API edit:
//   clusters[web].ports[tcp/80].nodes[198.18.0.11].weight
//
// Each check returns every error it finds (empty: valid); none throws.
// Thread-safety: reentrant, they only read the model.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "config.hpp"

namespace cg::common {

std::string cluster_key(const cluster_cfg& c);
std::string service_key(const cluster_cfg& c, const service_cfg& s);
std::string node_key(const cluster_cfg& c, const service_cfg& s, const node_cfg& n);
/// "ports[lan]"; a port without a name is named by its position, "ports[0]".
std::string port_key(const port_cfg& p, std::size_t index);

/// The static part: lcores, ports, tables, timers, eal. `where` goes into
/// each error's `where` field.
std::vector<config_error> check_static(const gateway_cfg& cfg, const std::string& where);

/// The cluster tables against the static part: unique addresses, names and
/// ports; weights within bounds; node ports that exist; ARP resolution
/// possible; slot limits (tables.services, tables.nodes) respected.
std::vector<config_error> check_clusters(const gateway_cfg& cfg, const std::string& where);

/// The mirror section, read once at start: a port of `ports` that no node
/// uses, a refresh interval within bounds, services that name clusters and
/// ports of the file. Run-time edits are not checked against it: a cluster
/// it names may go (and it then mirrors nothing of it).
std::vector<config_error> check_mirror(const gateway_cfg& cfg, const std::string& where);

/// The spare correspondence table (requirements 7.1): no range backwards,
/// no spare outside the address space or not unicast, no node with two
/// spares, no node its own spare, no spare that is itself working (a node of
/// a cluster port, or a working address of another entry).
std::vector<config_error> check_spares(const gateway_cfg& cfg, const std::string& where);
/// The mirror_parser section, read once at start: SPAN ports of `ports`,
/// neither the mirror port nor a node's (check_clusters says so at the
/// node), parser lcores that are a worker's or their own, sizes in range,
/// server ports with known protocols.
std::vector<config_error> check_mirror_parser(const gateway_cfg& cfg, const std::string& where);

/// controld's manager section against the clusters: parameter ranges,
/// probes of cluster ports that exist, rules naming known nodes, endpoints.
std::vector<config_error> check_manager(const gateway_cfg& cfg, const std::string& where);

/// controld's supervision section: the store's path, the healthy time, the
/// history's length, and each rung's limit and window.
std::vector<config_error> check_supervision(const gateway_cfg& cfg, const std::string& where);

}  // namespace cg::common
