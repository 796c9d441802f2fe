// nodeagent: runs on each node and reports its host figures (requirements 4.2) to
// the gateways' controld at an interval, as authenticated datagrams
// (agent_msg.hpp). It keeps nothing the kernel already has: every report is
// read from /proc afresh; only the previous CPU counters are remembered.
// With --shadow-listen it also answers the takeover query (requirements 5.3) with
// the node's sockets on the cluster addresses, read from the kernel when
// asked (shadow_server.hpp). On a node's front-end, --upstream probes its
// server and reports when it cannot be reached (upstream_probe.hpp).
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "common/duration.hpp"
#include "common/log.hpp"
#include "control/controld/manager/command_metric.hpp"
#include "control/nodeagent/fd_limit.hpp"
#include "control/nodeagent/host_metrics.hpp"
#include "control/nodeagent/restorer.hpp"
#include "control/nodeagent/shadow_server.hpp"
#include "control/nodeagent/state_keeper.hpp"
#include "control/nodeagent/upstream_probe.hpp"
#include "control/proto/agent_msg.hpp"

namespace po = boost::program_options;
namespace asio = boost::asio;
namespace clog = cg::common::log;
using namespace cg;
using namespace cg::control;

namespace {

struct options {
    std::string node, key_file, interval = "1s", script, script_timeout = "500ms", alive_interval = "20ms";
    std::vector<std::string> gateways;
    std::string shadow_listen, max_skew = "30s", shadow_timeout = "5s";
    std::vector<std::string> clusters;
    std::vector<std::string> restore_services;
    std::string backup_command, restore_command, state_dir, state_timeout = "30s";
    std::string upstream, upstream_interval = "50ms";
    std::uint32_t upstream_failures = 3;
};

/// --restore-service PORT=ADDR:PORT: the local service of a cluster port.
void add_restore_service(restorer_config& cfg, const std::string& arg) {
    const auto eq = arg.find('=');
    // The cluster port read as an endpoint's: the same rules (1 to 65535).
    const auto port = eq == std::string::npos ? std::nullopt : common::parse_endpoint("0.0.0.0:" + arg.substr(0, eq));
    const auto ep = eq == std::string::npos ? std::nullopt : common::parse_endpoint(arg.substr(eq + 1));
    if (!port || !ep) throw po::error("--restore-service: expected PORT=ADDR:PORT (e.g. 2049=127.0.0.1:2049), got '" + arg + "'");
    if (!cfg.services.emplace(port->port, asio::ip::tcp::endpoint(asio::ip::address_v4(ep->address), ep->port)).second)
        throw po::error("--restore-service: port " + std::to_string(port->port) + " given twice");
}

class agent_loop {
public:
    agent_loop(asio::io_context& io, common::ipv4_addr node, std::vector<asio::ip::udp::endpoint> to, agent::key k,
               std::chrono::milliseconds interval, std::string script, std::chrono::milliseconds script_timeout,
               std::chrono::milliseconds alive_interval)
        : _io(io), _node(node), _to(std::move(to)), _key(std::move(k)), _interval(interval),
          _script(std::move(script)), _script_timeout(script_timeout), _alive_interval(alive_interval), _socket(io),
          _timer(io) {
        // Sent from the node's own address: controld checks the source.
        _socket.open(asio::ip::udp::v4());
        _socket.bind({asio::ip::address_v4(node), 0});
        _seq = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                              std::chrono::system_clock::now().time_since_epoch())
                                              .count());
        if (auto s = read_text("/proc/stat")) _cpu = parse_proc_stat(*s);
    }

    void tick() {
        _timer.expires_after(_interval);
        _timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            if (_script.empty()) {
                send(std::nullopt);
            } else {
                run_command_metric(_io, _script, _script_timeout, [this](command_outcome o) {
                    if (!o.value) clog::warn("script: {}", o.why);
                    send(o.value);
                });
            }
            tick();
        });
    }

    /// Signs of life every alive interval (none when it is 0), on the
    /// reports' socket and sequence numbers, from a thread of their own: a
    /// spare busy restoring hundreds of connections on the loop's thread is
    /// busy, not dead, and must not go silent for controld.
    void beat() {
        if (_alive_interval.count() == 0) return;
        _beats = std::jthread([this](std::stop_token stop) {
            std::mutex m;
            std::condition_variable_any cv;
            std::unique_lock lock(m);
            while (!cv.wait_for(lock, stop, _alive_interval, [&stop] { return stop.stop_requested(); }))
                seal_and_send(agent::alive{static_cast<std::uint32_t>(_alive_interval.count())});
        });
    }

    /// A terminator's verdict on its server (upstream_probe), to every gateway.
    void upstream(const agent::upstream& u) { seal_and_send(u); }

