// Console area "supervision": controld's restart escalation ladder for its
// gatewayd (docs/operations.md, "Restart escalation"): where it stands, what
// the next failure would get, each rung's budget, the latest recoveries.
// Answered by controld (`gwctl -s <manager.control_socket>`); gatewayd
// refuses it.
#include <algorithm>
#include <chrono>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "command.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;

namespace {

/// Local time to the millisecond, as controld's log lines write it.
std::string wall_text(std::uint64_t ms) {
    const std::time_t t = static_cast<std::time_t>(ms / 1000);
    return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:03d}", fmt::localtime(t), ms % 1000);
}

void cmd_show_escalation(const parsed&, context& ctx) {
    const auto e = ctx.api.expect<api::escalation_rep>(api::escalation_show_req{});
    const auto next = std::find_if(e.rungs.begin(), e.rungs.end(), [&](const auto& r) { return r.name == e.next_rung; });
    const bool next_done = next != e.rungs.end() && next->implemented;
    table t({{}, {}});
    t.add_row({"ladder at", e.reached});
    t.add_row({"next failure",
               fmt::format("{} ({}){}", e.next_rung, e.next_why,
                           next_done || next == e.rungs.end() ? ""
                                                              : fmt::format("; not implemented yet: {} instead", next->instead))});
    t.add_row({"gatewayd", e.up_ms ? fmt::format("up for {}; the counts clear once it has been up for {}",
                                                 format_ms(*e.up_ms), format_ms(e.healthy_after_ms))
                                   : fmt::format("not up; the counts clear once it has been up for {}",
                                                 format_ms(e.healthy_after_ms))});
    t.add_row({"store", fmt::format("{} (at start: {})", e.store, e.loaded_from)});
    for (const auto& p : e.store_problems) t.add_row({"store problem", p});
    if (!e.config.empty()) t.add_row({"config", e.config});
    if (!e.backups_dir.empty())
        t.add_row({"backups", e.backup_every_ms
                                  ? fmt::format("{}: every {} while gatewayd runs, when changed; the newest {} kept",
                                                e.backups_dir, format_ms(e.backup_every_ms), e.backups_kept)
                                  : fmt::format("{}: none made (supervision.backup_every 0)", e.backups_dir)});
    t.render(ctx.out);
    if (!e.backups.empty()) {
        using al = table::align;
        ctx.out += "configuration backups (newest first):\n";
        table b({{"backup", al::right}, {"saved"}, {"bytes", al::right}, {"state"}});
        for (const auto& x : e.backups)
            b.add_row({std::to_string(x.seq), x.problem.empty() ? wall_text(x.saved_ms) : "-",
                       x.problem.empty() ? std::to_string(x.bytes) : "-", x.problem.empty() ? "good" : "bad: " + x.problem});
        b.render(ctx.out, "  ");
    }

    using al = table::align;
    ctx.out += "rungs:\n";
    table rungs({{"rung"}, {"action"}, {"limit", al::right}, {"window", al::right}, {"used", al::right},
                 {"decided", al::right}, {"implemented"}});
    for (const auto& r : e.rungs) {
        const bool limited = r.window_ms != 0;
        rungs.add_row({r.name, r.action, limited ? std::to_string(r.limit) : "-", limited ? format_ms(r.window_ms) : "-",
                       limited ? std::to_string(r.used) : "-", std::to_string(r.total), r.implemented ? "yes" : "no"});
    }
    rungs.render(ctx.out, "  ");

    if (e.history.empty()) {
        ctx.out += "recoveries: none\n";
    } else {
        ctx.out += "recoveries (oldest first):\n";
        table h({{"at"}, {"failure"}, {"detail"}, {"decided"}, {"applied"}, {"outcome"}, {"took", al::right}});
        for (const auto& r : e.history) {
            const bool came_up = r.took_ms > 0 || r.outcome == "up" || r.outcome == "held";
            h.add_row({wall_text(r.at_ms), r.failure, r.detail, r.decided, r.applied, r.outcome,
                       came_up ? format_ms(r.took_ms) : "-"});
        }
        h.render(ctx.out, "  ");
    }
    ctx.out += "counters:\n";
    render_counts(e.counters, ctx.out, false);
}

}  // namespace

std::vector<command> supervision_commands() {
    return {
        {{"show", "escalation"}, {}, {},
         "controld: the restart escalation ladder of its gatewayd: the rung it stands at, what the next failure "
         "would get and why, each rung's limit and window, the latest recoveries, the configuration backups, "
         "counters.",
         cmd_show_escalation},
    };
}

}  // namespace cg::cli
