// Console area "gateway pair": this gateway's role. A standby forwards
// nothing and answers no ARP for the cluster addresses; becoming active
// announces them by gratuitous ARP (docs/operations.md, "Roles").
#include "command.hpp"

namespace cg::cli {

namespace api = common::api;

namespace {

void cmd_set_role(const parsed& p, context& ctx) {
    const auto ok = ctx.api.expect<api::ok_rep>(api::set_role_req{p.args.at(0)});
    ctx.out += ok.message + '\n';
}

}  // namespace

std::vector<command> ha_commands() {
    return {
        {{"set", "role"}, {{"role", "active#standby", "active: forwards and announces; standby: neither"}}, {},
         "Makes this gateway the active one of its pair, or the standby.", cmd_set_role},
    };
}

}  // namespace cg::cli
