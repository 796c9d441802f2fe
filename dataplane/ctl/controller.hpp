// The control API's implementation inside gatewayd: owns the cluster tables
// (the model), their slots and the ARP cache; turns each request into a
// validated edit, a new snapshot and a publish; answers show/stats/
// connection/simulate requests from counters and worker jobs.
//
// Every edit is checked with the rules of the config file
// (config_check.hpp) on a copy of the model; a refused edit changes nothing.
//
// Thread-safety: handle() and housekeeping() serialise on an internal lock;
// they are called from the main lcore (control socket) and from the console
// thread of `gatewayd -i`.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/ctl_msg.hpp"
#include "dataplane/ctl/dp_adapter.hpp"
#include "dataplane/tables/slot_map.hpp"
#include "dataplane/tables/snapshot_builder.hpp"

namespace cg::dp {

class controller {
public:
    struct options {
        std::string config_path;  ///< what `reload` reads when given no path
        std::string software;     ///< version string for hello
    };

    /// Publishes the snapshot of `cfg.clusters`. `cfg` must be valid
    /// (load_config_file said so); throws std::runtime_error if its tables
    /// do not fit the slots.
    controller(common::gateway_cfg cfg, std::vector<port_binding> ports, dp_adapter& dp, options opt);

    /// Answers one request; never throws. Refusals come back as error_rep.
    common::api::reply handle(const common::api::request& r);

    /// Adopts node MACs learned by ARP and releases node slots that have
    /// drained. Call every few milliseconds from the main lcore.
    void housekeeping();

    /// A control-path counter the socket server bumps (bad frames).
    void count_bad_frame();

    const common::gateway_cfg& config() const { return _cfg; }

private:
    struct counts {
        std::uint64_t requests = 0, refused = 0, bad_frames = 0, publishes = 0, arp_learned = 0, released = 0;
    };
    /// Counter values a slot had when it got its present owner: views show
    /// the difference, so a reused slot starts from zero (counters are never
    /// reset, readers take deltas).
    struct node_base {
        bool used = false;
        std::uint16_t gen = 0;
        node_id id;
        node_stats at{};
    };
    struct service_base {
        bool used = false;
        service_id id;
        service_stats at{};
    };

    // Edits (controller.cpp)
    common::api::reply on(const common::api::add_cluster_req& r);
    common::api::reply on(const common::api::del_cluster_req& r);
    common::api::reply on(const common::api::add_port_req& r);
    common::api::reply on(const common::api::del_port_req& r);
    common::api::reply on(const common::api::add_node_req& r);
    common::api::reply on(const common::api::del_node_req& r);
    common::api::reply on(const common::api::set_node_req& r);
    common::api::reply on(const common::api::reload_req& r);
    // Views (controller_views.cpp)
    common::api::reply on(const common::api::hello_req& r);
    common::api::reply on(const common::api::show_tables_req& r);
    common::api::reply on(const common::api::show_stats_req& r);
    common::api::reply on(const common::api::show_conns_req& r);
    common::api::reply on(const common::api::simulate_req& r);
    /// The manager's requests belong to controld.
    common::api::reply on(const common::api::manager_show_req& r);
    common::api::reply on(const common::api::manager_set_req& r);
    common::api::reply on(const common::api::manager_node_req& r);

    /// Validates `next` as the new cluster tables, moves the slots, publishes.
    void apply(std::vector<common::cluster_cfg> next, const std::string& what);
    void publish();
    void rebase_counters();

    node_stats sum_node(std::uint16_t slot) const;
    service_stats sum_service(std::uint16_t slot) const;
    common::api::node_view node_view_of(std::uint16_t slot) const;
    std::uint64_t live_connections() const;

    common::gateway_cfg _cfg;
    std::vector<port_binding> _ports;
    dp_adapter& _dp;
    options _opt;
    slot_map _slots;
    arp_cache _arp;
    std::vector<node_base> _node_base;
    std::vector<service_base> _service_base;
    std::uint64_t _generation = 0;
    counts _counts;
    std::chrono::steady_clock::time_point _started = std::chrono::steady_clock::now();
    mutable std::mutex _lock;
};

}  // namespace cg::dp
