// Console area "node restoration": what controld did with the last failed
// nodes' connections (docs/operations.md "A node fails"): how many the
// mirror parser followed, how many the spare carried on and gatewayd moved
// there, why the others were not, and how long each step took. Answered by
// controld (`gwctl -s <manager.control_socket>`); gatewayd refuses it.
#include <fmt/chrono.h>
#include <fmt/format.h>

#include "command.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;
using al = table::align;

namespace {

void cmd_show_restore(const parsed&, context& ctx) {
    const auto r = ctx.api.expect<api::restore_rep>(api::restore_show_req{});
    ctx.out += r.enabled ? "a failed node's connections are carried on by its spare where the mirror parser can\n"
                         : fmt::format("a failed node's connections are reset, not carried on: {}\n", r.why_not);
    if (r.last.empty()) {
        ctx.out += "no node has failed since controld started\n";
        return;
    }
    table t({{"ended"}, {"node"}, {"spare"}, {"followed", al::right}, {"restored", al::right},
             {"not restored", al::right}, {"moved", al::right}, {"ms", al::right}, {"not restorable"}, {"why not restored"}});
    bool states = false;
    for (const api::node_restore_view& v : r.last) {
        std::string skipped;
        for (const auto& c : v.not_restorable) skipped += fmt::format("{}{} {}", skipped.empty() ? "" : ", ", c.value, c.name);
        std::string why = v.error;
        for (const auto& f : v.failures) why += fmt::format("{}{}", why.empty() ? "" : "; ", f);
        const std::time_t at = static_cast<std::time_t>(v.at_ms / 1000);
        t.add_row({fmt::format("{:%H:%M:%S}.{:03d}", fmt::localtime(at), v.at_ms % 1000), common::format_ipv4(v.node),
                   common::format_ipv4(v.spare), std::to_string(v.followed), std::to_string(v.restored),
                   std::to_string(v.not_restored), std::to_string(v.moved),
                   v.state.empty() ? fmt::format("{} ({} + {})", v.took_ms, v.plans_ms, v.spare_ms)
                                   : fmt::format("{} ({} + {} + {})", v.took_ms, v.state_ms, v.plans_ms, v.spare_ms),
                   skipped.empty() ? "-" : skipped, why.empty() ? "-" : why});
        states = states || !v.state.empty();
    }
    t.render(ctx.out);
    ctx.out += states ? "ms: in all (the state to the spare + the plans from gatewayd + the spare's restores)"
                      : "ms: in all (the plans from gatewayd + the spare's restores)";
    ctx.out += "; the rest of each node's connections reset\n";
    for (const api::node_restore_view& v : r.last)
        if (!v.state.empty()) ctx.out += fmt::format("{}'s spare started from {}\n", common::format_ipv4(v.node), v.state);
}

}  // namespace

std::vector<command> restore_commands() {
    return {
        {{"show", "restore"}, {}, {},
         "The last failed nodes (controld): their connections the mirror parser followed, those the spare carried "
         "on and gatewayd moved to it, those it did not and why, and how long it took.",
         cmd_show_restore},
    };
}

}  // namespace cg::cli
