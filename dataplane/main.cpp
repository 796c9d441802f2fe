// gatewayd: the clustergate data plane. Reads the config, starts EAL with
// the ports and lcores it names, routes until SIGINT/SIGTERM (or `quit` at
// the console), and answers the control API on its Unix socket.
//
//   gatewayd -c conf/gateway.yaml [-i] [-s SOCKET] [-- EAL args...]
#include <utility>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <termios.h>
#include <thread>
#include <sys/prctl.h>
#include <unistd.h>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "common/cli/console.hpp"
#include "common/config_load.hpp"
#include "common/ctl_server.hpp"
#include "common/log.hpp"
#include "dataplane/ctl/controller.hpp"
#include "dataplane/ctl/ctl_service.hpp"
#include "dataplane/ctl/local_api.hpp"
#include "dataplane/eal/eal_args.hpp"
#include "dataplane/eal/eal_dataplane.hpp"
#include "dataplane/eal/eal_runtime.hpp"
#include "dataplane/eal/telemetry.hpp"

namespace asio = boost::asio;
namespace po = boost::program_options;
using namespace cg;

namespace {

struct options {
    std::string config = "/etc/clustergate/gateway.yaml";
    std::string socket;
    bool interactive = false;
    bool check_only = false;
    bool print_eal = false;
    std::string role = "active";
    bool fence = false;
    std::vector<std::string> eal_extra;
};

/// Parses argv; exits with usage on --help/--version or a bad option.
options parse_options(int argc, char** argv) {
    options o;
    int split = argc;
    for (int i = 1; i < argc; ++i)
        if (std::string(argv[i]) == "--") {
            split = i;
            break;
        }
    for (int i = split + 1; i < argc; ++i) o.eal_extra.emplace_back(argv[i]);

    po::options_description desc("Usage: gatewayd [options] [-- extra EAL arguments]\nOptions");
    desc.add_options()("help,h", "this help")("version,v", "print the version")(
        "config,c", po::value(&o.config)->default_value(o.config), "configuration file (docs/config.md)")(
        "interactive,i", po::bool_switch(&o.interactive), "console on stdin (testpmd-style prompt)")(
        "socket,s", po::value(&o.socket), "control socket path (default: gateway.control_socket)")(
        "role", po::value(&o.role)->default_value(o.role),
        "active or standby: a standby forwards nothing until `set role active` (controld starts a restarted "
        "gatewayd so, to give it its connections first)")(
        "fence", po::bool_switch(&o.fence),
        "in a gateway pair: become standby at once when the process that started gatewayd (its controld) ends, "
        "since the peer takes over then (controld passes it)")(
        "check-config", po::bool_switch(&o.check_only), "validate the configuration and exit")(
        "print-eal-args", po::bool_switch(&o.print_eal), "print the EAL command line and exit");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(split, argv, desc), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::ostringstream usage;
        usage << desc;
        fmt::print(stderr, "gatewayd: {}\n{}", e.what(), usage.str());
        std::exit(2);
    }
    if (vm.count("help")) {
        std::cout << desc;
        std::exit(0);
    }
    if (vm.count("version")) {
        fmt::print("gatewayd {}\n", CG_VERSION);
        std::exit(0);
    }
    if (!dp::parse_role(o.role)) {
        fmt::print(stderr, "gatewayd: --role {}: neither active nor standby\n", o.role);
        std::exit(2);
    }
    return o;
}

/// The console's terminal settings, restored however gatewayd ends.
class terminal_guard {
public:
    terminal_guard() : _saved(isatty(0) && tcgetattr(0, &_term) == 0) {}
    ~terminal_guard() {
        if (_saved) tcsetattr(0, TCSANOW, &_term);
    }

private:
    termios _term{};
    bool _saved;
};

asio::awaitable<void> housekeeping(dp::controller& ctl) {
    asio::steady_timer t(co_await asio::this_coro::executor);
    for (;;) {
        t.expires_after(std::chrono::milliseconds(10));
        co_await t.async_wait(asio::use_awaitable);
        ctl.housekeeping();
    }
}

