// Console area "cluster tables" (requirements 2.1, 2.8): show and edit clusters,
// their ports and nodes, and reload the tables from a file.
#include <algorithm>

#include <fmt/format.h>

#include "command.hpp"
#include "common/view_fields.hpp"
#include "common/config.hpp"
#include "common/spare_rules.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;

namespace {

// ---- actions -------------------------------------------------------------

/// Every edit answers ok_rep; the message says what changed, if anything.
void apply_edit(context& ctx, const api::request& r) {
    const auto ok = ctx.api.expect<api::ok_rep>(r);
    ctx.out += ok.message.empty() ? "ok" : ok.message;
    ctx.out += '\n';
}

std::string mac_cell(const api::node_view& n) {
    switch (n.mac_source) {
        case 0: return common::format_mac(n.mac) + " config";
        case 1: return common::format_mac(n.mac) + " arp";
        default: return "unresolved";
    }
}

/// `port` is the node's port's list: a spare serves while its node there is failed.
std::string node_state(const api::node_view& n, const std::vector<api::node_view>& port) {
    std::string s = n.failed ? "failed" : n.draining ? "draining" : n.quiesced ? "quiesced" : "ok";
    if (n.spare_for == 0) return s;
    const bool serving = std::any_of(port.begin(), port.end(), [&](const api::node_view& o) {
        return o.address == n.spare_for && o.failed;
    });
    return fmt::format("{}, spare of {}, {}", s, common::format_ipv4(n.spare_for), serving ? "serving" : "standing by");
}

void render_nodes(const std::vector<api::node_view>& nodes, std::string& out, std::string_view indent) {
    using al = table::align;
    std::vector<table::column> cols{{"node"}, {"mac"}};
    for (const auto& f : api::node_fields)
        if (!f.heading.empty()) cols.push_back({std::string(f.heading), al::right});
    cols.push_back({"state"});
    table t(std::move(cols));
    for (const api::node_view& n : nodes) {
        std::string node = common::format_ipv4(n.address);
        if (!n.port.empty()) node += " via " + n.port;
        std::vector<std::string> row{node, mac_cell(n)};
        for (const auto& f : api::node_fields) {
            if (f.heading.empty()) continue;
            row.push_back(std::to_string(f.get(n)));
            if (f.name == "weight" && n.weight_bound) row.back() += fmt::format(" (bound {})", *n.weight_bound);
        }
        row.push_back(node_state(n, nodes));
        t.add_row(std::move(row));
    }
    t.render(out, indent);
}

void render_service(const api::service_view& s, std::string& out) {
    // UDP flows live by the stale timer alone (requirements 2.7): MSL and FIN mean nothing there.
    const std::string timers = s.proto == common::l4_proto::tcp ? fmt::format("msl {}, fin {}, stale {}", format_ms(s.msl_ms),
                                                          format_ms(s.fin_ms), format_ms(s.stale_ms))
                                            : fmt::format("stale {}", format_ms(s.stale_ms));
    out += fmt::format("  {} {}: {}, weight bound {}, pkts {}, new connections {}, no-node drops {}\n",
                       common::proto_name(s.proto), s.port, timers, s.weight_bound, s.pkts, s.new_conns, s.no_node);
    if (s.nodes.empty()) {
        out += "    (no nodes)\n";
    } else {
        render_nodes(s.nodes, out, "    ");
    }
}

void show_tables(context& ctx, common::ipv4_addr vip) {
    const auto rep = ctx.api.expect<api::tables_rep>(api::show_tables_req{vip});
    if (rep.clusters.empty()) ctx.out += "no clusters\n";
    for (const api::cluster_view& c : rep.clusters) {
        ctx.out += fmt::format("cluster {} {}\n", c.name, common::format_ipv4(c.vip));
        if (c.ports.empty()) ctx.out += "  (no ports)\n";
        for (const api::service_view& s : c.ports) render_service(s, ctx.out);
    }
    if (!rep.orphans.empty()) {
        ctx.out += "draining nodes of removed ports:\n";
        render_nodes(rep.orphans, ctx.out, "  ");
    }
}

std::string range_cell(common::ipv4_addr first, common::ipv4_addr last) {
    return first == last ? common::format_ipv4(first) : common::format_ipv4(first) + "-" + common::format_ipv4(last);
}

void show_spares(context& ctx) {
    using al = table::align;
    const auto rep = ctx.api.expect<api::tables_rep>(api::show_tables_req{0});
    if (rep.spares.empty()) {
        ctx.out += "no spares table\n";
        return;
    }
    ctx.out += "spares table:\n";
    table rules({{"nodes"}, {"spares"}, {"terminators"}});
    for (const api::spare_rule& r : rep.spares) {
        std::string terms;
        for (const std::int64_t k : r.terminators) terms += fmt::format("{}{:+d}", terms.empty() ? "" : " ", k);
        rules.add_row({range_cell(r.first, r.last), range_cell(r.spare, r.spare + (r.last - r.first)),
                       terms.empty() ? "-" : "node " + terms});
    }
    rules.render(ctx.out, "  ");
    table t({{"node"}, {"spare"}, {"port"}, {"mac"}, {"weight", al::right}, {"active", al::right},
             {"new", al::right}, {"state"}});
    for (const api::cluster_view& c : rep.clusters)
        for (const api::service_view& s : c.ports)
            for (const api::node_view& n : s.nodes) {
                if (n.spare_for == 0) continue;
                const bool serving = std::any_of(s.nodes.begin(), s.nodes.end(), [&](const api::node_view& o) {
                    return o.address == n.spare_for && o.failed;
                });
                t.add_row({common::format_ipv4(n.spare_for), common::format_ipv4(n.address),
                           fmt::format("{} {} {}", common::format_ipv4(c.vip), common::proto_name(s.proto), s.port),
                           mac_cell(n), std::to_string(n.weight), std::to_string(n.active), std::to_string(n.new_conns),
                           n.failed ? "failed" : serving ? "serving" : "standing by"});
            }
    if (t.empty()) {
        ctx.out += "no node of a cluster port has a spare\n";
        return;
    }
    ctx.out += "spares on the cluster ports:\n";
    t.render(ctx.out, "  ");
}

/// One node's entry of the spares table changed, the rest as it runs.
void set_spare(context& ctx, common::ipv4_addr node, std::optional<common::ipv4_addr> spare) {
    const auto rep = ctx.api.expect<api::tables_rep>(api::show_tables_req{0});
    std::vector<common::spare_cfg> table;
    for (const api::spare_rule& r : rep.spares) table.push_back(common::cfg_of(r));
    api::set_spares_req req;
    for (const common::spare_cfg& e : common::with_spare(table, node, spare)) req.spares.push_back(common::rule_of(e));
    apply_edit(ctx, req);
}

// ---- argument conversions shared by several commands ---------------------

constexpr arg_spec vip_arg{"vip", "", "cluster address"};
constexpr arg_spec proto_choice{"proto", "tcp#udp", "transport protocol"};
constexpr arg_spec port_arg{"port", "", "cluster port, 1-65535"};
constexpr arg_spec node_arg{"node-ip", "", "node address"};

/// <vip> tcp|udp <port> at the start of the arguments.
api::service_key service_of(const parsed& p) {
    return {ipv4_arg("vip", p.args.at(0)), proto_arg("proto", p.args.at(1)),
            static_cast<std::uint16_t>(uint_arg("port", p.args.at(2), 1, 65535))};
}

std::uint32_t weight_of(std::string_view name, const std::string& v) {
    return static_cast<std::uint32_t>(uint_arg(name, v, 0, common::max_weight_bound));
}

std::uint32_t bound_of(std::string_view name, const std::string& v) {
    return static_cast<std::uint32_t>(uint_arg(name, v, 1, common::max_weight_bound));
}

// ---- commands: parse, then one action ------------------------------------

void cmd_show_clusters(const parsed& p, context& ctx) {
    show_tables(ctx, p.args.empty() ? 0 : ipv4_arg("vip", p.args[0]));
}

void cmd_add_cluster(const parsed& p, context& ctx) {
    const std::string* name = find_option(p, "name");
    apply_edit(ctx, api::add_cluster_req{name ? *name : "", ipv4_arg("vip", p.args.at(0))});
}

void cmd_del_cluster(const parsed& p, context& ctx) {
    apply_edit(ctx, api::del_cluster_req{ipv4_arg("vip", p.args.at(0))});
}

void cmd_add_port(const parsed& p, context& ctx) {
    api::add_port_req r{service_of(p)};
    r.msl_ms = option_as(p, "msl", duration_ms_arg);
    r.fin_ms = option_as(p, "fin", duration_ms_arg);
    r.stale_ms = option_as(p, "stale", duration_ms_arg);
    r.weight_bound = option_as(p, "bound", bound_of);
    apply_edit(ctx, r);
}

void cmd_del_port(const parsed& p, context& ctx) { apply_edit(ctx, api::del_port_req{service_of(p)}); }

void cmd_add_node(const parsed& p, context& ctx) {
    api::add_node_req r{service_of(p), ipv4_arg("node-ip", p.args.at(3))};
    r.mac = option_as(p, "mac", mac_arg);
    r.weight = option_as(p, "weight", weight_of).value_or(1);
    r.weight_bound = option_as(p, "bound", bound_of);
    if (const std::string* port = find_option(p, "port")) r.port = *port;
    r.quiesced = has_flag(p, "quiesced");
    apply_edit(ctx, r);
}

void cmd_del_node(const parsed& p, context& ctx) {
    apply_edit(ctx, api::del_node_req{service_of(p), ipv4_arg("node-ip", p.args.at(3))});
}

void cmd_set_weight(const parsed& p, context& ctx) {
    api::set_node_req r{service_of(p), ipv4_arg("node-ip", p.args.at(3))};
    r.weight = weight_of("weight", p.args.at(4));
    apply_edit(ctx, r);
}

void cmd_set_quiesce(const parsed& p, context& ctx) {
    api::set_node_req r{service_of(p), ipv4_arg("node-ip", p.args.at(3))};
    r.quiesced = bool_arg("quiesce", p.args.at(4));
    apply_edit(ctx, r);
}

void cmd_set_failed(const parsed& p, context& ctx) {
    apply_edit(ctx, api::fail_node_req{ipv4_arg("node-ip", p.args.at(0)), bool_arg("failed", p.args.at(1))});
}

void cmd_show_spares(const parsed&, context& ctx) { show_spares(ctx); }

void cmd_set_spare(const parsed& p, context& ctx) {
    const std::string& v = p.args.at(1);
    set_spare(ctx, ipv4_arg("node-ip", p.args.at(0)),
              v == "none" ? std::nullopt : std::optional{ipv4_arg("spare-ip", v)});
}

void cmd_reload(const parsed& p, context& ctx) { apply_edit(ctx, api::reload_req{p.args.empty() ? "" : p.args[0]}); }

}  // namespace

