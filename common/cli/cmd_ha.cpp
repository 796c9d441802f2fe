// Console area "gateway pair": this gateway's role, and the pair as
// controld runs it. A standby forwards nothing and answers no ARP for the
// cluster addresses; becoming active announces them by gratuitous ARP
// (docs/operations.md, "Roles" and "Gateway pair"). `ha` commands are
// controld's (`gwctl -s <manager.control_socket>`); gatewayd refuses them.
#include <fmt/format.h>

#include "command.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;

namespace {

void cmd_set_role(const parsed& p, context& ctx) {
    const auto ok = ctx.api.expect<api::ok_rep>(api::set_role_req{p.args.at(0)});
    ctx.out += ok.message + '\n';
}

void cmd_ha_show(const parsed&, context& ctx) {
    const auto h = ctx.api.expect<api::ha_rep>(api::ha_show_req{});
    table t({{}, {}});
    t.add_row({"this gateway", fmt::format("{} {} at epoch {} ({})", common::format_ipv4(h.address), h.role, h.epoch,
                                           h.why)});
    t.add_row({"its gatewayd", h.health + (h.health_why.empty() ? "" : " (" + h.health_why + ")")});
    if (h.peer_role.empty())
        t.add_row({"peer", fmt::format("{} never heard", common::format_ipv4(h.peer))});
    else
        t.add_row({"peer", fmt::format("{} {}, {} at epoch {}, gatewayd {}, {} connections, heard {} ms ago",
                                       common::format_ipv4(h.peer), h.peer_alive ? "alive" : "DEAD", h.peer_role,
                                       h.peer_epoch, h.peer_health, h.peer_conns, h.peer_heard_ms)});
    t.add_row({"auto-heal", h.heal});
    t.render(ctx.out);
    ctx.out += "counters:\n";
    render_counts(h.counters, ctx.out, false);
}

void cmd_ha_switchover(const parsed&, context& ctx) {
    const auto ok = ctx.api.expect<api::ok_rep>(api::ha_switchover_req{});
    ctx.out += ok.message + '\n';
}

}  // namespace

std::vector<command> ha_commands() {
    return {
        {{"set", "role"}, {{"role", "active#standby", "active: forwards and announces; standby: neither"}}, {},
         "Makes this gateway the active one of its pair, or the standby (controld does it when it runs a pair).",
         cmd_set_role},
        {{"ha", "show"}, {}, {},
         "controld: this gateway's role and epoch in the pair, its gatewayd's health, the peer as last heard, "
         "the latest auto-heal (a new peer started from the pool), takeovers and heartbeat counters.",
         cmd_ha_show},
        {{"ha", "switchover"}, {}, {},
         "controld: the active gateway hands over to its backup, and keeps forwarding until the backup has its "
         "connections and forwards.",
         cmd_ha_switchover},
    };
}

}  // namespace cg::cli
