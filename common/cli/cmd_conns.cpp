// Console area "connections" (requirements 2.3, 2.7): pages of the connection tables,
// and the simulator that says where a flow would go (katran's
// getRealForFlow), without sending a packet.
#include <fmt/format.h>

#include <limits>

#include "command.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;
using al = table::align;

namespace {

constexpr std::uint64_t max_page = api::max_conns_page;  // the gateway's own bound

std::string endpoint(common::ipv4_addr a, std::uint16_t port) {
    return fmt::format("{}:{}", common::format_ipv4(a), port);
}

// ---- actions -------------------------------------------------------------

void show_connections(context& ctx, const api::show_conns_req& req) {
    const auto rep = ctx.api.expect<api::conns_rep>(req);
    table t({{"proto"}, {"client"}, {"service"}, {"node"}, {"state"}, {"idle ms", al::right},
             {"worker", al::right}});
    for (const api::conn_view& c : rep.conns) {
        const common::flow_key& f = c.flow;
        t.add_row({common::proto_name(f.proto), endpoint(f.saddr, f.sport), endpoint(f.daddr, f.dport),
                   c.node == 0 ? "-" : common::format_ipv4(c.node), std::string(conn_state_text(c.state)),
                   std::to_string(c.idle_ms), std::to_string(c.worker)});
    }
    if (t.empty()) {
        ctx.out += "no connections on this page\n";
    } else {
        t.render(ctx.out);
    }
    ctx.out += fmt::format("total {}", rep.total);
    if (rep.next_cursor != 0) ctx.out += fmt::format("; more: show connections from {}", rep.next_cursor);
    ctx.out += '\n';
}

void simulate_flow(context& ctx, const common::flow_key& flow) {
    const auto rep = ctx.api.expect<api::simulate_rep>(api::simulate_req{flow});
    table t({{""}, {""}});
    t.add_row({"verdict", rep.verdict});
    t.add_row({"node", rep.node == 0 ? "-" : common::format_ipv4(rep.node)});
    t.add_row({"worker", std::to_string(rep.worker)});
    t.add_row({"state", std::string(conn_state_text(rep.state))});
    if (!rep.detail.empty()) t.add_row({"detail", rep.detail});
    t.render(ctx.out);
}

// ---- commands ------------------------------------------------------------

std::uint32_t page_size_of(std::string_view name, const std::string& v) {
    return static_cast<std::uint32_t>(uint_arg(name, v, 1, max_page));
}

std::uint64_t cursor_of(std::string_view name, const std::string& v) {
    return uint_arg(name, v, 0, std::numeric_limits<std::uint64_t>::max());
}

std::uint16_t port_of(std::string_view name, const std::string& v) {
    return static_cast<std::uint16_t>(uint_arg(name, v, 0, 65535));
}

void cmd_show_connections(const parsed& p, context& ctx) {
    api::show_conns_req r;
    r.max = option_as(p, "count", page_size_of).value_or(r.max);
    r.cursor = option_as(p, "from", cursor_of).value_or(0);
    show_connections(ctx, r);
}

void cmd_simulate_flow(const parsed& p, context& ctx) {
    common::flow_key f;
    f.saddr = ipv4_arg("src-ip", p.args.at(0));
    f.sport = port_of("src-port", p.args.at(1));
    f.daddr = ipv4_arg("dst-ip", p.args.at(2));
    f.dport = port_of("dst-port", p.args.at(3));
    f.proto = static_cast<std::uint8_t>(proto_arg("proto", p.args.at(4)));
    simulate_flow(ctx, f);
}

}  // namespace

std::vector<command> conn_commands() {
    return {
        {{"show", "connections"}, {},
         {{"count", "n", "entries per page, 1-1000; default 50"},
          {"from", "cursor", "where the previous page ended"}},
         "One page of the connection tables, one line per connection.", cmd_show_connections},
        {{"simulate", "flow"},
         {{"src-ip", "", "client address"},
          {"src-port", "", "client port"},
          {"dst-ip", "", "cluster address"},
          {"dst-port", "", "cluster port"},
          {"proto", "tcp#udp", "transport protocol"}},
         {},
         "Where a new packet of this flow would go (verdict, node, worker), without sending one.",
         cmd_simulate_flow},
    };
}

}  // namespace cg::cli
