// controld: flags, the config file, and the sockets around the daemon
// (controld.hpp). Stops on SIGINT/SIGTERM, stopping its gatewayd with it.
// The ladder's PH2.5 executes it again, same pid, same arguments.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "common/config_load.hpp"
#include "common/ctl_server.hpp"
#include "common/log.hpp"
#include "control/controld/config_backups.hpp"
#include "control/controld/controld.hpp"
#include "control/controld/durable_file.hpp"
#include "control/controld/manager/prometheus.hpp"

namespace po = boost::program_options;
namespace asio = boost::asio;
using namespace cg;

namespace {

/// gatewayd beside this program, or in the build tree's dataplane/ (controld is
/// build/control/controld/controld there).
std::string default_gatewayd() {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
    for (const auto& p : {self.parent_path() / "gatewayd", self.parent_path().parent_path().parent_path() / "dataplane" / "gatewayd"})
        if (std::filesystem::exists(p, ec)) return p.string();
    return "gatewayd";
}

/// The configuration file loaded, with its bytes in o.config_text. A file
/// that does not load (or cannot be read) is replaced by the newest good
/// backup that loads, else by the initial file: a broken file on disk must
/// not keep the gateway down, nor make systemd restart controld in a loop.
common::load_result load_or_restore(control::controld::options& o) {
    std::string why;
    const std::string bytes = control::read_text(o.config_path, control::config_backup_max, why);
    const std::optional<std::string> text = why.empty() ? std::optional(bytes) : std::nullopt;
    common::load_result loaded;
    if (text) {
        loaded = common::parse_config(*text, o.config_path);
        if (loaded.ok()) {
            o.config_text = *text;
            return loaded;
        }
        for (const auto& e : loaded.errors) std::cerr << common::format_error(e) << "\n";
        why = fmt::format("{} error(s), the first: {}", loaded.errors.size(), common::format_error(loaded.errors[0]));
    } else {
        loaded.errors.push_back({o.config_path, "", why});
        std::cerr << "controld: cannot read " << o.config_path << ": " << why << "\n";
    }
    control::config_backups backups(o.backups_dir, 1);
    std::vector<std::string> skipped;
    const auto loads = [&](const std::string& yaml) { return common::parse_config(yaml, o.config_path).ok(); };
    const auto choice = backups.choose(text.value_or(""), o.initial_config, loads, skipped);
    for (const auto& s : skipped) common::log::warn("configuration: passed over {}", s);
    if (!choice) {
        common::log::error("{} does not load ({}), and no backup in {} nor the initial file {} will do", o.config_path,
                           why, o.backups_dir, o.initial_config);
        return loaded;
    }
    if (const auto err = control::install_config(o.config_path, choice->yaml)) {
        common::log::error("{} does not load ({}); {} not installed in its place: {}", o.config_path, why, choice->what, *err);
        return loaded;
    }
    o.config_text = choice->yaml;
    o.config_restored = fmt::format("{}, installed at start in place of a file that did not load ({}; kept as {}.replaced)",
                                    choice->what, why, o.config_path);
    common::log::error("{} does not load ({}): {} installed in its place (the file kept as {}.replaced)", o.config_path,
                       why, choice->what, o.config_path);
    return common::parse_config(choice->yaml, o.config_path);
}

}  // namespace

int main(int argc, char** argv) {
    control::controld::options o;
    std::string socket;
    bool no_supervise = false;
    std::string peer;
    po::options_description desc("Usage: controld -c gateway.yaml [options]\nOptions");
    desc.add_options()("help,h", "this help")("config,c", po::value(&o.config_path)->required(),
                                              "the gateway's YAML file (the same one gatewayd reads)")(
        "socket,s", po::value(&socket), "controld's control socket (default: manager.control_socket)")(
        "gatewayd", po::value(&o.gatewayd), "the gatewayd program (default: manager.gatewayd, else beside controld)")(
        "gatewayd-arg", po::value(&o.gatewayd_args)->composing(),
        "one more argument for gatewayd, after -c FILE (repeatable)")(
        "no-supervise", po::bool_switch(&no_supervise), "do not start gatewayd; work with the one that runs")(
        "backups", po::value(&o.backups_dir),
        "the configuration backups' directory (default: <config>.backups); a file that does not load is replaced "
        "by the newest good one")(
        "initial", po::value(&o.initial_config),
        "the initial configuration, used when no backup will do (default: <config>.initial)")(
        "peer", po::value(&peer),
        "the gateway pair's peer, address:port, in place of manager.pair.peer (a gateway that auto-heal starts "
        "from the pool is given the one that started it)");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        po::notify(vm);
    } catch (const po::error& e) {
        std::cerr << "controld: " << e.what() << "\n" << desc << "\n";
        return 2;
    }
    if (o.backups_dir.empty()) o.backups_dir = o.config_path + ".backups";
    if (o.initial_config.empty()) o.initial_config = o.config_path + ".initial";
    auto loaded = load_or_restore(o);
    if (!loaded.ok()) return 1;
    common::gateway_cfg cfg = std::move(loaded.cfg);
    if (!peer.empty()) {
        const auto& p = cfg.manager.pair;
        const auto ep = common::parse_endpoint(peer);
        const auto self = p ? common::parse_endpoint(p->listen) : std::nullopt;
        if (!p || !ep || (self && self->address == ep->address)) {
            std::cerr << "controld: --peer " << peer
                      << (p ? ": expected address:port of another gateway" : ": the configuration has no manager.pair")
                      << "\n";
            return 2;
        }
        cfg.manager.pair->peer = peer;
    }
    o.supervise = !no_supervise;
    o.self_argv.assign(argv, argv + argc);  // PH2.5 executes controld again with them
    if (o.gatewayd.empty()) o.gatewayd = cfg.manager.gatewayd.empty() ? default_gatewayd() : cfg.manager.gatewayd;
    if (socket.empty()) socket = cfg.manager.control_socket;

    try {
        asio::io_context io;
        const std::string prom = cfg.manager.prometheus;
        control::controld daemon(io, std::move(cfg), o);
        common::ctl_server server(io, socket, daemon, [] {}, "controld");
        std::optional<control::prometheus_endpoint> metrics;
        if (!prom.empty()) {
            metrics.emplace(io, *common::parse_endpoint(prom), [&daemon] { return daemon.prometheus_text(); });
            common::log::info("prometheus metrics on http://{}/metrics", prom);
        }
        asio::signal_set signals(io, SIGINT, SIGTERM);
        signals.async_wait([&](const boost::system::error_code& ec, int sig) {
            if (!ec) common::log::info("signal {}: stopping", sig);
            io.stop();
        });
        daemon.start();
        io.run();
    } catch (const std::exception& e) {
        common::log::error("{}", e.what());
        return 1;
    }
    return 0;
}
