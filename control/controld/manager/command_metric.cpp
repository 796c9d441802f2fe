#include "control/controld/manager/command_metric.hpp"

#include <fmt/format.h>

#include "common/number.hpp"
#include "control/controld/manager/run_command.hpp"

namespace cg::control {

namespace asio = boost::asio;

std::string expand_command(const std::string& command, common::ipv4_addr node) {
    std::string out = command;
    const std::string addr = common::format_ipv4(node);
    for (std::size_t at = out.find("{node}"); at != std::string::npos; at = out.find("{node}", at + addr.size()))
        out.replace(at, 6, addr);
    return out;
}

std::optional<double> parse_command_output(std::string_view out) {
    const auto first = out.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return std::nullopt;
    const auto last = out.find_last_not_of(" \t\r\n");
    return common::parse_real(out.substr(first, last - first + 1));
}

void run_command_metric(asio::io_context& io, const std::string& command, std::chrono::milliseconds timeout,
                        std::function<void(command_outcome)> done) {
    run_command(io, command, timeout, 4096, [done = std::move(done)](command_result r) {
        if (!r.ok) return done({std::nullopt, r.why});
        if (const auto v = parse_command_output(r.output)) return done({v, {}});
        std::string shown = r.output.substr(0, 40);
        for (char& c : shown)
            if (c == '\n' || c == '\r' || c == '\t') c = ' ';
        shown.erase(0, shown.find_first_not_of(' '));
        shown.erase(shown.find_last_not_of(' ') + 1);
        done({std::nullopt, fmt::format("output '{}' is not a number, 0 or more", shown)});
    });
}

}  // namespace cg::control
