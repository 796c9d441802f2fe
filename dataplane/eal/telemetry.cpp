#include "dataplane/eal/telemetry.hpp"

#include <algorithm>
#include <cerrno>
#include <mutex>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <rte_telemetry.h>

#include "common/view_fields.hpp"
#include "dataplane/ctl/controller.hpp"

namespace cg::dp {

namespace api = common::api;

namespace {

// Telemetry callbacks are plain functions: the controller they talk to is
// kept here, guarded so that detaching waits for a callback in flight.
std::mutex guard;
controller* attached = nullptr;

template <class R>
bool ask(const api::request& req, R& out) {
    std::lock_guard lock(guard);
    if (!attached) return false;
    auto rep = attached->handle(req);
    if (auto* r = std::get_if<R>(&rep)) {
        out = std::move(*r);
        return true;
    }
    return false;
}

void add_counts(rte_tel_data* d, const std::vector<api::named_count>& counts) {
    rte_tel_data_start_dict(d);
    for (const auto& c : counts) rte_tel_data_add_dict_u64(d, c.name.c_str(), c.value);
}

/// Registers one command that answers a group of counters of show stats.
template <std::vector<api::named_count> api::stats_rep::*Group>
int stats_group(const char*, const char*, rte_tel_data* d) {
    api::stats_rep s;
    if (!ask(api::show_stats_req{}, s)) return -EINVAL;
    add_counts(d, s.*Group);
    return 0;
}

int info(const char*, const char*, rte_tel_data* d) {
    api::hello_rep h;
    if (!ask(api::hello_req{"telemetry"}, h)) return -EINVAL;
    rte_tel_data_start_dict(d);
    rte_tel_data_add_dict_string(d, "gateway", h.gateway.c_str());
    rte_tel_data_add_dict_string(d, "software", h.software.c_str());
    rte_tel_data_add_dict_u64(d, "uptime_ms", h.uptime_ms);
    rte_tel_data_add_dict_u64(d, "lcores", h.lcores.size());
    return 0;
}

/// Telemetry keys hold only letters, digits, '_' and '/'.
std::string key_part(common::ipv4_addr a) {
    std::string s = common::format_ipv4(a);
    for (char& ch : s)
        if (ch == '.') ch = '_';
    return s;
}

/// Flat, since DPDK 22.11 nests only arrays: one key per node and counter,
/// "<cluster>/<proto>/<port>/<node>/<counter>", e.g. 198_18_0_100/tcp/80/198_18_0_11/active.
int nodes(const char*, const char*, rte_tel_data* d) {
    api::tables_rep t;
    if (!ask(api::show_tables_req{}, t)) return -EINVAL;
    rte_tel_data_start_dict(d);
    for (const auto& c : t.clusters)
        for (const auto& s : c.ports)
            for (const auto& n : s.nodes) {
                const std::string base = fmt::format("{}/{}/{}/{}/", key_part(c.vip), common::proto_name(s.proto),
                                                     s.port, key_part(n.address));
                for (const auto& f : api::node_fields)
                    rte_tel_data_add_dict_u64(d, fmt::format("{}{}", base, f.name).c_str(), f.get(n));
            }
    return 0;
}

/// Per lcore: "<lcore>/rx", ".../fwd", ".../loops", ".../busy_loops",
/// ".../loop_time/<bucket>" (lcore_view::loop_time).
int lcores(const char*, const char*, rte_tel_data* d) {
    api::hello_rep h;
    if (!ask(api::hello_req{"telemetry"}, h)) return -EINVAL;
    rte_tel_data_start_dict(d);
    for (const auto& l : h.lcores) {
        const std::string base = fmt::format("lcore_{}/", l.lcore);
        for (const auto& f : api::lcore_fields)
            rte_tel_data_add_dict_u64(d, fmt::format("{}{}", base, f.name).c_str(), f.get(l));
        for (std::size_t b = 0; b < l.loop_time.size(); ++b)
            rte_tel_data_add_dict_u64(d, fmt::format("{}loop_time/{}", base, b).c_str(), l.loop_time[b]);
    }
    return 0;
}

/// The mirror parser's counters as show mirror names them, '/' for '.'
/// ("frames/followed", "smb2/ok"), and the connections followed now; with
/// no mirror parser an empty dict.
int mirror_counts(const char*, const char*, rte_tel_data* d) {
    rte_tel_data_start_dict(d);
    api::mirror_rep m;
    if (!ask(api::show_mirror_req{0}, m)) return 0;
    for (auto& c : m.counters) {
        std::replace(c.name.begin(), c.name.end(), '.', '/');
        rte_tel_data_add_dict_u64(d, c.name.c_str(), c.value);
    }
    rte_tel_data_add_dict_u64(d, "connections", m.connections);
    return 0;
}

}  // namespace

void telemetry_attach(controller& ctl) {
    static std::once_flag once;
    std::call_once(once, [] {
        rte_telemetry_register_cmd("/clustergate/info", info, "Gateway name, software, uptime. No parameters");
        rte_telemetry_register_cmd("/clustergate/drops", stats_group<&api::stats_rep::drops>,
                                   "Dropped packets per reason. No parameters");
        rte_telemetry_register_cmd("/clustergate/connections", stats_group<&api::stats_rep::connections>,
                                   "Connection events. No parameters");
        rte_telemetry_register_cmd("/clustergate/control", stats_group<&api::stats_rep::control>,
                                   "Control-plane counters. No parameters");
        rte_telemetry_register_cmd("/clustergate/nodes", nodes, "Per-node weights and counters. No parameters");
        rte_telemetry_register_cmd("/clustergate/lcores", lcores,
                                   "Per-lcore packets, loops, and busy loops by duration bucket. No parameters");
        rte_telemetry_register_cmd("/clustergate/mirror", mirror_counts,
                                   "The mirror parser's counters, summed over its lcores. No parameters");
    });
    std::lock_guard lock(guard);
    attached = &ctl;
}

void telemetry_detach() {
    std::lock_guard lock(guard);
    attached = nullptr;
}

}  // namespace cg::dp
