// The manager of requirements 4.7, without I/O: it is told what was measured
// (tables and counters, probe answers, agent reports, user metrics, the
// time) and says which weights to send. controld feeds it from its sockets
// and timers; tests feed it by hand with a fake clock.
//
// Per cluster port, each node has a mode (adaptive, quiesced, fixed) set
// by the operator, is blocked while a health condition holds (failed probe
// of that port, stale agent report, a rule's window), and has a real-valued
// weight the formula (weights.hpp) moves. Thread-safety: none (one thread).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/ctl_msg.hpp"
#include "control/controld/manager/weights.hpp"
#include "control/proto/agent_msg.hpp"

namespace cg::control {

using clock = std::chrono::steady_clock;

using common::service_key;
using common::format_service;

/// One weight to send: set_node_req for the data plane.
struct weight_change {
    service_key svc;
    common::ipv4_addr node = 0;
    std::uint32_t weight = 0;
};

/// Why a node takes no new connections (bit set).
enum block : std::uint8_t {
    block_probe = 1,  ///< the port's probe got no (good) answer
    block_stale = 2,  ///< no agent report within agents.stale
    block_rule = 4,   ///< inside a rule's window
};
std::string format_blocks(std::uint8_t blocks);

/// The built-in metrics, in the order of metric_params(); user metrics follow.
enum builtin_metric : std::size_t { m_conns, m_conn_rate, m_answer_time, m_load, m_cpu, m_memory, m_sockets, m_script,
                                    builtin_metrics };

class manager {
public:
    /// `start` begins the agents' grace period: a node is stale only once
    /// it has had `agents.stale` to send its first report.
    manager(common::manager_cfg cfg, clock::time_point start);

    // ---- what was measured -------------------------------------------
    /// The data plane's tables (requirements 4.1): learns cluster ports and nodes,
    /// their weights, and counter deltas since the last reading. A node's
    /// weight as first seen is its base weight (docs/weights.md); a weight
    /// that is not what the manager last sent was set by hand and becomes
    /// the new base.
    void observe_tables(const common::api::tables_rep& t, clock::time_point now);
    /// A probe of one node of a port: answered in `ms`, or not (nullopt).
    /// The answer-time metric is the running mean (each answer weighs half).
    void probe_result(const service_key& svc, common::ipv4_addr node, std::optional<double> ms);
    void host_report(common::ipv4_addr node, const agent::host_report& r, clock::time_point now);
    /// controld marked `node` failed in gatewayd, or live again (its alive
    /// monitor). A node failed by this or by the tables' own flag keeps
    /// the weight it had before it failed (blocks aside: a dead node's
    /// probes fail), for its spare serves with that weight.
    void node_failed(common::ipv4_addr node, bool failed);
    /// A user metric's value for a node; nullopt: the command failed.
    void user_metric(std::size_t index, common::ipv4_addr node, std::optional<double> value);
    /// The local time of day, for the rules (minutes after midnight).
    void set_time_of_day(unsigned minute) { _minute = minute; }

    // ---- what the operator says (requirements 4.5) ----------------------------
    /// Refusals (unknown parameter, value out of range) come back as text.
    std::optional<std::string> set_param(const std::string& name, const std::string& value);
    enum class node_action { adapt, quiesce, fix };
    /// Applies to the node in every port it serves. False: no such node.
    bool set_node_mode(common::ipv4_addr node, node_action a, double weight = 0);

    // ---- what to send (requirements 4.6, 4.7) ---------------------------------
    /// Returns the weight changes to send for every port, where the
    /// threshold function says so. With
    /// `step`, the formula moves the adaptive weights (once per period);
    /// without, only modes and health count (a probe failed, a node
    /// reported again), so that events between periods do not speed up the
    /// formula.
    std::vector<weight_change> compute(clock::time_point now, bool step = true);

    /// The data plane took these (send succeeded).
    void sent(const std::vector<weight_change>& w);

    // ---- views --------------------------------------------------------
    struct node_view {
        common::ipv4_addr node = 0;
        node_mode mode = node_mode::adaptive;
        std::uint8_t blocks = 0;
        double weight = 0;            ///< the manager's real-valued weight
        double base = 0;              ///< its weight when the load is balanced
        std::uint32_t sent = 0;       ///< last weight sent
        std::uint32_t dataplane = 0;  ///< the data plane's, at the last reading
        std::vector<std::optional<double>> metrics;
    };
    struct service_view {
        service_key svc;
        std::vector<node_view> nodes;
    };
    std::vector<service_view> view(clock::time_point now) const;
    const std::vector<metric_param>& metric_params() const { return _metrics; }
    const common::manager_cfg& config() const { return _cfg; }
    std::uint64_t pushes() const { return _pushes; }
    std::uint64_t hand_edits() const { return _hand_edits; }

private:
    struct node_rec {
        double weight = 0;
        double base = 0;
        std::uint32_t bound = 0;
        std::uint32_t dataplane = 0;
        std::optional<std::uint32_t> sent;  ///< none until the first reading
        std::uint64_t new_conns = 0;  ///< counter at the last reading
        bool have_counter = false;
        double conns = 0, conn_rate = 0;
        std::optional<double> answer_ms;
        bool probe_failed = false;
        bool failed = false;  ///< the tables say it is failed (node_failed())
    };
    struct host_rec {
        clock::time_point last_report{};
        bool reported = false;
        agent::host_report report;
        std::vector<std::optional<double>> user;
    };
    struct mode_rec {
        node_mode mode = node_mode::adaptive;
        double fixed = 0;
    };

    std::uint8_t blocks_of(common::ipv4_addr node, const node_rec& r, clock::time_point now) const;
    std::vector<std::optional<double>> metrics_of(common::ipv4_addr node, const node_rec& r) const;
    void rebuild_metric_params();

    common::manager_cfg _cfg;
    clock::time_point _start;
    std::optional<clock::time_point> _last_reading;
    unsigned _minute = 0;
    std::vector<metric_param> _metrics;
    std::map<service_key, std::map<common::ipv4_addr, node_rec>> _services;
    std::map<common::ipv4_addr, host_rec> _hosts;
    std::map<common::ipv4_addr, mode_rec> _modes;
    std::set<common::ipv4_addr> _failed;  ///< node_failed()
    std::uint64_t _pushes = 0, _hand_edits = 0;
};

/// True when `minute` (after midnight) is inside [from, to), which may wrap.
bool in_window(const common::rule_cfg& r, unsigned minute);

}  // namespace cg::control
