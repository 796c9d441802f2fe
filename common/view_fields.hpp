// The counters of each view family, written once: name, console heading,
// Prometheus metric, and where the value lives, in the manner of ethdev's
// eth_dev_stats_strings. The console (common/cli/cmd_stats.cpp), DPDK
// telemetry (dataplane/eal/telemetry.cpp) and controld's Prometheus endpoint
// all iterate these tables, so a counter added here shows everywhere, under
// one name.
//
// Thread-safety: constant tables.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/ctl_msg.hpp"

namespace cg::common::api {

enum class metric_kind : std::uint8_t { counter, gauge };

template <class View>
struct view_field {
    std::string_view name;     ///< snake_case: telemetry key, Prometheus label or suffix
    std::string_view heading;  ///< the console's column ("" : not a column of its table)
    std::string_view metric;   ///< Prometheus metric name
    metric_kind kind;
    std::uint64_t (*get)(const View&);
};

inline constexpr view_field<port_view> port_fields[] = {
    {"rx_packets", "rx pkts", "clustergate_port_rx_packets_total", metric_kind::counter,
     [](const port_view& p) { return p.ipackets; }},
    {"tx_packets", "tx pkts", "clustergate_port_tx_packets_total", metric_kind::counter,
     [](const port_view& p) { return p.opackets; }},
    {"rx_bytes", "rx bytes", "clustergate_port_rx_bytes_total", metric_kind::counter,
     [](const port_view& p) { return p.ibytes; }},
    {"tx_bytes", "tx bytes", "clustergate_port_tx_bytes_total", metric_kind::counter,
     [](const port_view& p) { return p.obytes; }},
    {"rx_missed", "missed", "clustergate_port_rx_missed_total", metric_kind::counter,
     [](const port_view& p) { return p.imissed; }},
    {"rx_errors", "rx errors", "clustergate_port_rx_errors_total", metric_kind::counter,
     [](const port_view& p) { return p.ierrors; }},
    {"tx_errors", "tx errors", "clustergate_port_tx_errors_total", metric_kind::counter,
     [](const port_view& p) { return p.oerrors; }},
    {"rx_nombuf", "no mbuf", "clustergate_port_rx_nombuf_total", metric_kind::counter,
     [](const port_view& p) { return p.rx_nombuf; }},
};

inline constexpr view_field<lcore_view> lcore_fields[] = {
    {"rx", "rx", "clustergate_lcore_rx_packets_total", metric_kind::counter,
     [](const lcore_view& l) { return l.rx_pkts; }},
    {"fwd", "fwd", "clustergate_lcore_forwarded_packets_total", metric_kind::counter,
     [](const lcore_view& l) { return l.fwd_pkts; }},
    {"tx", "tx", "clustergate_lcore_tx_packets_total", metric_kind::counter,
     [](const lcore_view& l) { return l.tx_pkts; }},
    {"drops", "drops", "clustergate_lcore_drops_total", metric_kind::counter,
     [](const lcore_view& l) { return l.drops; }},
    {"conns", "conns", "clustergate_lcore_connections", metric_kind::gauge,
     [](const lcore_view& l) { return l.conns; }},
    {"loops", "", "clustergate_lcore_loops_total", metric_kind::counter,
     [](const lcore_view& l) { return l.loops; }},
    {"busy_loops", "", "clustergate_lcore_busy_loops_total", metric_kind::counter,
     [](const lcore_view& l) { return l.busy_loops; }},
};

inline constexpr view_field<node_view> node_fields[] = {
    {"weight", "weight", "clustergate_node_weight", metric_kind::gauge,
     [](const node_view& n) -> std::uint64_t { return n.weight; }},
    {"effective_weight", "effective", "clustergate_node_effective_weight", metric_kind::gauge,
     [](const node_view& n) -> std::uint64_t { return n.effective_weight; }},
    {"active", "active", "clustergate_node_active_connections", metric_kind::gauge,
     [](const node_view& n) { return n.active; }},
    {"fin", "fin", "clustergate_node_fin_connections", metric_kind::gauge, [](const node_view& n) { return n.fin; }},
    {"completed", "completed", "clustergate_node_completed_connections_total", metric_kind::counter,
     [](const node_view& n) { return n.completed; }},
    {"new", "new", "clustergate_node_new_connections_total", metric_kind::counter,
     [](const node_view& n) { return n.new_conns; }},
    {"pkts", "pkts", "clustergate_node_packets_total", metric_kind::counter, [](const node_view& n) { return n.pkts; }},
    {"bytes", "bytes", "clustergate_node_bytes_total", metric_kind::counter,
     [](const node_view& n) { return n.bytes; }},
    {"draining", "", "clustergate_node_draining", metric_kind::gauge,
     [](const node_view& n) -> std::uint64_t { return n.draining; }},
};

}  // namespace cg::common::api
