// controld: the control process of one gateway (DESIGN.md). It starts and
// supervises gatewayd (every death up the escalation ladder, its counts on
// disk: escalation.hpp, escalation_store.hpp), reads its tables and counters every period, measures
// the nodes (probes, agent reports, user metrics, rules), lets the manager
// decide the weights, and sends them. It answers the control API on its own
// socket: the manager's requests itself, every other one by asking gatewayd,
// so that `gwctl -s <controld socket>` reaches both.
//
// Nothing blocks the io_context: every request to gatewayd goes through one
// gw_link and continues in its completion handler. A reading (tables, then
// stats) and a decision (compute, send the weights, record what went
// through) each run one at a time; asked for while one runs, it runs once
// more after it, for every asker (one_at_a_time).
//
// Thread-safety: none; everything runs on one io_context.
#pragma once

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/api.hpp"
#include "common/config.hpp"
#include "control/controld/conn_restore.hpp"
#include "control/controld/node_restore.hpp"
#include "control/controld/config_backups.hpp"
#include "control/controld/state_backups.hpp"
#include "control/controld/escalation_store.hpp"
#include "control/controld/gw_health.hpp"
#include "control/controld/gw_link.hpp"
#include "control/controld/manager/alive_monitor.hpp"
#include "control/controld/manager/manager.hpp"
#include "control/controld/pair/pair_peer.hpp"
#include "control/controld/recovery_plan.hpp"
#include "control/controld/run_mark.hpp"
#include "control/controld/supervisor.hpp"
#include "control/proto/agent_msg.hpp"

namespace cg::control {

/// Runs an asynchronous task one at a time. run() while the task runs makes
/// it run once more after it; every `then` given meanwhile is called when
/// that later run is done (whose result is at least as fresh as asked for).
class one_at_a_time {
public:
    using task = std::function<void(std::function<void()> done)>;
    explicit one_at_a_time(task t) : _task(std::move(t)) {}
    void run(std::function<void()> then = {});

private:
    void start();
    task _task;
    bool _running = false, _again = false;
    std::vector<std::function<void()>> _waiting;  ///< for the next run to start
};

class controld final : public common::api::async_api {
public:
    struct options {
        std::string config_path;
        std::string gatewayd;                    ///< the program
        std::vector<std::string> gatewayd_args;  ///< after `-c <config>`
        bool supervise = true;                   ///< false: gatewayd runs on its own (tests, systemd)
        std::vector<std::string> self_argv;      ///< controld's own, for PH2.5's re-execution
        std::string config_text;                 ///< the configuration file's bytes, as loaded
        std::string backups_dir;                 ///< the configuration backups (config_backups.hpp)
        std::string initial_config;              ///< PH3.0's last resort, when no backup will do
        std::string config_restored;             ///< at start, the file did not load: what was installed instead, and why
    };

    /// Throws std::runtime_error when a socket cannot be opened or the agent
    /// key cannot be read.
    controld(boost::asio::io_context& io, common::gateway_cfg cfg, options opt);
    ~controld() override;

    void start();

    /// The control API of controld's socket.
    void call_async(const common::api::request& r, completion done) override;

    /// The text of the Prometheus endpoint.
    std::string prometheus_text() const;
    /// `show escalation`: the ladder of the supervised gatewayd.
    common::api::escalation_rep escalation_view() const;

private:
    struct counts {
        std::uint64_t periods = 0, readings_failed = 0, pushes = 0, weights_sent = 0, push_errors = 0,
                      resyncs = 0, resync_requests = 0, rebuilds = 0, probes_ok = 0, probes_failed = 0, metrics_ok = 0,
                      metrics_failed = 0, gateway_deaths = 0, gateway_adoptions = 0, unclean_starts = 0, agent_errors = 0, agent_drained = 0, restores = 0,
                      restored_conns = 0, restore_nodes_failed = 0, last_restore_ms = 0, mirror_watch_errors = 0, nodes_failed_by_mirror = 0,
                      last_restore_query_ms = 0, nodes_failed = 0, nodes_back = 0, fail_marks_refused = 0,
                      eal_resets = 0, eal_files_removed = 0, eal_remove_errors = 0, config_restores = 0,
                      spare_restores = 0, spare_restore_errors = 0, spare_conns_restored = 0,
                      spare_conns_not_restored = 0, spare_conns_moved = 0, last_spare_restore_ms = 0,
                      upstream_reports = 0, upstream_unreachable = 0, upstream_refused = 0, nodes_reported = 0;
    };