/// `parent`: gatewayd's parent when it started, for --fence.
int run(const options& o, const common::gateway_cfg& cfg, dp::eal_runtime& eal, pid_t parent) {
    dp::eal_dataplane dataplane(cfg);
    dp::controller ctl(cfg, dataplane.bindings(), dataplane,
                       {std::filesystem::absolute(o.config).string(), CG_VERSION, std::chrono::seconds(2),
                        *dp::parse_role(o.role)});
    dataplane.start();
    dp::telemetry_attach(ctl);
    eal.enable_capture();

    asio::io_context io;
    dp::local_api local(ctl);  // the console's: it may wait, on its own thread
    dp::ctl_service service(io, ctl);  // the socket's: never waits on the io_context
    common::ctl_server server(io, o.socket.empty() ? cfg.control_socket : o.socket, service,
                              [&ctl] { ctl.count_bad_frame(); }, "gatewayd");
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
        if (!ec) common::log::info("signal {}: stopping", sig);
        io.stop();
    });
    asio::co_spawn(io, housekeeping(ctl), asio::detached);
    // The fence: a SIGUSR2 from the kernel when the parent ends
    // (PR_SET_PDEATHSIG), or at once if it ended before this point.
    asio::signal_set parent_gone(io);
    if (o.fence) {
        parent_gone.add(SIGUSR2);
        parent_gone.async_wait([&ctl](const boost::system::error_code& ec, int) {
            if (ec) return;
            if (ctl.parent_ended())
                common::log::warn("controld (gatewayd's parent) ended: standby now, forwarding nothing (--fence: "
                                  "the pair's peer takes over)");
            else
                common::log::warn("controld (gatewayd's parent) ended; gatewayd was standby and stays it (--fence)");
        });
        ::prctl(PR_SET_PDEATHSIG, SIGUSR2);
        if (::getppid() != parent) ::raise(SIGUSR2);
    }

    terminal_guard term;
    std::optional<std::thread> console_thread;
    std::atomic<bool> console_done{false};
    if (o.interactive) {
        console_thread.emplace([&] {
            cli::console con(local, "gatewayd> ", [] {});
            if (isatty(0))
                con.interact();
            else
                con.run_script(std::cin, true);
            // `quit` or the end of input ends gatewayd, as in testpmd.
            asio::post(io, [&] { io.stop(); });
            console_done = true;
        });
    }
    common::log::info("gatewayd {} running: {} clusters", cfg.name, cfg.clusters.size());
    io.run();
    dp::telemetry_detach();
    eal.disable_capture();
    dataplane.stop();
    if (console_thread) {
        // Stopped by a signal while the console waits for a key press: that
        // read cannot be woken portably, so the thread goes with the process
        // (the terminal settings are restored by `term`).
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(200);
        while (!console_done && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        if (console_done)
            console_thread->join();
        else
            console_thread->detach();
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const pid_t parent = ::getppid();  // before EAL's start: --fence compares it with the one at the end of it
    const options o = parse_options(argc, argv);
    const auto loaded = common::load_config_file(o.config);
    if (!loaded.ok()) {
        for (const auto& e : loaded.errors) fmt::print(stderr, "gatewayd: {}\n", common::format_error(e));
        fmt::print(stderr, "gatewayd: {} error(s) in {}; nothing started\n", loaded.errors.size(), o.config);
        return 2;
    }
    const common::gateway_cfg& cfg = loaded.cfg;
    for (const auto& p : cfg.ports)
        if (!dp::parse_device(p.device)) {
            fmt::print(stderr, "gatewayd: port {}: device '{}' is neither a PCI address, a net_* vdev nor eth:<name>\n",
                       p.name, p.device);
            return 2;
        }
    if (o.check_only) {
        fmt::print("{}: OK ({} ports, {} workers, {} clusters)\n", o.config, cfg.ports.size(),
                   cfg.lcores.workers.size(), cfg.clusters.size());
        return 0;
    }
    std::vector<std::string> args = dp::eal_args(cfg, o.eal_extra);
    if (o.print_eal) {
        for (const auto& a : args) fmt::print("{} ", a);
        fmt::print("\n");
        return 0;
    }
    std::optional<dp::eal_runtime> eal;
    try {
        eal.emplace(std::move(args));
    } catch (const std::exception& e) {
        fmt::print(stderr, "gatewayd: {}\n", e.what());
        return 1;
    }
    try {
        return run(o, cfg, *eal, parent);
    } catch (const std::exception& e) {
        common::log::error("{}", e.what());
    }
    return 1;
}
