// gwctl: the gateway console against a running gatewayd, over its control
// socket. The same commands as `gatewayd -i` (they are the same code).
//
//   gwctl [-s SOCKET] [--wait SECONDS]                 interactive prompt
//   gwctl [-s SOCKET] -f FILE                          commands from a file
//   gwctl [-s SOCKET] show stats                       one command
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "common/cli/console.hpp"
#include "common/config_load.hpp"
#include "common/ctl_client.hpp"

namespace po = boost::program_options;
using namespace cg;

namespace {

struct options {
    std::string socket;
    std::string config;
    std::string file;
    double wait_s = 0;
    std::vector<std::string> words;
};

options parse(int argc, char** argv) {
    options o;
    po::options_description desc("Usage: gwctl [options] [command ...]\nOptions");
    desc.add_options()("help,h", "this help")("socket,s", po::value(&o.socket), "gatewayd's control socket")(
        "config,c", po::value(&o.config), "take the socket path from this gateway config file")(
        "file,f", po::value(&o.file), "run the commands in FILE (- for stdin), echoing each")(
        "wait,w", po::value(&o.wait_s), "wait up to SECONDS for gatewayd to answer");
    po::options_description hidden;
    hidden.add_options()("words", po::value(&o.words));
    po::options_description all;
    all.add(desc).add(hidden);
    po::positional_options_description pos;
    pos.add("words", -1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        std::ostringstream usage;
        usage << desc;
        fmt::print(stderr, "gwctl: {}\n{}", e.what(), usage.str());
        std::exit(2);
    }
    if (vm.count("help")) {
        std::cout << desc << "\nCommands: run `gwctl help`.\n";
        std::exit(0);
    }
    return o;
}

std::string socket_path(const options& o) {
    if (!o.socket.empty()) return o.socket;
    if (!o.config.empty()) {
        const auto loaded = common::load_config_file(o.config);
        if (!loaded.ok()) {
            for (const auto& e : loaded.errors) fmt::print(stderr, "gwctl: {}\n", common::format_error(e));
            std::exit(2);
        }
        return loaded.cfg.control_socket;
    }
    return "/run/clustergate/gw.sock";
}

/// Connects on the first request, so that `help` works without a running
/// gatewayd, and reconnects after the gateway restarted.
class lazy_client final : public common::api::api {
public:
    lazy_client(std::string path, double wait_s) : _path(std::move(path)), _wait_s(wait_s) {}

    common::api::reply call(const common::api::request& r) override {
        if (!_client) connect();
        try {
            return _client->call(r);
        } catch (const common::api::api_error&) {
            _client.reset();  // the next command tries a fresh connection
            throw;
        }
    }

private:
    void connect() {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(_wait_s);
        for (;;) {
            try {
                _client = std::make_unique<common::api::ctl_client>(_path);
                return;
            } catch (const common::api::api_error&) {
                if (std::chrono::steady_clock::now() >= deadline) throw;
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
        }
    }

    std::string _path;
    double _wait_s;
    std::unique_ptr<common::api::ctl_client> _client;
};

}  // namespace

int main(int argc, char** argv) {
    const options o = parse(argc, argv);
    lazy_client client(socket_path(o), o.wait_s);
    cli::console con(client, "gwctl> ", [] {});

    if (!o.file.empty()) {
        if (o.file == "-") return con.run_script(std::cin, true) == 0 ? 0 : 1;
        std::ifstream in(o.file);
        if (!in) {
            fmt::print(stderr, "gwctl: cannot read {}\n", o.file);
            return 2;
        }
        return con.run_script(in, true) == 0 ? 0 : 1;
    }
    if (!o.words.empty()) {
        std::string line;
        for (const auto& w : o.words) line += (line.empty() ? "" : " ") + w;
        return con.run_line(line) ? 0 : 1;
    }
    if (!isatty(0)) return con.run_script(std::cin, false) == 0 ? 0 : 1;
    con.interact();
    return 0;
}
