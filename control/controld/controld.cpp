#include "control/controld/controld.hpp"

#include <linux/close_range.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "common/config_load.hpp"
#include "common/ctl_client.hpp"
#include "common/duration.hpp"
#include "common/log.hpp"
#include "common/spare_rules.hpp"
#include "control/controld/durable_file.hpp"
#include "control/controld/eal_leftovers.hpp"
#include "control/controld/manager/command_metric.hpp"
#include "control/controld/manager/prober.hpp"
#include "control/controld/manager/prometheus.hpp"
#include "control/controld/table_sync.hpp"

namespace cg::control {

namespace asio = boost::asio;
namespace capi = common::api;
namespace log = common::log;
using common::ipv4_addr;

namespace {

std::uint64_t wall_ms() { return static_cast<std::uint64_t>(wall_now().time_since_epoch().count()); }

/// Requests that change gatewayd's cluster tables.
template <class T>
constexpr bool changes_tables =
    std::is_same_v<T, capi::add_cluster_req> || std::is_same_v<T, capi::del_cluster_req> ||
    std::is_same_v<T, capi::add_port_req> || std::is_same_v<T, capi::del_port_req> ||
    std::is_same_v<T, capi::add_node_req> || std::is_same_v<T, capi::del_node_req> ||
    std::is_same_v<T, capi::set_node_req> || std::is_same_v<T, capi::reload_req> ||
    std::is_same_v<T, capi::set_spares_req>;

bool power_of_two(std::uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

std::string_view mode_name(node_mode m) {
    switch (m) {
        case node_mode::quiesced: return "quiesced";
        case node_mode::fixed: return "fixed";
        case node_mode::blocked: return "blocked";
        default: return "adaptive";
    }
}

service_key probe_service(const common::probe_cfg& p) {
    return {p.cluster, p.protocol, p.port};
}

}  // namespace

void one_at_a_time::run(std::function<void()> then) {
    if (then) _waiting.push_back(std::move(then));
    _again = true;
    if (!_running) start();
}

void one_at_a_time::start() {
    _running = true;
    _again = false;
    _task([this, waiting = std::exchange(_waiting, {})] {
        _running = false;
        for (const auto& w : waiting) w();
        if (_again && !_running) start();
    });
}

controld::controld(asio::io_context& io, common::gateway_cfg cfg, options opt)
    : _io(io),
      _cfg(std::move(cfg)),
      _opt(std::move(opt)),
      _manager(_cfg.manager, clock::now()),
      _watchdog(io),
      _link(io, {_cfg.control_socket}),
      _reading([this](std::function<void()> done) { read_once(std::move(done)); }),
      _deciding([this](std::function<void()> done) { decide_once(std::move(done)); }),
      _kick(io),
      _period(io),
      _alive_timer(io),
      _mirror_timer(io),
      _state_timer(io) {
    _spare_table = _cfg.spares;
    if (const auto& a = _cfg.manager.agents) {
        _receiver.emplace(agent::load_key(a->key_file), static_cast<std::uint64_t>(a->max_skew.count()));
        // The file's nodes from the start, so that their agents are heard
        // before the first reading of gatewayd's tables (after a PH2.5 too);
        // nodes added at run time come with the readings.
        for (ipv4_addr n : common::node_addresses(_cfg.clusters)) _receiver->allow(n);
        for (ipv4_addr t : common::terminator_addresses(_cfg.spares)) _receiver->allow(t);
        const auto at = common::parse_endpoint(a->listen);
        if (!at) throw std::runtime_error("manager.agents.listen: not address:port");
        const asio::ip::udp::endpoint ep(asio::ip::address_v4(at->address), at->port);
        boost::system::error_code ec;
        _agents.emplace(io);
        _agents->open(ep.protocol(), ec);
        if (!ec) _agents->bind(ep, ec);
        if (!ec) _agents->non_blocking(true, ec);  // drain_agents reads until it would block
        if (ec) throw std::runtime_error(fmt::format("agent reports on {}: {}", a->listen, ec.message()));
        if (a->alive_timeout.count() > 0) _alive.emplace(a->alive_timeout);
    }
    if (_cfg.manager.agents && _cfg.manager.agents->shadow_port && _opt.supervise) {
        const auto& a = *_cfg.manager.agents;
        _restore.emplace(io, _link,
                         conn_restore::options{agent::load_key(a.key_file), common::parse_endpoint(a.listen)->address,
                                               *a.shadow_port, a.shadow_deadline, a.reset_window});
        _node_restore.emplace(io, _link, *_restore, a.shadow_deadline);
    }
    if (const auto& b = _cfg.manager.state_backups) {
        if (!_restore) throw std::runtime_error("manager.state_backups needs manager.agents.shadow_port and a supervised gatewayd");
        _states.emplace(io, *_restore, *b);
    }
    if (_cfg.manager.pair) {
        if (!_restore) throw std::runtime_error("manager.pair needs manager.agents.shadow_port and a supervised gatewayd");
        const auto& p = *_cfg.manager.pair;
        _health = std::make_unique<gw_health>(io, _cfg.control_socket, p.interval, p.dead_time);
        _pair = std::make_unique<pair::pair_peer>(io, p, [this] { return pair_local(); },
                                                  [this](pair::action a) { on_pair(a); });
    }
    if (_opt.supervise) {
        // The pair's questions, at its interval, give its heartbeats the
        // health of its dead time; without one, a few per hung_after. The
        // watchdog's deadline is hung_after either way.
        const auto& s = _cfg.supervision;
        if (!_health)
            _health = std::make_unique<gw_health>(io, _cfg.control_socket,
                                                  std::max(s.hung_after / 4, std::chrono::milliseconds(10)), s.hung_after);
        // A bad or missing file is never fatal: the problems are said, and the ladder starts afresh.
        _ladder_store.emplace(_cfg.supervision.store);
        auto loaded = _ladder_store->load();
        for (const auto& p : loaded.problems) log::warn("escalation: {}", p);
        _ladder_from = loaded.from;
        _ladder_problems = std::move(loaded.problems);
        _ladder.emplace(_cfg.supervision, std::move(loaded.state));
        _run_mark.emplace(_cfg.supervision.store + ".running");
        _backups.emplace(_opt.backups_dir, _cfg.supervision.backups_kept);
        log::info("escalation: counts from {} ({}); the ladder stands at {}", source_name(_ladder_from),
                  _ladder_store->path(), rung_name(_ladder->state().reached));
        std::vector<std::string> argv{_opt.gatewayd, "-c", _opt.config_path};
        if (_restore) argv.insert(argv.end(), {"--role", "standby"});  // active once its connections are back
        // In a pair, a gatewayd that outlives its controld must stop forwarding: the peer takes over.
        if (_cfg.manager.pair) argv.emplace_back("--fence");
        argv.insert(argv.end(), _opt.gatewayd_args.begin(), _opt.gatewayd_args.end());
        _supervisor = std::make_unique<supervisor>(
            io, std::move(argv),
            [this](pid_t) {
                _link.reset("gatewayd was started again");
                _health->restarted();
                _resync_due = _tables.has_value();
                _restore_due = _restore.has_value();
                kick();
            },
            [this](failure kind, const std::string& why) {
                ++_n.gateway_deaths;
                _gateway_up = false;
                for (const auto& r : _spare_rows) _spares_before.insert(r.n.address);  // asked at the restore too
                _health->restarted();
                _link.reset("gatewayd " + why);
                return escalate(kind, why);
            });
    }
}

controld::~controld() {
    // A stop in order (its gatewayd is stopped with it): the next start is not a dead instance's.
    if (_run_mark)
        if (const auto err = _run_mark->clear()) log::error("escalation: {}", *err);
}

std::optional<capi::hello_rep> controld::running_gatewayd() const {
    try {
        capi::ctl_client c(_cfg.control_socket, std::chrono::milliseconds(500));
        auto rep = c.call(capi::hello_req{});
        auto* h = std::get_if<capi::hello_rep>(&rep);
        if (!h || h->pid == 0 || h->gateway != _cfg.name) return std::nullopt;
        std::ifstream comm(fmt::format("/proc/{}/comm", h->pid));
        std::string name;
        if (!(comm >> name) || name != "gatewayd") return std::nullopt;  // a pid of another namespace, or gone
        return std::move(*h);
    } catch (const std::exception&) {
        return std::nullopt;  // nobody answers: the usual start
    }
}

bool controld::adopt_running(const std::optional<capi::hello_rep>& hello) {
    if (!hello) return false;
    const std::optional<pid_t> pid = static_cast<pid_t>(hello->pid);
    if (_pair) {
        // A pair member starts as the standby and takes its connections
        // from the nodes: an orphan (standby by its --fence, or started
        // without it) is stopped first.
        log::warn("gatewayd (pid {}) still runs from an earlier controld: stopped, for a pair member starts standby",
                  *pid);
        // Its end seen through a pidfd: kill(pid, 0) would still find it as a
        // zombie when init is slow to reap, or never does.
        const int fd = static_cast<int>(::syscall(SYS_pidfd_open, *pid, 0));
        ::kill(*pid, SIGKILL);
        if (fd >= 0) {
            pollfd ended{fd, POLLIN, 0};
            ::poll(&ended, 1, 5000);
            ::close(fd);
        }
        return false;
    }
    if (!_supervisor->adopt(*pid)) return false;
    ++_n.gateway_adoptions;
    // It has its tables and its connections: nothing to give back. A
    // standby one (its restore was cut short) gets its connections first.
    _resync_due = false;
    _restore_due = _restore.has_value() && hello->role == "standby";
    log::info("gatewayd (pid {}) carried on while no controld ran: adopted, its tables and connections kept{}", *pid,
              _restore_due ? "; it is standby: its connections are restored before it forwards" : "");
    kick();
    return true;
}

void controld::supervise_from_start() {
    const auto running = running_gatewayd();
    const std::optional<std::string> before = _run_mark->previous();
    if (const auto err = _run_mark->set(::getpid(), wall_now())) log::error("escalation: {}", *err);
    if (before) {
        ++_n.unclean_starts;
        log::warn("escalation: the previous controld ended without a stop ({}; mark {}){}", *before, _run_mark->path(),
                  running ? ": its gatewayd runs on" : "");
    }
    if (adopt_running(running)) return;
    // Neither controld nor a gatewayd of it survived: the whole instance
    // died (killed together, a crash, a reboot or a power cut). The short
    // cut: PH2.5 at least, and this start is that restart.
    if (before && !running &&
        !escalate(failure::instance_dead,
                  fmt::format("controld ({}) ended without a stop, and no gatewayd of it runs", *before), true))
        return;
    _supervisor->start();
}

void controld::start() {
    if (_supervisor) supervise_from_start();
    // Intervals are read at each turn: `manager set` changes them at run time.
    for (std::size_t i = 0; i < _cfg.manager.probes.size(); ++i)
        every(*_timers.emplace_back(std::make_unique<asio::steady_timer>(_io)),
              [this, i] { return _manager.config().probes[i].interval; }, [this, i] { probe_all(i); });
    for (std::size_t i = 0; i < _cfg.manager.metrics.size(); ++i)
        every(*_timers.emplace_back(std::make_unique<asio::steady_timer>(_io)),
              [this, i] { return _manager.config().metrics[i].interval; }, [this, i] { measure_all(i); });
    if (_agents) listen_agents();
    if (_alive)
        every(_alive_timer, [this] { return std::max(std::chrono::milliseconds(5), _alive->timeout() / 5); },
              [this] { check_alive(); });
    if (_alive && _cfg.manager.agents->mirror_silence.count() > 0)
        every(_mirror_timer,
              [this] { return std::max(std::chrono::milliseconds(10), _cfg.manager.agents->mirror_silence / 4); },
              [this] { watch_mirror(); });
    if (_health) {
        _health->start();
        const auto tick = std::max(_cfg.supervision.hung_after / 10, std::chrono::milliseconds(10));
        every(_watchdog, [tick] { return tick; }, [this] { watch_hang(); });
    }
    if (_pair) _pair->start();
    if (_states)
        every(_state_timer, [this] { return _states->config().every; },
              [this] { _states->round(backed_up_nodes()); });
    if (_backups && _cfg.supervision.backup_every.count() > 0)
        every(*_timers.emplace_back(std::make_unique<asio::steady_timer>(_io)),
              [this] { return _cfg.supervision.backup_every; }, [this] { back_up_config(); });
    period();
}

// ---- the period: read, decide, send (requirements 4.1, 4.7) ------------------------

void controld::period() {
    const auto now = clock::now();
    ++_n.periods;
    if (_ladder && _ladder->tick(wall_now())) {
        log::info("escalation: gatewayd has been up for {}: the counts are cleared, the next failure starts at PH0.5",
                  common::format_duration(_ladder->config().healthy_after));
        save_ladder();
    }
    minute_of_day();
    read_gateway([this, now] {
        auto next = [this] {
            _period.expires_after(_manager.config().period);
            _period.async_wait([this](const boost::system::error_code& ec) {
                if (!ec) period();
            });
        };
        if (_gateway_up)
            decide(now, true, next);
        else
            next();
    });
}

void controld::minute_of_day() {
    const std::time_t t = std::time(nullptr);
    std::tm local{};
    ::localtime_r(&t, &local);
    _manager.set_time_of_day(static_cast<unsigned>(local.tm_hour * 60 + local.tm_min));
}

void controld::ask_all(std::vector<capi::request> reqs, std::function<void(std::vector<gw_answer>)> then) {
    if (reqs.empty()) return then({});
    struct batch {
        std::vector<gw_answer> answers;
        std::size_t left;
        std::function<void(std::vector<gw_answer>)> then;
    };
    auto b = std::make_shared<batch>(batch{std::vector<gw_answer>(reqs.size()), reqs.size(), std::move(then)});
    for (std::size_t i = 0; i < reqs.size(); ++i)
        _link.ask(std::move(reqs[i]), [b, i](gw_answer a) {
            b->answers[i] = std::move(a);
            if (--b->left == 0) b->then(std::move(b->answers));
        });
}

void controld::read_gateway(std::function<void()> then) { _reading.run(std::move(then)); }

void controld::read_once(std::function<void()> done) {
    _link.ask(capi::show_tables_req{}, [this, done = std::move(done)](gw_answer a) mutable {
        const auto* tables = a.as<capi::tables_rep>();
        if (!tables) {
            if (_gateway_up) log::warn("gatewayd does not answer on {}: {}", _cfg.control_socket, a.why);
            _gateway_up = false;
            ++_n.readings_failed;
            return done();
        }
        if (!_resync_due || !_tables) return take_tables(std::get<capi::tables_rep>(std::move(*a.reply)), std::move(done));
        // PH1.0 and wider rebuild every table whole (recovery_plan.hpp).
        const bool whole = _plan.rebuild_tables;
        const capi::tables_rep have = without_spares(*tables);
        auto ops = whole ? rebuild(*_tables, have) : resync(*_tables, have);
        if (_alive)
            for (ipv4_addr n : _alive->failed()) ops.push_back(capi::fail_node_req{n, true});
        const std::size_t count = ops.size();
        ask_all(std::move(ops), [this, count, whole, done = std::move(done)](std::vector<gw_answer> answers) mutable {
            const auto failed = std::count_if(answers.begin(), answers.end(),
                                              [](const gw_answer& r) { return !r.as<capi::ok_rep>(); });
            ++_n.resyncs;
            _n.resync_requests += count;
            if (whole) ++_n.rebuilds;
            log::info("gatewayd restarted: {} requests {} ({} refused)", count,
                      whole ? "rebuilt every table from the running configuration" : "gave it back its tables", failed);
            _link.ask(capi::show_tables_req{}, [this, done = std::move(done)](gw_answer again) mutable {
                if (!again.as<capi::tables_rep>()) return done();  // tried again next period
                take_tables(std::get<capi::tables_rep>(std::move(*again.reply)), std::move(done));
            });
        });
    });
}

void controld::take_tables(capi::tables_rep t, std::function<void()> done) {
    const auto now = clock::now();
    _resync_due = false;
    if (!_gateway_up) {
        log::info("gatewayd answers on {}", _cfg.control_socket);
        if (_ladder && _ladder->up(wall_now())) save_ladder();  // the latest recovery's outcome
    }
    _gateway_up = true;
    _spare_rows.clear();
    for (const auto& c : t.clusters)
        for (const auto& s : c.ports)
            for (const auto& n : s.nodes) {
                if (n.spare_for == 0) continue;
                const bool serving = std::any_of(s.nodes.begin(), s.nodes.end(), [&](const capi::node_view& w) {
                    return w.address == n.spare_for && w.failed;
                });
                _spare_rows.push_back({c.vip, s.proto, s.port, n, serving});
            }
    _spare_table.clear();
    for (const capi::spare_rule& r : t.spares) _spare_table.push_back(common::cfg_of(r));
    _tables = without_spares(std::move(t));
    _manager.observe_tables(*_tables, now);
    if (_receiver) {
        for (ipv4_addr n : all_nodes()) _receiver->allow(n);
        for (ipv4_addr n : common::terminator_addresses(_spare_table)) _receiver->allow(n);
    }
    _link.ask(capi::show_stats_req{}, [this, done = std::move(done)](gw_answer s) mutable {
        if (const auto* stats = s.as<capi::stats_rep>()) _stats = *stats;
        if (!_restore_due || _restoring || !may_forward()) return done();
        restore_connections(std::move(done));
    });
}

void controld::kick() {
    if (_kicking) return;
    _kicking = true;
    _kick.expires_after(std::chrono::milliseconds(50));
    _kick.async_wait([this](const boost::system::error_code& ec) {
        if (ec) return;
        read_gateway([this] {
            _kicking = false;
            if (_supervisor && _supervisor->pid() > 0 && (_resync_due || (_restore_due && may_forward()) || !_gateway_up))
                kick();
        });
    });
}

std::string controld::window_words(const conn_restore::outcome& o) const {
    if (!o.no_window.empty()) return "NOT open: " + o.no_window;
    if (!_cfg.manager.agents || _cfg.manager.agents->reset_window.count() == 0) return "off";
    return "open";
}

void controld::restore_connections(std::function<void()> done) {
    _restore_due = false;
    _restoring = true;
    std::vector<ipv4_addr> clusters;
    for (const auto& c : _tables->clusters) clusters.push_back(c.vip);
    // A planned handover: the old active forwards until it hears this one
    // is active; a dead time later it has stopped, and a second query finds
    // what it made meanwhile.
    std::optional<conn_restore::catch_up> later;
    // A backup that takes over has followed the active's mirror: its table
    // is hot (a gatewayd started again has an empty one).
    const bool hot = _pair && _cfg.mirror && _pair->state().current() == pair::role::taking_over;
    if (_pair && (_pair->state().planned() || hot))
        later = conn_restore::catch_up{
            _pair->state().planned() ? _cfg.manager.pair->dead_time : std::chrono::milliseconds(0),
            [this, hot](conn_restore::outcome o) {
                _restoring = false;
                if (!may_forward()) make_standby("demoted while it caught up");
                const auto& c = o.caught_up;
                if (hot) {
                    _n.restored_conns += c.inserted + c.replaced;
                    _n.restore_nodes_failed += o.failures.size();
                    _n.last_restore_query_ms = static_cast<std::uint64_t>(o.queried.count());
                    for (const auto& f : o.failures) log::warn("no shadow table from {}: presumed down", f);
                }
                log::info("{}: {} connections added, {} moved to the node that holds them, from {} of {} nodes; reset "
                          "window {}",
                          hot ? "reconciled the followed table with the nodes" : "caught up after the handover",
                          c.inserted, c.replaced, o.answered, o.nodes, window_words(o));
            },
            hot};
    const bool catching_up = later.has_value();
    _restore->run(
        all_nodes(), std::move(clusters),
        [this, catching_up, done = std::move(done)](conn_restore::outcome o) {
            _restoring = catching_up && o.active;
            ++_n.restores;
            _n.restored_conns += o.inserted.inserted + o.inserted.replaced;
            _n.restore_nodes_failed += o.failures.size();
            _n.last_restore_ms = static_cast<std::uint64_t>(o.took.count());
            _n.last_restore_query_ms = static_cast<std::uint64_t>(o.queried.count());
            const auto& i = o.inserted;
            log::info("gatewayd started: {} connections put back ({} new, {} replaced) from {} of {} nodes ({} sockets) "
                      "in {} ms ({} ms the nodes' answers); refused: {} without their port, {} without their node, {} table full; {}; "
                      "reset window {}",
                      i.inserted + i.replaced, i.inserted, i.replaced, o.answered, o.nodes, o.sockets, o.took.count(),
                      o.queried.count(), i.no_service, i.no_node, i.full, o.active ? "active" : "NOT active: " + o.why_not_active,
                      window_words(o));
            for (const auto& f : o.failures) log::warn("no shadow table from {}: presumed down", f);
            if (o.inserts_failed) log::warn("{} bulk inserts failed", o.inserts_failed);
            if (!o.active) _restore_due = true;  // tried again at the next reading
            if (o.active) _spares_before.clear();
            if (_pair) _pair->taken_over(o.active);
            if (o.active && !may_forward()) make_standby("demoted while its connections were put back");
            done();
        },
        std::move(later));
}

bool controld::has_pool() const { return _pair && !_cfg.manager.pair->pool.empty(); }

bool controld::may_forward() const { return !_pair || _pair->state().may_forward(); }

pair::pair_peer::local controld::pair_local() const {
    const auto now = pair::clock::now();
    const bool running = _supervisor && _supervisor->pid() > 0;
    std::uint64_t conns = 0;
    if (_stats)
        for (const auto& l : _stats->lcores) conns += l.conns;
    return {_health->at(now, running), _health->why(now, running), conns};
}

void controld::on_pair(pair::action a) {
    if (a == pair::action::take_over) {
        // Fence, query, merge, insert, go active (requirements 5.3): the epoch went
        // out with the last heartbeat; the rest is the restore's, at once
        // (kick() waits its 50 ms first, and reads again after).
        _restore_due = true;
        read_gateway();
        kick();
        return;
    }
    // Demoted: gatewayd stops forwarding at once, and needs the cluster's
    // connections again before it may ever forward.
    _restore_due = true;
    make_standby("demoted");
}

// ---- supervision: the escalation ladder (requirements 8.2) ---------------------------

bool controld::escalate(failure kind, const std::string& why, bool restarted) {
    const decision d = _ladder->failed(kind, why, wall_now());
    _plan = plan_for(d.r, has_pool());
    if (_plan.from_backup && !restore_config()) _plan = plan_for(rung::ph2_5);
    if (_plan.elsewhere && !_pair->leave_for_pool(why)) {
        log::warn("escalation: auto-heal: no pool host other than the peer: PH2.0 instead");
        _plan = plan_for(rung::ph2_0);
    }
    _ladder->applied(_plan.applied);
    const std::string_view who = kind == failure::instance_dead ? "the whole instance died" : "gatewayd";
    if (_plan.applied == d.r) {
        log::warn("escalation: {} {}: {}, {} ({})", who, why, rung_name(d.r), rung_action(d.r), d.why);
    } else {
        // Said as it is: the ladder's rung is shown everywhere, and what was done instead.
        log::warn("escalation: {} {}: the ladder decides {} ({}); {} ({}) is not implemented yet: {} instead, {}",
                  who, why, rung_name(d.r), d.why, rung_name(d.r), rung_action(d.r), rung_name(_plan.applied),
                  rung_action(_plan.applied));
    }
    if (_plan.fresh_eal) clear_eal();
    save_ladder();
    if (_plan.elsewhere) return false;  // gatewayd stays down here: its instance is rebuilt on the pool host
    if (!_plan.restart_controld) return true;
    if (restarted && !_plan.from_backup) {
        log::info("escalation: {}: this start of controld is that restart; it starts gatewayd", rung_name(_plan.applied));
        return true;
    }
    asio::post(_io, [this] { reexec(); });  // after the supervisor's handler has returned
    return false;
}

void controld::watch_hang() {
    const auto now = clock::now();
    const auto stalled = _health->stalled(now);
    if (_supervisor->pid() <= 0 || !stalled || *stalled < _cfg.supervision.hung_after) return;
    const std::string why =
        fmt::format("hung: no progress for {} ms ({})", stalled->count(), _health->why(now, true));
    log::warn("gatewayd (pid {}) {}: SIGKILL", _supervisor->pid(), why);
    _supervisor->kill_as(failure::hung, why);
}

void controld::clear_eal() {
    std::ifstream f("/proc/mounts");
    std::stringstream mounts;
    mounts << f.rdbuf();
    const std::string prefix = common::eal_file_prefix(_cfg);
    const eal_removal r = remove_eal_leftovers(prefix, eal_runtime_root(), hugetlbfs_mounts(mounts.str()));
    ++_n.eal_resets;
    _n.eal_files_removed += r.runtime_files + r.hugepage_files;
    _n.eal_remove_errors += r.errors.size();
    log::info("escalation: EAL from scratch: removed {}/{} ({} files) and {} hugepage files of prefix {}",
              eal_runtime_root(), prefix, r.runtime_files, r.hugepage_files, prefix);
    for (const auto& e : r.errors) log::warn("escalation: EAL files not removed: {}", e);
}

void controld::reexec() {
    std::vector<std::string> argv = _opt.self_argv;
    std::vector<char*> args;
    for (auto& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    if (!argv.empty()) {
        log::warn("escalation: PH2.5: controld executes itself again; the new one starts gatewayd");
        // The new controld binds the same sockets: none of ours may stay open.
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        // The ladder counted this restart: the new controld's start is not a dead instance's.
        if (const auto err = _run_mark->clear()) log::error("escalation: {}", *err);
        ::execv("/proc/self/exe", args.data());
        if (const auto err = _run_mark->set(::getpid(), wall_now())) log::error("escalation: {}", *err);
    }
    const std::string err = argv.empty() ? "no arguments of its own known" : std::strerror(errno);
    log::error("escalation: PH2.5: controld cannot execute itself again ({}): PH2.0 instead", err);
    _plan = plan_for(rung::ph2_0);
    _ladder->applied(_plan.applied);
    save_ladder();
    _supervisor->start_again();
}

void controld::back_up_config() {
    if (!_gateway_up) return;  // a file gatewayd does not run with is no good backup
    const auto before = _backups->counters().saved;
    if (const auto err = _backups->save(_opt.config_text, wall_now())) {
        if (power_of_two(_backups->counters().write_errors))
            log::error("configuration not backed up ({} failed backups so far): {}", _backups->counters().write_errors,
                       *err);
    } else if (_backups->counters().saved != before) {
        log::info("configuration backed up in {} ({} bytes)", _backups->dir(), _opt.config_text.size());
    }
}

bool controld::restore_config() {
    const std::string& path = _opt.config_path;
    std::string unreadable;  // then no backup is "the same as the current file"
    const std::string current = read_text(path, config_backup_max, unreadable);
    std::vector<std::string> skipped;
    const auto loads = [&](const std::string& yaml) { return common::parse_config(yaml, path).ok(); };
    const auto choice = _backups->choose(current, _opt.initial_config, loads, skipped);
    for (const auto& s : skipped) log::warn("escalation: PH3.0: passed over {}", s);
    if (!choice) {
        log::error("escalation: PH3.0: no backup nor initial file ({}) differs from {} and loads: PH2.5 instead, "
                   "from the current file",
                   _opt.initial_config, path);
        return false;
    }
    if (const auto err = install_config(path, choice->yaml)) {
        log::error("escalation: PH3.0: {} not installed as {}: {}: PH2.5 instead", choice->what, path, *err);
        return false;
    }
    ++_n.config_restores;
    log::warn("escalation: PH3.0: {} replaced by {} (the file it replaced kept as {}.replaced)", path, choice->what,
              path);
    return true;
}

void controld::save_ladder() {
    if (const auto err = _ladder_store->save(_ladder->state()))
        if (power_of_two(_ladder_store->counters().write_errors))
            log::error("escalation: counts not saved ({} failed saves so far), kept in memory only: {}",
                       _ladder_store->counters().write_errors, *err);
}

std::string controld::config_origin(const std::vector<backup_entry>& backups) const {
    if (!_opt.config_restored.empty()) return fmt::format("{}: {}", _opt.config_path, _opt.config_restored);
    for (const auto& e : backups) {
        if (!e.good() || e.bytes != _opt.config_text.size()) continue;
        std::string why;
        if (const auto c = _backups->read(e, why); c && c->yaml == _opt.config_text)
            return fmt::format("{}, as loaded at start: the same as backup {} (saved {})", _opt.config_path, e.seq,
                               format_wall(e.saved));
    }
    return fmt::format("{}, as loaded at start: not backed up yet", _opt.config_path);
}

capi::escalation_rep controld::escalation_view() const {
    const wall_time now = wall_now();
    const escalation& l = *_ladder;
    const escalation_state& s = l.state();
    capi::escalation_rep v;
    v.reached = rung_name(s.reached);
    const decision next = l.next(now);
    v.next_rung = rung_name(next.r);
    v.next_why = next.why;
    v.store = _ladder_store->path();
    v.loaded_from = source_name(_ladder_from);
    v.store_problems = _ladder_problems;
    if (!_ladder_store->last_error().empty()) v.store_problems.push_back("latest save: " + _ladder_store->last_error());
    v.healthy_after_ms = static_cast<std::uint64_t>(l.config().healthy_after.count());
    if (const auto since = l.up_since())
        v.up_ms = static_cast<std::uint64_t>(std::max<std::int64_t>(0, (now - *since).count()));
    for (std::size_t i = 0; i < rung_count; ++i) {
        const auto r = static_cast<rung>(i);
        capi::escalation_rung x{std::string(rung_name(r)), std::string(rung_action(r)), rung_implemented(r, has_pool())};
        x.instead = rung_name(plan_for(r, has_pool()).applied);
        if (r != rung::auto_heal) {
            x.limit = l.config().ladder[i].failures;
            x.window_ms = static_cast<std::uint64_t>(l.config().ladder[i].window.count());
            x.used = l.used(r, now);
        }
        x.total = s.decided[i];
        v.rungs.push_back(std::move(x));
    }
    for (const recovery& h : s.history)
        v.history.push_back({static_cast<std::uint64_t>(h.at.time_since_epoch().count()), std::string(failure_name(h.kind)),
                             h.detail, std::string(rung_name(h.decided)), std::string(rung_name(h.applied)),
                             std::string(outcome_name(h.result)), static_cast<std::uint64_t>(h.took.count())});
    auto count = [&](std::string name, std::uint64_t value) { v.counters.push_back({std::move(name), value}); };
    for (std::size_t i = 0; i < failure_count; ++i)
        count(fmt::format("failures_{}", failure_name(static_cast<failure>(i))), s.failures[i]);
    for (std::size_t i = 0; i < rung_count; ++i)
        count(fmt::format("decided_{}", rung_key(static_cast<rung>(i))), s.decided[i]);
    count("fallbacks", s.fallbacks);
    count("clears", s.clears);
    const auto& n = _ladder_store->counters();
    count("store_writes", n.writes);
    count("store_write_errors", n.write_errors);
    count("store_bad_current", n.bad_current);
    count("store_bad_previous", n.bad_previous);
    count("eal_resets", _n.eal_resets);
    count("eal_files_removed", _n.eal_files_removed);
    count("eal_remove_errors", _n.eal_remove_errors);
    const auto& b = _backups->counters();
    count("backups_saved", b.saved);
    count("backup_errors", b.write_errors);
    count("backups_bad", b.bad_found);
    count("backups_removed", b.removed);
    count("config_restores", _n.config_restores);
    const auto backups = _backups->list();
    for (const auto& e : backups)
        v.backups.push_back({e.seq, static_cast<std::uint64_t>(e.saved.time_since_epoch().count()), e.bytes, e.problem});
    v.backups_dir = _backups->dir();
    v.backup_every_ms = static_cast<std::uint64_t>(_cfg.supervision.backup_every.count());
    v.backups_kept = _cfg.supervision.backups_kept;
    v.config = config_origin(backups);
    return v;
}

void controld::make_standby(const char* why) {
    _link.ask(capi::set_role_req{"standby", 0}, [why](gw_answer a) {
        if (!a.as<capi::ok_rep>()) log::warn("pair: gatewayd not made standby ({}): {}", why, a.why);
    });
}

void controld::decide(clock::time_point now, bool step, std::function<void()> then) {
    _step_due = _step_due || step;
    _decide_at = now;
    _deciding.run(std::move(then));
}

void controld::decide_once(std::function<void()> done) {
    const auto changes = _manager.compute(_decide_at, std::exchange(_step_due, false));
    if (changes.empty()) return done();
    std::vector<capi::request> reqs;
    for (const weight_change& c : changes)
        reqs.push_back(capi::set_node_req{c.svc, c.node, c.weight, std::nullopt});
    ask_all(std::move(reqs), [this, changes, done = std::move(done)](std::vector<gw_answer> answers) {
        std::vector<weight_change> taken;
        std::string said;
        for (std::size_t i = 0; i < changes.size(); ++i) {
            if (answers[i].as<capi::ok_rep>()) {
                taken.push_back(changes[i]);
                said += fmt::format(" {}={}", common::format_ipv4(changes[i].node), changes[i].weight);
            } else {
                ++_n.push_errors;
            }
        }
        _manager.sent(taken);
        if (!taken.empty()) {
            ++_n.pushes;
            _n.weights_sent += taken.size();
            log::info("weights sent:{}", said);
        }
        done();
    });
}

// ---- measurements between periods --------------------------------------------

std::vector<ipv4_addr> controld::nodes_of(const service_key& svc) const {
    std::vector<ipv4_addr> out;
    for (const auto& s : _manager.view(clock::now()))
        if (s.svc == svc)
            for (const auto& n : s.nodes) out.push_back(n.node);
    return out;
}

std::vector<ipv4_addr> controld::all_nodes() const {
    std::set<ipv4_addr> all = _spares_before;
    for (const auto& r : _spare_rows) all.insert(r.n.address);
    for (const auto& s : _manager.view(clock::now()))
        for (const auto& n : s.nodes) all.insert(n.node);
    return {all.begin(), all.end()};
}

void controld::every(asio::steady_timer& timer, std::function<std::chrono::milliseconds()> interval,
                     std::function<void()> body) {
    timer.expires_after(interval());
    timer.async_wait([this, &timer, interval = std::move(interval), body = std::move(body)](
                         const boost::system::error_code& ec) mutable {
        if (ec) return;
        body();
        every(timer, std::move(interval), std::move(body));
    });
}

void controld::probe_all(std::size_t i) {
    const common::probe_cfg p = _manager.config().probes[i];
    const service_key svc = probe_service(p);
    for (ipv4_addr node : nodes_of(svc)) {
        run_probe(_io, p, node, [this, i, svc, node](probe_outcome o) {
            o.ms ? ++_n.probes_ok : ++_n.probes_failed;
            _manager.probe_result(svc, node, o.ms);
            std::string& state = _probe_state[{i, node}];
            const bool changed = state.empty() != o.ms.has_value();  // "" = answering
            state = o.ms ? "" : o.why;
            if (!changed) return;
            if (o.ms)
                log::info("probe {} of {}: answers again ({:.1f} ms)", i, common::format_ipv4(node), *o.ms);
            else
                log::warn("probe {} of {} {}: {}; no new connections until it answers", i, common::format_ipv4(node),
                          format_service(svc), o.why);
            decide(clock::now(), false);
        });
    }
}

void controld::measure_all(std::size_t i) {
    const common::user_metric_cfg u = _manager.config().metrics[i];
    for (ipv4_addr node : all_nodes()) {
        run_command_metric(_io, expand_command(u.command, node), u.timeout,
                           [this, i, node, name = u.name](command_outcome o) {
                               _manager.user_metric(i, node, o.value);
                               if (o.value) {
                                   ++_n.metrics_ok;
                               } else if (power_of_two(++_n.metrics_failed)) {
                                   log::warn("metric {} of {}: {} ({} failures so far)", name,
                                             common::format_ipv4(node), o.why, _n.metrics_failed);
                               }
                           });
    }
}

void controld::listen_agents() {
    _agents->async_receive_from(asio::buffer(_agent_buf), _agent_from, [this](const boost::system::error_code& ec,
                                                                              std::size_t n) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec)
            take_agent_datagram(std::span(_agent_buf).first(n), _agent_from);
        else
            ++_n.agent_errors;
        listen_agents();
    });
}

void controld::take_agent_datagram(std::span<const std::uint8_t> buf, const asio::ip::udp::endpoint& from_ep) {
    const ipv4_addr from = from_ep.address().is_v4() ? from_ep.address().to_v4().to_uint() : 0;
    auto r = _receiver->accept(buf, from, wall_ms());
    if (auto* e = std::get_if<agent::envelope>(&r)) {
        if (_alive) _alive->heard(e->sender, clock::now());
        if (auto* h = std::get_if<agent::host_report>(&e->body)) {
            _manager.host_report(e->sender, *h, clock::now());
            decide(clock::now(), false);  // a node that had gone stale is back
        } else if (auto* u = std::get_if<agent::upstream>(&e->body)) {
            take_upstream(e->sender, *u);
        }
    } else {
        const auto& why = std::get<agent::refused>(r);
        if (power_of_two(_receiver->count(why.why)))
            log::warn("agent datagram from {} refused: {}: {} ({} so far)", from_ep.address().to_string(),
                      agent::refusal_name(why.why), why.detail, _receiver->count(why.why));
    }
}

void controld::drain_agents() {
    asio::ip::udp::endpoint from;
    for (;;) {
        boost::system::error_code ec;
        const std::size_t n = _agents->receive_from(asio::buffer(_drain_buf), from, 0, ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again) return;
        if (ec) {
            ++_n.agent_errors;
            return;
        }
        ++_n.agent_drained;
        take_agent_datagram(std::span(_drain_buf).first(n), from);
    }
}

void controld::take_upstream(ipv4_addr from, const agent::upstream& u) {
    const auto terms = common::terminators_of(_spare_table, u.server);
    if (std::find(terms.begin(), terms.end(), from) == terms.end()) {
        if (power_of_two(++_n.upstream_refused))
            log::warn("upstream report from {} on {} refused: it is not a terminator of that node by the spares "
                      "table ({} so far)", common::format_ipv4(from), common::format_ipv4(u.server), _n.upstream_refused);
        return;
    }
    ++_n.upstream_reports;
    if (!u.reachable) ++_n.upstream_unreachable;
    if (!_alive) return;  // docs/operations.md: a report needs the alive monitoring
    _alive->reported(from, u.server, !u.reachable, clock::now());
    // A new verdict is acted on at once, not at the monitor's next turn.
    if (u.reachable == _alive->failed().contains(u.server) && !_alive_check_posted) {
        _alive_check_posted = true;
        asio::post(_io, [this] {
            _alive_check_posted = false;
            check_alive();
        });
    }
}

void controld::watch_mirror() {
    if (!_gateway_up || _mirror_asked) return;
    _mirror_asked = true;
    _link.ask(capi::show_mirror_req{0}, [this](gw_answer a) {
        _mirror_asked = false;
        const auto* m = a.as<capi::mirror_rep>();
        if (!m) {
            if (power_of_two(++_n.mirror_watch_errors)) log::warn("mirror watch: gatewayd did not answer: {}", a.why);
            return;
        }
        const std::chrono::milliseconds after = _cfg.manager.agents->mirror_silence;
        std::map<ipv4_addr, std::chrono::milliseconds> silent;
        for (const capi::mirror_node_view& v : m->nodes)
            if (v.node && v.waiting_ms && std::chrono::milliseconds(*v.waiting_ms) >= after)
                silent.emplace(v.node, std::chrono::milliseconds(*v.waiting_ms));
        _alive->mirrored(silent, clock::now());
        check_alive();
    });
}

void controld::check_alive() {
    drain_agents();
    for (const alive_monitor::change& c : _alive->check(clock::now())) {
        const std::string node = common::format_ipv4(c.node);
        const auto nodes = all_nodes();
        if (common::terminator_addresses(_spare_table).contains(c.node) &&
            !std::binary_search(nodes.begin(), nodes.end(), c.node)) {
            // A terminator that is no node of a cluster port: only a reporter.
            log::warn("terminator {} {}", node, c.failed ? "silent: its reports on its server lapse" : "heard again");
            continue;
        }
        if (c.failed && c.reporter) ++_n.nodes_reported;
        if (c.failed) {
            ++_n.nodes_failed;
            // A spare that fails while it takes a node's state or
            // connections: they end now, the node's clients are reset.
            if (_states) _states->abandon(c.node);
            if (_node_restore && _node_restore->abandon(c.node))
                log::warn("node {} failed while it took a failed node's connections: what it had not taken is reset",
                          node);
            // Only a gatewayd with a mirror parser knows its connections well enough.
            const auto spare = _node_restore && _cfg.mirror_parser ? live_spare_of(c.node) : std::nullopt;
            if (c.by_mirror) ++_n.nodes_failed_by_mirror;
            const std::string why =
                c.reporter  ? fmt::format("its terminator {} reports it unreachable", common::format_ipv4(c.reporter))
                : c.by_mirror ? fmt::format("the mirror saw its clients retransmit to it for {} ms with no frame from "
                                            "it (mirror_silence {})",
                                            c.silent.count(),
                                            common::format_duration(_cfg.manager.agents->mirror_silence))
                              : fmt::format("its agent has been silent for {} ms (alive_timeout {})", c.silent.count(),
                                            common::format_duration(_alive->timeout()));
            log::warn("node {} failed: {}; {}", node, why,
                      spare ? fmt::format("its spare {} is asked to carry its connections on, the rest are reset",
                                          common::format_ipv4(*spare))
                            : std::string("its clients are reset at their next segment"));
            if (spare) {
                restore_then_fail(c.node, *spare);
                continue;
            }
        } else {
            ++_n.nodes_back;
            log::info("node {} is back after {} ms: it takes new connections again", node, c.silent.count());
        }
        mark_failed(c.node, c.failed);
    }
}

capi::restore_rep controld::restore_view() const {
    capi::restore_rep r;
    r.enabled = _node_restore && _alive && _cfg.mirror_parser;
    if (!_alive)
        r.why_not = "no alive monitoring (manager.agents.alive_timeout)";
    else if (!_node_restore)
        r.why_not = "no manager.agents.shadow_port (or gatewayd not supervised)";
    else if (!_cfg.mirror_parser)
        r.why_not = "gatewayd has no mirror_parser: it cannot know its connections well enough";
    r.last.assign(_node_restores.begin(), _node_restores.end());
    return r;
}

std::optional<ipv4_addr> controld::live_spare_of(ipv4_addr node) const {
    for (const spare_row& r : _spare_rows)
        if (r.n.spare_for == node && !r.n.failed) return r.n.address;
    return std::nullopt;
}

std::map<ipv4_addr, ipv4_addr> controld::backed_up_nodes() const {
    std::map<ipv4_addr, ipv4_addr> out;
    for (const spare_row& r : _spare_rows)
        if (r.n.spare_for && !r.n.failed && !(_alive && _alive->failed().contains(r.n.spare_for)))
            out.emplace(r.n.spare_for, r.n.address);
    return out;
}

capi::state_rep controld::state_view() {
    if (_states) return _states->view();
    capi::state_rep r;
    r.why_not = _cfg.manager.state_backups ? "no manager.agents.shadow_port (or gatewayd not supervised)"
                                           : "no manager.state_backups in the configuration";
    return r;
}

void controld::restore_then_fail(ipv4_addr node, ipv4_addr spare) {
    if (!_states) return carry_on(node, spare, std::nullopt);
    // The spare gets the node's state before its connections: the service
    // answers their replayed requests from it.
    _states->hand_over(node, spare, [this, node, spare](state_backups::handover h) {
        if (h.ok)
            log::info("node {}: its spare {} starts from {}", common::format_ipv4(node), common::format_ipv4(spare), h.what);
        else
            log::warn("node {}: its spare {} starts from {}", common::format_ipv4(node), common::format_ipv4(spare), h.what);
        carry_on(node, spare, std::move(h));
    });
}

void controld::carry_on(ipv4_addr node, ipv4_addr spare, std::optional<state_backups::handover> state) {
    const bool spare_failed = _alive && _alive->failed().contains(spare);  // during the state's handover
    _node_restore->run(node, spare, [this, state = std::move(state)](node_restore::outcome o) {
        if (state) {
            o.state = state->what;
            o.state_age_ms = state->age_ms;
            o.state_ms = state->took_ms;
            o.took_ms += state->took_ms;
        }
        ++_n.spare_restores;
        if (!o.error.empty()) ++_n.spare_restore_errors;
        _n.spare_conns_restored += o.restored;
        _n.spare_conns_not_restored += o.not_restored;
        _n.spare_conns_moved += o.moved;
        _n.last_spare_restore_ms = o.took_ms;
        std::string skipped;
        for (const auto& v : o.not_restorable) skipped += fmt::format("{}{} {}", skipped.empty() ? "" : ", ", v.value, v.name);
        std::string why;
        for (const auto& f : o.failures) why += fmt::format("{}{}", why.empty() ? "" : "; ", f);
        log::info("node {}: {} of its {} followed connections restored on its spare {} and moved there ({} moved) in "
                  "{} ms (plans {} ms, spare {} ms); not restorable: {}; not restored: {}{}{}{}",
                  common::format_ipv4(o.node), o.restored, o.followed, common::format_ipv4(o.spare), o.moved,
                  o.took_ms, o.plans_ms, o.spare_ms, skipped.empty() ? "none" : skipped,
                  o.not_restored, why.empty() ? "" : " (", why, why.empty() ? "" : ")");
        if (!o.error.empty()) log::warn("node {}: carrying its connections on: {}", common::format_ipv4(o.node), o.error);
        const ipv4_addr failed = o.node;
        _node_restores.push_back(std::move(o));
        if (_node_restores.size() > 8) _node_restores.pop_front();
        // The node may have come back meanwhile: it is marked only if still failed.
        if (_alive && _alive->failed().contains(failed)) mark_failed(failed, true);
    });
    if (spare_failed) _node_restore->abandon(spare);
}

void controld::mark_failed(ipv4_addr node, bool failed) {
    _manager.node_failed(node, failed);  // before the next probe's verdict
    _link.ask(capi::fail_node_req{node, failed}, [this, node, failed](gw_answer a) {
        if (a.as<capi::ok_rep>()) return;
        ++_n.fail_marks_refused;  // a gatewayd restarted meanwhile is given the marks with its tables
        log::warn("gatewayd did not take node {} as {}: {}", common::format_ipv4(node), failed ? "failed" : "live",
                  a.why);
    });
}

// ---- the control API ------------------------------------------------------------

void controld::call_async(const capi::request& r, completion done) {
    if (std::holds_alternative<capi::manager_show_req>(r)) return done(manager_view());
    if (std::holds_alternative<capi::restore_show_req>(r)) return done(restore_view());
    if (std::holds_alternative<capi::state_show_req>(r)) return done(state_view());
    if (std::holds_alternative<capi::escalation_show_req>(r)) {
        if (!_ladder) return done(capi::error_rep{"this controld does not supervise gatewayd (--no-supervise): no ladder", {}});
        return done(escalation_view());
    }
    if (std::holds_alternative<capi::ha_show_req>(r) || std::holds_alternative<capi::ha_switchover_req>(r)) {
        if (!_pair) return done(capi::error_rep{"this controld runs no gateway pair (manager.pair)", {}});
        if (std::holds_alternative<capi::ha_show_req>(r)) return done(_pair->view());
        if (auto err = _pair->switchover()) return done(capi::error_rep{"no switchover: " + *err, {}});
        return done(capi::ok_rep{"asked the backup to take over; this gateway forwards until it has"});
    }
    if (const auto* set = std::get_if<capi::manager_set_req>(&r)) {
        if (auto err = _manager.set_param(set->name, set->value)) return done(capi::error_rep{*err, {}});
        log::info("manager: {} = {}", set->name, set->value);
        return done(capi::ok_rep{fmt::format("{} = {}", set->name, set->value)});
    }
    if (const auto* node = std::get_if<capi::manager_node_req>(&r)) {
        if (node->action > 2) return done(capi::error_rep{fmt::format("unknown node action {}", node->action), {}});
        const auto action = static_cast<manager::node_action>(node->action);
        if (!_manager.set_node_mode(node->node, action, node->weight))
            return done(capi::error_rep{
                fmt::format("{} is not a node of any cluster port", common::format_ipv4(node->node)), {}});
        static constexpr std::string_view said[] = {"adaptive", "quiesced", "fixed"};
        // Answered once the weights it changes have been sent.
        decide(clock::now(), false,
               [done = std::move(done), msg = fmt::format("{} is {}", common::format_ipv4(node->node), said[node->action])] {
                   done(capi::ok_rep{msg});
               });
        return;
    }
    const bool edit = std::visit([](const auto& q) { return changes_tables<std::decay_t<decltype(q)>>; }, r);
    _link.ask(r, [this, edit, done = std::move(done)](gw_answer a) mutable {
        if (!a.reply)
            return done(capi::error_rep{fmt::format("gatewayd does not answer on {} ({}): {}", _cfg.control_socket,
                                                    _supervisor ? "controld is restarting it"
                                                                : "not supervised by this controld",
                                                    a.why),
                                        {}});
        // An edit that went through: read the tables before answering, so
        // that a gatewayd dying the next moment gets it back (edits made on
        // gatewayd's own socket are seen at the next period).
        if (edit && std::holds_alternative<capi::ok_rep>(*a.reply))
            return read_gateway([done = std::move(done), rep = std::move(*a.reply)] { done(rep); });
        done(std::move(*a.reply));
    });
}

capi::manager_rep controld::manager_view() const {
    capi::manager_rep m;
    const common::manager_cfg& c = _manager.config();
    auto param = [&](std::string name, std::string value) { m.params.push_back({std::move(name), std::move(value)}); };
    param("period", common::format_duration(c.period));
    param("smoothing", fmt::format("{:g}", c.smoothing));
    param("threshold", fmt::format("{:g}", c.threshold));
    param("min_weight", fmt::format("{:g}", c.min_weight));
    if (c.agents) param("agents.stale", common::format_duration(c.agents->stale));
    for (std::size_t i = 0; i < c.probes.size(); ++i) {
        param(fmt::format("probes.{}.interval", i), common::format_duration(c.probes[i].interval));
        param(fmt::format("probes.{}.timeout", i), common::format_duration(c.probes[i].timeout));
    }
    for (const auto& u : c.metrics) param(fmt::format("metrics.{}.interval", u.name), common::format_duration(u.interval));
    for (const auto& p : _manager.metric_params()) {
        m.metrics.push_back({p.name, p.kind == metric_kind::level ? "level" : "per-weight", p.importance});
        param("importance." + p.name, fmt::format("{:g}", p.importance));
    }
    for (const auto& s : _manager.view(clock::now())) {
        capi::manager_service svc{s.svc, {}};
        for (const auto& n : s.nodes)
            svc.nodes.push_back({n.node, std::string(mode_name(n.mode)), format_blocks(n.blocks), n.weight, n.sent,
                                 n.dataplane, n.metrics, n.base});
        m.services.push_back(std::move(svc));
    }
    auto count = [&](std::string name, std::uint64_t v) { m.counters.push_back({std::move(name), v}); };
    count("gateway_up", _gateway_up ? 1 : 0);
    count("gateway_starts", _supervisor ? _supervisor->starts() : 0);
    count("gateway_deaths", _n.gateway_deaths);
    count("gateway_adoptions", _n.gateway_adoptions);
    count("unclean_starts", _n.unclean_starts);
    count("nodes_failed_by_mirror", _n.nodes_failed_by_mirror);
    count("mirror_watch_errors", _n.mirror_watch_errors);
    count("periods", _n.periods);
    count("readings_failed", _n.readings_failed);
    count("pushes", _n.pushes);
    count("weights_set_by_hand", _manager.hand_edits());
    count("weights_sent", _n.weights_sent);
    count("push_errors", _n.push_errors);
    count("resyncs", _n.resyncs);
    count("resync_requests", _n.resync_requests);
    count("table_rebuilds", _n.rebuilds);
    count("restores", _n.restores);
    count("restored_connections", _n.restored_conns);
    count("restore_nodes_failed", _n.restore_nodes_failed);
    count("nodes_failed", _n.nodes_failed);
    count("nodes_back", _n.nodes_back);
    count("nodes_reported_unreachable", _n.nodes_reported);
    count("upstream_reports", _n.upstream_reports);
    count("upstream_reports_unreachable", _n.upstream_unreachable);
    count("upstream_reports_refused", _n.upstream_refused);
    count("agent_datagrams_drained", _n.agent_drained);
    count("fail_marks_refused", _n.fail_marks_refused);
    count("last_restore_ms", _n.last_restore_ms);
    count("last_restore_query_ms", _n.last_restore_query_ms);
    count("spare_restores", _n.spare_restores);
    count("spare_restore_errors", _n.spare_restore_errors);
    count("spare_conns_restored", _n.spare_conns_restored);
    count("spare_conns_not_restored", _n.spare_conns_not_restored);
    count("spare_conns_moved", _n.spare_conns_moved);
    count("last_spare_restore_ms", _n.last_spare_restore_ms);
    if (_states) {
        const auto& st = _states->counters();
        count("state_backups_asked", st.asked);
        count("state_backups_saved", st.saved);
        count("state_backups_failed", st.failed);
        count("states_handed_over", st.handed_over);
        count("state_handovers_failed", st.handover_failed);
    }
    count("probes_ok", _n.probes_ok);
    count("probes_failed", _n.probes_failed);
    count("metrics_ok", _n.metrics_ok);
    count("metrics_failed", _n.metrics_failed);
    const gw_link::counts& link = _link.counters();
    count("gateway_timeouts", link.timed_out);
    count("gateway_busy", link.busy);
    count("gateway_late_replies", link.late_replies);
    if (_receiver) {
        count("agent_reports", _receiver->accepted());
        for (std::size_t i = 0; i < agent::refusal_count; ++i) {
            const auto why = static_cast<agent::refusal>(i);
            count(fmt::format("agent_refused_{}", agent::refusal_name(why)), _receiver->count(why));
        }
    }
    return m;
}

std::string controld::prometheus_text() const {
    std::string out;
    const auto spare_line = [](std::string_view metric, const spare_row& r, double value) {
        return prom_line(metric,
                         {{"cluster", common::format_ipv4(r.vip)},
                          {"port", fmt::format("{}/{}", common::proto_name(r.proto), r.port)},
                          {"node", common::format_ipv4(r.n.address)},
                          {"spare_of", common::format_ipv4(r.n.spare_for)}},
                         value);
    };
    const auto m = manager_view();
    out += "# TYPE clustergate_controld counter\n";
    for (const auto& c : m.counters) out += prom_line("clustergate_controld", {{"counter", c.name}}, static_cast<double>(c.value));
    for (const auto& s : m.services) {
        const std::string cluster = common::format_ipv4(s.svc.vip);
        const std::string port = fmt::format("{}/{}", common::proto_name(s.svc.proto), s.svc.port);
        for (const auto& n : s.nodes) {
            const std::string node = common::format_ipv4(n.node);
            out += prom_line("clustergate_manager_weight", {{"cluster", cluster}, {"port", port}, {"node", node}},
                             n.weight);
            out += prom_line("clustergate_node_blocked",
                             {{"cluster", cluster}, {"port", port}, {"node", node}, {"reason", n.blocks}},
                             n.blocks == "-" ? 0 : 1);
            for (std::size_t i = 0; i < m.metrics.size() && i < n.metrics.size(); ++i)
                if (n.metrics[i])
                    out += prom_line("clustergate_node_metric",
                                     {{"cluster", cluster}, {"port", port}, {"node", node}, {"metric", m.metrics[i].name}},
                                     *n.metrics[i]);
        }
    }
    for (const auto& [key, why] : _probe_state)
        out += prom_line("clustergate_probe_up",
                         {{"probe", std::to_string(key.first)}, {"node", common::format_ipv4(key.second)}},
                         why.empty() ? 1 : 0);
    if (_tables)
        for (const auto& f : capi::node_fields) {  // the gateway's own figures, as its console shows them
            out += prom_type(f.metric, f.kind);
            for (const auto& c : _tables->clusters)
                for (const auto& s : c.ports)
                    for (const auto& n : s.nodes)
                        out += prom_line(f.metric,
                                         {{"cluster", common::format_ipv4(c.vip)},
                                          {"port", fmt::format("{}/{}", common::proto_name(s.proto), s.port)},
                                          {"node", common::format_ipv4(n.address)}},
                                         static_cast<double>(f.get(n)));
            for (const auto& r : _spare_rows)  // the spares: the same figures, with the node they stand by for
                out += spare_line(f.metric, r, static_cast<double>(f.get(r.n)));
        }
    if (!_spare_rows.empty()) {
        out += "# TYPE clustergate_spare_serving gauge\n";
        for (const auto& r : _spare_rows) out += spare_line("clustergate_spare_serving", r, r.serving ? 1 : 0);
    }
    if (_pair) {
        const auto h = _pair->view();
        out += "# TYPE clustergate_pair_role gauge\n";
        for (std::uint8_t r = 0; r < pair::role_count; ++r) {
            const auto name = pair::role_name(static_cast<pair::role>(r));
            out += prom_line("clustergate_pair_role", {{"role", std::string(name)}}, h.role == name ? 1 : 0);
        }
        out += prom_line("clustergate_pair_epoch", {}, static_cast<double>(h.epoch));
        out += prom_line("clustergate_pair_peer_up", {}, h.peer_alive ? 1 : 0);
        out += prom_line("clustergate_pair_gatewayd_up", {}, h.health == "up" ? 1 : 0);
        out += "# TYPE clustergate_pair counter\n";
        for (const auto& c : h.counters)
            out += prom_line("clustergate_pair", {{"counter", c.name}}, static_cast<double>(c.value));
    }
    if (_ladder) {
        const auto e = escalation_view();
        const auto one_of = [&](std::string_view metric, const std::string& which) {
            out += fmt::format("# TYPE {} gauge\n", metric);
            for (const auto& r : e.rungs) out += prom_line(metric, {{"rung", r.name}}, r.name == which ? 1 : 0);
        };
        one_of("clustergate_escalation_rung", e.reached);
        one_of("clustergate_escalation_next_rung", e.next_rung);
        out += "# TYPE clustergate_escalation_used gauge\n";
        for (const auto& r : e.rungs)
            if (r.window_ms) out += prom_line("clustergate_escalation_used", {{"rung", r.name}}, r.used);
        out += "# TYPE clustergate_escalation counter\n";
        for (const auto& c : e.counters)
            out += prom_line("clustergate_escalation", {{"counter", c.name}}, static_cast<double>(c.value));
    }
    if (_stats) {
        for (const auto& d : _stats->drops)
            out += prom_line("clustergate_drops_total", {{"reason", d.name}}, static_cast<double>(d.value));
        for (const auto& c : _stats->connections)
            out += prom_line("clustergate_connection_events_total", {{"event", c.name}}, static_cast<double>(c.value));
        for (const auto& f : capi::port_fields) {
            out += prom_type(f.metric, f.kind);
            for (const auto& p : _stats->ports)
                out += prom_line(f.metric, {{"port", p.name}}, static_cast<double>(f.get(p)));
        }
        for (const auto& f : capi::lcore_fields) {
            out += prom_type(f.metric, f.kind);
            for (const auto& l : _stats->lcores)
                out += prom_line(f.metric, {{"lcore", std::to_string(l.lcore)}, {"role", l.role}},
                                 static_cast<double>(f.get(l)));
        }
    }
    return out;
}

}  // namespace cg::control