private:
    void send(std::optional<double> script) {
        agent::host_report r;
        const double cpus = static_cast<double>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
        if (auto t = read_text("/proc/loadavg"))
            if (auto l = parse_loadavg(*t)) r.load1 = *l / cpus;
        if (auto t = read_text("/proc/stat"))
            if (auto c = parse_proc_stat(*t)) {
                if (_cpu) r.cpu_busy = busy_share(*_cpu, *c);
                _cpu = c;
            }
        if (auto t = read_text("/proc/meminfo"))
            if (auto m = parse_meminfo(*t)) r.mem_used = *m;
        const auto pages = read_text("/proc/net/sockstat");
        const auto limit = read_text("/proc/sys/net/ipv4/tcp_mem");
        if (pages && limit)
            if (auto p = parse_sockstat_pages(*pages); p)
                if (auto l = parse_tcp_mem_limit(*limit)) r.sock_mem = *p / *l;
        r.script = script;
        seal_and_send(r);
    }

    void seal_and_send(agent::message m) {
        // One sender at a time, so that the sequence numbers leave in order.
        const std::lock_guard hold(_send_mu);
        const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
        const auto bytes = agent::seal({_node, ++_seq, static_cast<std::uint64_t>(now), std::move(m)}, _key);
        for (const auto& ep : _to) {
            boost::system::error_code ec;
            _socket.send_to(asio::buffer(bytes), ep, 0, ec);
            if (ec && ++_errors % 60 == 1) clog::warn("report to {}: {}", ep.address().to_string(), ec.message());
        }
    }

    asio::io_context& _io;
    common::ipv4_addr _node;
    std::vector<asio::ip::udp::endpoint> _to;
    agent::key _key;
    std::chrono::milliseconds _interval;
    std::string _script;
    std::chrono::milliseconds _script_timeout;
    std::chrono::milliseconds _alive_interval;
    asio::ip::udp::socket _socket;
    asio::steady_timer _timer;
    std::mutex _send_mu;  // _socket, _seq, _errors
    std::uint64_t _seq = 0, _errors = 0;
    std::optional<cpu_times> _cpu;
    std::jthread _beats;  // last: stopped and joined before the rest goes
};

std::chrono::milliseconds millis_flag(const std::string& name, const std::string& v) {
    const auto d = common::parse_duration(v);
    if (!d || d->count() < 10'000) throw po::error(fmt::format("--{}: expected a duration of 10ms or more, got '{}'", name, v));
    return std::chrono::duration_cast<std::chrono::milliseconds>(*d);
}

}  // namespace

