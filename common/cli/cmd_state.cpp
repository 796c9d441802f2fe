// Console area "state backups": the working nodes' states as controld keeps
// them (docs/operations.md "State backups"): per node, its spare, how many
// backups were asked and taken, the latest failure, and each backup kept
// with its age. Answered by controld (`gwctl -s <manager.control_socket>`);
// gatewayd refuses it.
#include <fmt/format.h>

#include "command.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;
using al = table::align;

namespace {

std::string age(std::uint64_t now_ms, std::uint64_t then_ms) {
    const double s = now_ms > then_ms ? static_cast<double>(now_ms - then_ms) / 1000 : 0;
    return s < 120 ? fmt::format("{:.1f}s", s) : s < 7200 ? fmt::format("{:.0f}m", s / 60) : fmt::format("{:.0f}h", s / 3600);
}

void cmd_show_backups(const parsed&, context& ctx) {
    const auto r = ctx.api.expect<api::state_rep>(api::state_show_req{});
    if (!r.enabled) {
        ctx.out += fmt::format("no state backups: {}\n", r.why_not);
        return;
    }
    ctx.out += fmt::format("each working node's state every {} ms, the last {} kept in {}\n", r.every_ms, r.keep, r.dir);
    if (r.nodes.empty()) {
        ctx.out += "no working node with a spare yet\n";
        return;
    }
    table t({{"node"}, {"spare"}, {"asked", al::right}, {"taken", al::right}, {"failed", al::right},
             {"last ms", al::right}, {"newest", al::right}, {"bytes", al::right}, {"kept", al::right}, {"problem"}});
    for (const api::node_state_view& v : r.nodes) {
        const api::config_backup_view* newest = nullptr;
        std::size_t bad = 0;
        for (const auto& b : v.backups) {
            if (!b.problem.empty()) {
                ++bad;
            } else if (!newest) {
                newest = &b;
            }
        }
        std::string problem = v.last_error;
        if (bad) problem += fmt::format("{}{} bad file(s)", problem.empty() ? "" : "; ", bad);
        t.add_row({common::format_ipv4(v.node), common::format_ipv4(v.spare), std::to_string(v.tries),
                   std::to_string(v.saved), std::to_string(v.failed), std::to_string(v.last_took_ms),
                   newest ? age(r.now_ms, newest->saved_ms) : "-", newest ? std::to_string(newest->bytes) : "-",
                   std::to_string(v.backups.size()), problem.empty() ? "-" : problem});
    }
    t.render(ctx.out);
    ctx.out += "newest: the age of the newest good state, which the node's spare would start from\n";
}

}  // namespace

std::vector<command> state_commands() {
    return {
        {{"show", "backups"}, {}, {},
         "The working nodes' state backups (controld): per node with a spare, backups asked and taken, the age and "
         "size of the newest good one (what the spare would start from), and the latest problem.",
         cmd_show_backups},
    };
}

}  // namespace cg::cli