    void period();
    /// Reads gatewayd's tables (giving them back first after a restart) and
    /// counters, then calls `then`.
    void read_gateway(std::function<void()> then = {});
    void read_once(std::function<void()> done);
    void take_tables(common::api::tables_rep t, std::function<void()> done);
    /// Reads gatewayd every 50 ms until a (re)started one has its tables
    /// and connections back, rather than waiting for the next period.
    void kick();
    /// Gives a started gatewayd the nodes' connections and makes it active.
    void restore_connections(std::function<void()> done);
    /// The reset window after a restore, in words: open, off, or NOT open and why.
    std::string window_words(const conn_restore::outcome& o) const;
    /// Whether gatewayd may be made active: always without a pair; with one,
    /// when this gateway is (or is becoming) the active one.
    bool may_forward() const;
    /// What the pair's state machine asks for (pair_state.hpp).
    void on_pair(pair::action a);
    /// gatewayd stops forwarding (a restore that was running when this
    /// gateway was demoted made it active at its end).
    void make_standby(const char* why);
    pair::pair_peer::local pair_local() const;
    /// Lets the manager decide at `now` (moving the adaptive weights if
    /// `step`), sends the changes, then calls `then`.
    void decide(clock::time_point now, bool step, std::function<void()> then = {});
    void decide_once(std::function<void()> done);
    /// Sends every request (the link queues what its window cannot take) and
    /// gives their answers, in order, once all have come.
    void ask_all(std::vector<common::api::request> reqs, std::function<void(std::vector<gw_answer>)> then);
    /// Runs body() every interval(), for as long as the daemon lives.
    void every(boost::asio::steady_timer& timer, std::function<std::chrono::milliseconds()> interval,
               std::function<void()> body);
    void probe_all(std::size_t i);    ///< probe i, every node of its port
    void measure_all(std::size_t i);  ///< user metric i, every node
    void listen_agents();
    /// One agent datagram of `n` bytes in `buf`, from `from`: counted, its
    /// sender heard, its report taken.
    void take_agent_datagram(std::span<const std::uint8_t> buf, const boost::asio::ip::udp::endpoint& from);
    /// Every agent datagram already queued in the socket, taken now.
    void drain_agents();
    /// Alive monitoring's turn: nodes newly silent are marked failed in
    /// gatewayd, nodes heard again unmarked. Takes the queued datagrams
    /// first: a controld that did not run for a while (a loaded machine)
    /// must not judge nodes whose signs of life wait in its socket.
    void check_alive();
    /// A terminator's verdict on its server (agent::upstream): taken only
    /// from a terminator of that server by the spares table.
    void take_upstream(common::ipv4_addr from, const agent::upstream& u);
    /// Marks (or unmarks) a node failed in gatewayd, counting a refusal.
    void mark_failed(common::ipv4_addr node, bool failed);
    /// The spare that stands by for `node` and is not failed itself, if any.
    std::optional<common::ipv4_addr> live_spare_of(common::ipv4_addr node) const;
    /// Carries `node`'s connections on to `spare` (node_restore), then marks it failed.
    void restore_then_fail(common::ipv4_addr node, common::ipv4_addr spare);
    /// restore_then_fail's second step, once the spare has the node's state
    /// (`state`: how that went; nullopt: no state backups).
    void carry_on(common::ipv4_addr node, common::ipv4_addr spare, std::optional<state_backups::handover> state);
    void minute_of_day();
    /// Asks gatewayd what its mirror parser sees of each node, and gives
    /// the alive monitor the nodes silent while their clients retransmit.
    void watch_mirror();
    common::api::manager_rep manager_view() const;
    /// A death of gatewayd up the ladder: decided, logged, recorded on disk,
    /// and its rung's recovery prepared (recovery_plan.hpp). False when
    /// the supervisor must not start gatewayd (PH2.5: controld re-executes).
    /// `restarted`: this controld's own start is the restart of controld
    /// and gatewayd together (the whole instance died): PH2.5 is then done
    /// by starting gatewayd here, not by executing controld again.
    bool escalate(failure kind, const std::string& why, bool restarted = false);
    /// Whether auto-heal can rebuild this gateway elsewhere: a pair with a pool.
    bool has_pool() const;
    /// Kills a gatewayd that has made no progress for supervision.hung_after.
    void watch_hang();
    /// PH2.0: removes the dead gatewayd's EAL runtime directory and hugepage files.
    void clear_eal();
    /// PH2.5: controld's own program again, with its own arguments; on
    /// failure, PH2.0 instead.
    void reexec();
    void save_ladder();
    std::vector<common::ipv4_addr> nodes_of(const service_key& svc) const;
    /// Every node of the tables, the spares gatewayd last had included:
    /// whom a restore asks for its connections (a spare that serves holds
    /// some of a failed node's clients).
    std::vector<common::ipv4_addr> all_nodes() const;

