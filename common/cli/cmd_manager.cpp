// Console area "manager" (requirements 4.5): what controld's manager measures and
// decides, and its parameters and node modes at run time. Answered by
// controld (`gwctl -s <manager.control_socket>`); gatewayd refuses them.
#include <fmt/format.h>

#include "command.hpp"
#include "common/config.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;

namespace {

std::string metric_cell(const std::optional<double>& v) { return v ? fmt::format("{:.3g}", *v) : "-"; }

void cmd_manager_show(const parsed&, context& ctx) {
    const auto m = ctx.api.expect<api::manager_rep>(api::manager_show_req{});
    using al = table::align;
    ctx.out += "parameters:\n";
    table params({{"name"}, {"value"}});
    for (const auto& p : m.params) params.add_row({p.name, p.value});
    params.render(ctx.out, "  ");
    ctx.out += "metrics (importance 0 = off):\n";
    table metrics({{"metric"}, {"kind"}, {"importance", al::right}});
    for (const auto& x : m.metrics) metrics.add_row({x.name, x.kind, fmt::format("{:g}", x.importance)});
    metrics.render(ctx.out, "  ");
    for (const auto& s : m.services) {
        ctx.out += fmt::format("{} {}/{}:\n", common::format_ipv4(s.svc.vip), common::proto_name(s.svc.proto),
                               s.svc.port);
        std::vector<table::column> cols{{"node"}, {"mode"}, {"blocked"}, {"base", al::right}, {"weight", al::right},
                                        {"sent", al::right}, {"data plane", al::right}};
        for (const auto& x : m.metrics)
            if (x.importance > 0) cols.push_back({x.name, al::right});
        table t(std::move(cols));
        for (const auto& n : s.nodes) {
            std::vector<std::string> row{common::format_ipv4(n.node), n.mode, n.blocks, fmt::format("{:g}", n.base),
                                         fmt::format("{:.2f}", n.weight), std::to_string(n.sent),
                                         std::to_string(n.dataplane)};
            for (std::size_t i = 0; i < m.metrics.size() && i < n.metrics.size(); ++i)
                if (m.metrics[i].importance > 0) row.push_back(metric_cell(n.metrics[i]));
            t.add_row(std::move(row));
        }
        t.render(ctx.out, "  ");
    }
    ctx.out += "counters:\n";
    table c({{"counter"}, {"value", al::right}});
    for (const auto& x : m.counters) c.add_row({x.name, std::to_string(x.value)});
    c.render(ctx.out, "  ");
}

void cmd_manager_set(const parsed& p, context& ctx) {
    const auto ok = ctx.api.expect<api::ok_rep>(api::manager_set_req{p.args.at(0), p.args.at(1)});
    ctx.out += ok.message + "\n";
}

void cmd_manager_node(const parsed& p, context& ctx) {
    api::manager_node_req r{ipv4_arg("node-ip", p.args.at(0))};
    const std::string& mode = p.args.at(1);
    r.action = mode == "quiesce" ? 1 : mode == "fix" ? 2 : 0;
    if (r.action == 2) {
        if (p.args.size() < 3) throw cli_error("weight: fix needs a weight, e.g. manager node 198.18.0.11 fix 20");
        r.weight = static_cast<double>(uint_arg("weight", p.args[2], 0, common::max_weight_bound));
    } else if (p.args.size() > 2) {
        throw cli_error(fmt::format("weight: only fix takes a weight, not {}", mode));
    }
    const auto ok = ctx.api.expect<api::ok_rep>(r);
    ctx.out += ok.message + "\n";
}

}  // namespace

std::vector<command> manager_commands() {
    return {
        {{"manager", "show"}, {}, {},
         "controld: parameters, metrics per node, blocks, weights (its own, sent, the data plane's), counters.",
         cmd_manager_show},
        {{"manager", "set"},
         {{"param", "", "e.g. smoothing, threshold, period, min_weight, importance.cpu, probes.0.timeout"},
          {"value", "", "a number or a duration such as 500ms"}},
         {}, "controld: changes a manager parameter at run time (docs/weights.md).", cmd_manager_set},
        {{"manager", "node"},
         {{"node-ip", "", "the node, in every cluster port it serves"},
          {"mode", "adapt#quiesce#fix", "adapt: the formula sets its weight; quiesce: 0; fix: the weight given"},
          {"weight", "", "fix: the weight", true}},
         {}, "controld: quiesces a node, fixes its weight, or gives it back to the formula.", cmd_manager_node},
    };
}

}  // namespace cg::cli
