// The control API's implementation inside gatewayd: owns the cluster tables
// (the model), their slots, the ARP cache and the gateway's role; turns each
// request into a validated edit, a new snapshot and a publish; answers
// show/stats/connection/simulate requests from counters and worker jobs,
// and moves connections in bulk (dump, insert) through worker jobs.
//
// Every edit is checked with the rules of the config file
// (config_check.hpp) on a copy of the model; a refused edit changes nothing.
//
// Requests that need worker jobs (show connections, simulate) never wait
// for a worker under the lock: begin() posts the jobs and returns a
// pending_request; poll() finishes it once the jobs are done, or fails it
// once its deadline has passed. The control socket polls from an Asio timer
// (ctl_service.hpp); handle() polls by itself, for callers that may wait
// (the console of `gatewayd -i`, tests).
//
// Thread-safety: begin(), poll(), handle() and housekeeping() serialise on
// an internal lock, held only while they compute, never while they wait;
// they are called from the main lcore (control socket) and from the console
// thread of `gatewayd -i`. A pending_request belongs to the thread that began
// it.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "common/config.hpp"
#include "common/ctl_msg.hpp"
#include "dataplane/ctl/dp_adapter.hpp"
#include "dataplane/tables/slot_map.hpp"
#include "dataplane/tables/snapshot_builder.hpp"

namespace cg::dp {

class controller;

/// A request the controller turns down; begin() and poll() make it an
/// error_rep with the reason and its details.
class refused : public std::runtime_error {
public:
    explicit refused(const std::string& why, std::vector<std::string> details = {})
        : std::runtime_error(why), details(std::move(details)) {}
    std::vector<std::string> details;
};

/// A request waiting for worker jobs. Made by controller::begin(), advanced
/// by controller::poll(); dropping it abandons the request (the data plane
/// keeps the jobs alive until the workers are done with them).
class pending_request {
public:
    /// Every job posted so far is done: poll() can take the next step.
    bool jobs_done() const;
    std::chrono::steady_clock::time_point deadline() const { return _deadline; }

private:
    friend class controller;
    struct posted {
        std::string who;  ///< "worker 1", "parser lcore 0"
        std::shared_ptr<const std::atomic<bool>> done;  ///< the job's own flag (it keeps the job alive)
    };
    std::vector<posted> _jobs;
    std::chrono::steady_clock::time_point _deadline;
    /// The next step, run under the controller's lock once the jobs are
    /// done: the reply, or nullopt after posting the jobs of another step.
    std::function<std::optional<common::api::reply>(pending_request&)> _step;
};

class controller {
public:
    struct options {
        std::string config_path;  ///< what `reload` reads when given no path
        std::string software;     ///< version string for hello
        /// How long a request may wait for the workers' jobs before it fails.
        std::chrono::milliseconds job_timeout = std::chrono::seconds(2);
        /// The role it starts in: a gatewayd that must get its connections
        /// back before it forwards starts as the standby.
        gateway_role role = gateway_role::active;
    };
    /// What begin() gives: the reply, or the request waiting for workers.
    using started = std::variant<common::api::reply, pending_request>;

    /// Publishes the snapshot of `cfg.clusters`. `cfg` must be valid
    /// (load_config_file said so); throws std::runtime_error if its tables
    /// do not fit the slots.
    controller(common::gateway_cfg cfg, std::vector<port_binding> ports, dp_adapter& dp, options opt);

    /// Starts one request; never throws, never waits for a worker. Refusals
    /// come back as error_rep.
    started begin(const common::api::request& r);
    /// The reply of a pending request once its jobs are done (or an
    /// error_rep once its deadline has passed); nullopt while it waits.
    std::optional<common::api::reply> poll(pending_request& p);
    /// begin(), then poll() until the reply, sleeping without the lock in
    /// between. For callers that may wait: never on an event loop.
    common::api::reply handle(const common::api::request& r);

    /// Adopts node MACs learned by ARP and releases node slots that have
    /// drained. Call every few milliseconds from the main lcore.
    void housekeeping();

    /// A control-path counter the socket server bumps (bad frames).
    void count_bad_frame();