    boost::asio::io_context& _io;
    common::gateway_cfg _cfg;
    options _opt;
    manager _manager;
    std::unique_ptr<supervisor> _supervisor;
    /// A gatewayd of this gateway that answers on the control socket
    /// already (it outlived an earlier controld), or nullopt.
    std::optional<common::api::hello_rep> running_gatewayd() const;
    /// Supervises `running` (running_gatewayd's) instead of starting one;
    /// false: none, or a pair member's orphan, stopped.
    bool adopt_running(const std::optional<common::api::hello_rep>& running);
    /// At start, under supervision: adopts or starts gatewayd, and feeds the
    /// ladder instance_dead when the previous controld ended without a stop
    /// and no gatewayd of it runs.
    void supervise_from_start();
    // With a supervised gatewayd (requirements 8.2): the ladder, its file, and
    // what loading that file found at start.
    std::optional<escalation> _ladder;
    std::optional<escalation_store> _ladder_store;
    std::optional<run_mark> _run_mark;
    std::optional<config_backups> _backups;
    /// The backup of the running configuration, every backup_every.
    void back_up_config();
    /// PH3.0: the configuration file replaced by a backup (or the initial
    /// file); false when none will do.
    bool restore_config();
    /// Where the running configuration came from, for show escalation.
    std::string config_origin(const std::vector<backup_entry>& backups) const;
    escalation_store::source _ladder_from = escalation_store::source::fresh;
    std::vector<std::string> _ladder_problems;
    recovery_plan _plan;  ///< the latest failure's: what the next start of gatewayd gets
    boost::asio::steady_timer _watchdog;
    gw_link _link;
    one_at_a_time _reading, _deciding;
    bool _step_due = false;          ///< a decision asked for with step, not run yet
    clock::time_point _decide_at{};  ///< the time of the latest decision asked for
    std::optional<common::api::tables_rep> _tables;  ///< without the spares (the manager weighs no spare)
    /// A spare in gatewayd's tables at the last reading, per cluster port
    /// (the manager weighs no spare; the restore asks them, Prometheus shows them).
    struct spare_row {
        common::ipv4_addr vip = 0;
        common::l4_proto proto = common::l4_proto::tcp;
        std::uint16_t port = 0;
        common::api::node_view n;
        bool serving = false;  ///< its node is failed: it has the node's weight
    };
    std::vector<spare_row> _spare_rows;
    /// The spares table as gatewayd runs it (the file's until the first
    /// reading): whose terminators may report a server unreachable.
    std::vector<common::spare_cfg> _spare_table;
    bool _alive_check_posted = false;  ///< a terminator's new verdict: check_alive at once
    std::set<common::ipv4_addr> _spares_before;       ///< those of a gatewayd that died, until the restore is done
    std::optional<common::api::stats_rep> _stats;
    bool _resync_due = false;
    std::optional<conn_restore> _restore;  ///< with manager.agents.shadow_port
    std::optional<node_restore> _node_restore;  ///< a failed node's connections to its spare; with _restore
    std::optional<state_backups> _states;       ///< the working nodes' state backups; with _restore
    std::deque<common::api::node_restore_view> _node_restores;  ///< the last ones, oldest first (show restore)
    common::api::restore_rep restore_view() const;
    common::api::state_rep state_view();
    /// The working nodes that have a spare, not failed: node -> spare.
    std::map<common::ipv4_addr, common::ipv4_addr> backed_up_nodes() const;
    bool _restore_due = false;             ///< a started gatewayd waits, as standby, for its connections
    bool _restoring = false;
    bool _kicking = false;
    boost::asio::steady_timer _kick;
    bool _gateway_up = false;
    boost::asio::steady_timer _period;
    std::vector<std::unique_ptr<boost::asio::steady_timer>> _timers;
    std::map<std::pair<std::size_t, common::ipv4_addr>, std::string> _probe_state;  ///< "" ok, else why it failed
    std::optional<agent::receiver> _receiver;
    std::optional<boost::asio::ip::udp::socket> _agents;
    boost::asio::ip::udp::endpoint _agent_from;
    std::array<std::uint8_t, agent::max_datagram + 1> _agent_buf{};
    std::array<std::uint8_t, agent::max_datagram + 1> _drain_buf{};  ///< drain_agents' own, beside the pending receive's
    std::optional<alive_monitor> _alive;  ///< with manager.agents.alive_timeout
    boost::asio::steady_timer _alive_timer;
    boost::asio::steady_timer _mirror_timer;  ///< with manager.agents.mirror_silence
    bool _mirror_asked = false;               ///< a show_mirror_req of the watch is under way
    boost::asio::steady_timer _state_timer;
    std::unique_ptr<gw_health> _health;       ///< with a supervised gatewayd
    std::unique_ptr<pair::pair_peer> _pair;   ///< with manager.pair
    counts _n;
};

}  // namespace cg::control