std::vector<command> table_commands() {
    const std::vector<arg_spec> svc{vip_arg, proto_choice, port_arg};
    const std::vector<arg_spec> node{vip_arg, proto_choice, port_arg, node_arg};
    auto with = [](std::vector<arg_spec> args, arg_spec extra) {
        args.push_back(extra);
        return args;
    };
    return {
        {{"show", "clusters"}, {{"vip", "", "only this cluster", true}}, {},
         "Clusters, their ports (timers, counters) and node tables.", cmd_show_clusters},
        {{"add", "cluster"}, {vip_arg}, {{"name", "name", "cluster name; default: the address"}},
         "Defines a cluster address.", cmd_add_cluster},
        {{"del", "cluster"}, {vip_arg}, {}, "Removes a cluster with its ports; its connections drain.",
         cmd_del_cluster},
        {{"add", "port"}, svc,
         {{"msl", "dur", "maximum segment lifetime, e.g. 30s"},
          {"fin", "dur", "FIN_TIME_OUT; default 3 x msl"},
          {"stale", "dur", "STALE_TIME_OUT, e.g. 2h15m"},
          {"bound", "n", "weight bound of the port"}},
         "Adds a TCP or UDP port to a cluster.", cmd_add_port},
        {{"del", "port"}, svc, {}, "Removes a port; its nodes drain.", cmd_del_port},
        {{"add", "node"}, node,
         {{"mac", "mac", "node MAC; default: resolved by ARP"},
          {"weight", "n", "weight, 0 to the bound; default 1"},
          {"bound", "n", "the node's own weight bound"},
          {"port", "name", "gateway port towards the node; needed with several ports"},
          {"quiesced", "", "takes no new connections until `set quiesce ... off`"}},
         "Adds a node to a cluster port.", cmd_add_node},
        {{"del", "node"}, node, {}, "Removes a node; its connections drain.", cmd_del_node},
        {{"set", "weight"}, with(node, {"weight", "", "0 to the weight bound"}), {},
         "Changes a node's weight; existing connections stay.", cmd_set_weight},
        {{"set", "quiesce"}, with(node, {"quiesce", "on#off", "on: no new connections"}), {},
         "Quiesces a node (keeps its weight for later) or brings it back.", cmd_set_quiesce},
        {{"set", "failed"}, {node_arg, {"failed", "on#off", "on: the node is down"}}, {},
         "Marks a node down on every port it serves: no new connections, its TCP connections reset at their next "
         "segment (so clients reconnect at once), its UDP flows moved; off: it takes connections again.",
         cmd_set_failed},
        {{"show", "spares"}, {}, {},
         "The spares table, and each spare on the cluster ports: its node, MAC, connections, and whether it "
         "stands by or serves (its node failed).",
         cmd_show_spares},
        {{"set", "spare"}, {node_arg, {"spare-ip", "", "the node's spare, or none"}}, {},
         "Gives a node a spare, or none, in the spares table: the spare stands by on every port of the node and "
         "takes its new connections while the node is failed.",
         cmd_set_spare},
        {{"reload"}, {{"file", "", "YAML file; default: the running config file", true}}, {},
         "Re-reads the cluster tables from a file.", cmd_reload},
    };
}

}  // namespace cg::cli