int main(int argc, char** argv) {
    options o;
    po::options_description desc("Usage: nodeagent --node ADDR --gateway ADDR:PORT --key-file FILE [options]\nOptions");
    desc.add_options()("help,h", "this help")("node", po::value(&o.node)->required(),
                                              "this node's address (the source of the reports)")(
        "gateway", po::value(&o.gateways)->required()->composing(),
        "where controld listens (manager.agents.listen); repeat for each gateway")(
        "key-file", po::value(&o.key_file)->required(), "the HMAC key, the same file as the gateways'")(
        "interval", po::value(&o.interval), "time between reports (default 1s)")(
        "alive-interval", po::value(&o.alive_interval),
        "time between signs of life for the gateways' alive monitoring (default 20ms; 0: none)")(
        "script", po::value(&o.script), "a command whose output, a number, is reported as `script`")(
        "script-timeout", po::value(&o.script_timeout), "how long the script may run (default 500ms)")(
        "shadow-listen", po::value(&o.shadow_listen),
        "answer the gateways' takeover queries on this TCP address:port (e.g. 0.0.0.0:9652; default: off)")(
        "cluster", po::value(&o.clusters)->composing(),
        "a cluster address the takeover queries may ask about; repeat for each (default: any they ask)")(
        "max-skew", po::value(&o.max_skew), "how far a query's clock may be from this one (default 30s)")(
        "shadow-timeout", po::value(&o.shadow_timeout),
        "how long a querier may take to send its query, or to take each chunk of the answer (default 5s)")(
        "restore-service", po::value(&o.restore_services)->composing(),
        "as a spare, carry a failed node's connections to cluster port PORT on, bridged to the local service "
        "at ADDR:PORT (PORT=ADDR:PORT); repeat for each port (needs --shadow-listen and CAP_NET_ADMIN)")(
        "backup-command", po::value(&o.backup_command),
        "a /bin/sh command whose standard output is this node's state, sent to controld on its backup queries "
        "(needs --shadow-listen)")(
        "restore-command", po::value(&o.restore_command),
        "as a spare, a /bin/sh command that takes a failed node's state on its standard input (also in "
        "$CG_STATE_FILE; $CG_FAILED_NODE, $CG_STATE_TAKEN_MS) before it carries the node's connections on")(
        "state-dir", po::value(&o.state_dir),
        "the node's state is this directory: backed up with tar -c, restored with tar -x (instead of the two "
        "commands)")(
        "state-timeout", po::value(&o.state_timeout), "how long a backup or restore command may run (default 30s)")(
        "upstream", po::value(&o.upstream),
        "as a terminator (a front-end at its server's address + k), probe the server's service at ADDR:PORT by TCP "
        "connect and report to the gateways when it cannot be reached (default: off)")(
        "upstream-interval", po::value(&o.upstream_interval),
        "time between upstream probes, and each one's deadline (default 50ms)")(
        "upstream-failures", po::value(&o.upstream_failures),
        "failed upstream probes in a row that make the server unreachable (default 3)");
    try {
        po::variables_map vm;
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        po::notify(vm);
        const auto node = common::parse_ipv4(o.node);
        if (!node) throw po::error("--node: expected an IPv4 address, got '" + o.node + "'");
        std::vector<asio::ip::udp::endpoint> to;
        for (const auto& g : o.gateways) {
            const auto ep = common::parse_endpoint(g);
            if (!ep) throw po::error("--gateway: expected address:port, got '" + g + "'");
            to.emplace_back(asio::ip::address_v4(ep->address), ep->port);
        }
        const auto interval = millis_flag("interval", o.interval);
        const auto script_timeout = millis_flag("script-timeout", o.script_timeout);
        auto key = agent::load_key(o.key_file);
        std::optional<shadow_server_config> shadow_cfg;
        if (!o.shadow_listen.empty()) {
            const auto ep = common::parse_endpoint(o.shadow_listen);
            if (!ep) throw po::error("--shadow-listen: expected address:port, got '" + o.shadow_listen + "'");
            shadow_cfg.emplace();
            shadow_cfg->listen = {asio::ip::address_v4(ep->address), ep->port};
            shadow_cfg->node = *node;
            for (const auto& c : o.clusters) {
                const auto a = common::parse_ipv4(c);
                if (!a) throw po::error("--cluster: expected an IPv4 address, got '" + c + "'");
                shadow_cfg->clusters.push_back(*a);
            }
            shadow_cfg->key = key;
            shadow_cfg->max_skew_ms = static_cast<std::uint64_t>(millis_flag("max-skew", o.max_skew).count());
            shadow_cfg->io_timeout = millis_flag("shadow-timeout", o.shadow_timeout);
        } else if (!o.clusters.empty()) {
            throw po::error("--cluster is for the takeover queries: give --shadow-listen too");
        } else if (!o.restore_services.empty()) {
            throw po::error("--restore-service answers on the --shadow-listen address: give it too");
        }
        state_commands state_cfg;
        if (!o.state_dir.empty()) {
            if (!o.backup_command.empty() || !o.restore_command.empty())
                throw po::error("--state-dir stands for --backup-command and --restore-command: give one or the others");
            state_cfg = state_dir_commands(o.state_dir);
        } else {
            state_cfg.backup = o.backup_command;
            state_cfg.restore = o.restore_command;
        }
        state_cfg.timeout = millis_flag("state-timeout", o.state_timeout);
        if (!shadow_cfg && (!state_cfg.backup.empty() || !state_cfg.restore.empty()))
            throw po::error("the state backups go over the --shadow-listen address: give it too");
        std::optional<upstream_config> upstream_cfg;
        if (!o.upstream.empty()) {
            const auto ep = common::parse_endpoint(o.upstream);
            if (!ep || ep->port == 0) throw po::error("--upstream: expected address:port, got '" + o.upstream + "'");
            if (o.upstream_failures < 1 || o.upstream_failures > 1000)
                throw po::error(fmt::format("--upstream-failures: expected 1 to 1000, got {}", o.upstream_failures));
            upstream_cfg = upstream_config{{asio::ip::address_v4(ep->address), ep->port},
                                           millis_flag("upstream-interval", o.upstream_interval),
                                           o.upstream_failures};
        }
        restorer_config restore_cfg;
        for (const auto& r : o.restore_services) add_restore_service(restore_cfg, r);
        if (!o.restore_services.empty()) {  // two descriptors for each connection carried on
            const fd_limits l = raise_fd_limit();
            const std::uint64_t ceiling = fd_ceiling();
            clog::info("as a spare: up to {} open files, each connection carried on takes 2{}", l.soft,
                       l.soft < ceiling ? fmt::format(" (the kernel allows {}: CAP_SYS_RESOURCE, or systemd's "
                                                      "LimitNOFILE=, raises it)", ceiling)
                                        : "");
        }

        asio::io_context io;
        const auto alive_interval =
            o.alive_interval == "0" ? std::chrono::milliseconds{0} : millis_flag("alive-interval", o.alive_interval);
        agent_loop loop(io, *node, std::move(to), std::move(key), interval, o.script, script_timeout, alive_interval);
        std::optional<shadow_server> shadow;
        restorer spare(io, std::move(restore_cfg));
        state_keeper states(io, state_cfg);
        if (shadow_cfg) {
            shadow.emplace(io, std::move(*shadow_cfg));
            if (!o.restore_services.empty())
                shadow->on_restore([&spare](const shadow::restore& r, std::function<void(shadow::restored)> done) {
                    spare.restore(r, std::move(done));
                });
            if (!state_cfg.backup.empty())
                shadow->on_backup([&states](std::size_t max, std::function<void(taken_state)> done) {
                    states.backup(max, std::move(done));
                });
            if (!state_cfg.restore.empty())
                shadow->on_state_restore([&states](common::ipv4_addr failed, std::vector<std::uint8_t> bytes,
                                                   std::uint64_t taken, std::function<void(shadow::state_restored)> done) {
                    states.restore(failed, std::move(bytes), taken, std::move(done));
                });
            shadow->start();
            clog::info("answering takeover queries on {} ({} cluster address(es){})", o.shadow_listen,
                       o.clusters.size(), o.clusters.empty() ? ": any asked" : "");
        }
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
        clog::info("reporting {} to {} gateway(s) every {}", o.node, o.gateways.size(), o.interval);
        std::optional<upstream_probe> up;
        if (upstream_cfg) {
            up.emplace(io, *upstream_cfg, [&loop](const agent::upstream& u) { loop.upstream(u); });
            up->start();
            clog::info("probing upstream {} every {} ms ({} failures in a row: unreachable)", o.upstream,
                       upstream_cfg->interval.count(), upstream_cfg->failures);
        }
        loop.tick();
        loop.beat();
        io.run();
        if (up)
            clog::info("upstream probes: {} ({} failed, {} timed out), verdict changed {} times", up->counts().probes,
                       up->counts().failed, up->counts().timeouts, up->counts().verdicts_changed);
        if (shadow) {
            const auto& c = shadow->counters();
            const auto& q = shadow->queries();
            std::string refused;
            for (std::size_t i = 0; i < shadow::refusal_count; ++i)
                if (const auto n = q.count(static_cast<shadow::refusal>(i)))
                    refused += fmt::format(" {}={}", shadow::refusal_name(static_cast<shadow::refusal>(i)), n);
            clog::info("takeover queries: {} answered ({} sockets), refused:{}{}, not served {}, busy {}, "
                       "timeouts {}, table errors {}, write errors {}",
                       c.answered, c.entries_sent, refused.empty() ? " none" : "", refused, c.not_served, c.busy,
                       c.timeouts, c.table_errors, c.write_errors);
            const auto& r = spare.counters();
            const auto& b = spare.bridges();
            clog::info("restores: {} answered; connections {} restored, {} not; bridges {} opened, {} closed, "
                       "{} failed, {} bytes to the services, {} to the clients; cut replies {} finished, {} not the "
                       "node's (reset); {} restores waited for their first hops ({} gave up waiting, {} could not ask)",
                       r.restores, r.restored, r.not_restored, b.opened, b.closed, b.failed, b.to_service_bytes,
                       b.to_client_bytes, b.resumed, b.resume_mismatch, r.warm_waits, r.warm_timeouts, r.warm_errors);
            const auto& st = states.counters();
            clog::info("state: {} backups ({} failed, {} answered), {} restores ({} failed, {} answered)", st.backups,
                       st.backup_errors, c.backups, st.restores, st.restore_errors, c.state_restores);
        }
    } catch (const po::error& e) {
        std::cerr << "nodeagent: " << e.what() << "\n" << desc << "\n";
        return 2;
    } catch (const std::exception& e) {
        clog::error("{}", e.what());
        return 1;
    }
    return 0;
}