    /// The process that started gatewayd (controld, in a gateway pair) has
    /// ended: an active gatewayd becomes standby at once, since the pair's
    /// peer takes over when controld's heartbeats stop (the fence). True
    /// when it was active.
    bool parent_ended();

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
        service_key id;
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
    common::api::reply on(const common::api::set_role_req& r);
    common::api::reply on(const common::api::fail_node_req& r);
    /// The node of the tables whose MAC is `mac` (resolved or configured), or 0.
    common::ipv4_addr node_with_mac(const common::mac_addr& mac) const;
    common::api::reply on(const common::api::set_spares_req& r);
    // Views (controller_views.cpp)
    common::api::reply on(const common::api::hello_req& r);
    common::api::reply on(const common::api::show_tables_req& r);
    common::api::reply on(const common::api::show_stats_req& r);
    started on(const common::api::simulate_req& r);
    // Connections: pages for the console, and in bulk (controller_conns.cpp)
    started on(const common::api::show_conns_req& r);
    started on(const common::api::dump_conns_req& r);
    started on(const common::api::insert_conns_req& r);
    // The mirror parser's lcores (controller_mirror.cpp)
    started on(const common::api::show_mirror_req& r);
    started on(const common::api::restore_plans_req& r);
    /// The manager's requests belong to controld.
    common::api::reply on(const common::api::manager_show_req& r);
    common::api::reply on(const common::api::manager_set_req& r);
    common::api::reply on(const common::api::manager_node_req& r);
    /// So do the gateway pair's.
    common::api::reply on(const common::api::ha_show_req& r);
    common::api::reply on(const common::api::ha_switchover_req& r);
    /// And the escalation ladder.
    common::api::reply on(const common::api::escalation_show_req& r);
    common::api::reply on(const common::api::restore_show_req& r);
    common::api::reply on(const common::api::state_show_req& r);

    /// Validates `next` as the new cluster tables (and `spares` as the new
    /// spare table, when given), moves the slots, publishes.
    void apply(std::vector<common::cluster_cfg> next, const std::string& what,
               std::optional<std::vector<common::spare_cfg>> spares = std::nullopt);
    void publish();
    void rebase_counters();
    /// A pending request whose deadline is job_timeout from now.
    pending_request waiting() const;
    /// Posts a job to worker `w` for `p`; throws refused if it cannot take it.
    void post(pending_request& p, std::size_t w, std::shared_ptr<worker_job> job);
    /// The same for a parser lcore's request.
    void post(pending_request& p, std::size_t lcore, std::shared_ptr<parser_request> req);
    /// One step of a page of connections: the jobs of worker `w` from `slot`.
    void conns_step(pending_request& p, std::shared_ptr<common::api::conns_rep> page, std::uint32_t max,
                    std::size_t w, std::uint32_t slot);

    node_stats sum_node(std::uint16_t slot) const;
    service_stats sum_service(std::uint16_t slot) const;
    common::api::node_view node_view_of(std::uint16_t slot) const;
    std::uint64_t live_connections() const;

    common::gateway_cfg _cfg;
    /// _cfg.clusters with the spares standing by or serving for failed nodes
    /// (spare_view.hpp): what the slots and the snapshot hold.
    std::vector<common::cluster_cfg> _serving;
    std::vector<port_binding> _ports;
    dp_adapter& _dp;
    options _opt;
    slot_map _slots;
    arp_cache _arp;
    std::vector<node_base> _node_base;
    std::vector<service_base> _service_base;
    std::uint64_t _generation = 0;
    gateway_role _role;
    std::uint32_t _reset_until = 0;  ///< snapshot::reset_unknown_until
    std::set<common::ipv4_addr> _failed;  ///< nodes marked failed (fail_node_req); pruned as nodes leave the tables
    std::set<common::ipv4_addr> _down;    ///< _failed and their terminators on the cluster ports: what the tables see
    std::uint32_t _failed_epoch = 0;      ///< snapshot::failed_epoch
    counts _counts;
    std::chrono::steady_clock::time_point _started = std::chrono::steady_clock::now();
    /// Held while computing, never while waiting for a worker. The snapshot
    /// `_dp.current()` returns is safe to read only under it: publish() runs
    /// only under it, and publishing frees the previous snapshot. So no
    /// reference to a snapshot outlives one locked section: a pending
    /// request takes `_dp.current()` again in each step, worker jobs name
    /// nodes by slot and generation (checked against that snapshot) or
    /// carry the address the worker read from its own snapshot.
    mutable std::mutex _lock;
};

}  // namespace cg::dp
