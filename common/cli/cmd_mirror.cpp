// Console area "mirror" (requirements 6.2, 6.4, 6.5): what the mirror
// parser's lcores follow on the SPAN ports: their counters (show mirror),
// their connections, most recently used first (show mirror conns), and what
// a node's spare could carry on if the node failed now (show mirror plans).
#include <algorithm>
#include <span>

#include <fmt/format.h>

#include "command.hpp"
#include "common/restore_plans_pages.hpp"
#include "table.hpp"

namespace cg::cli {

namespace api = common::api;
using al = table::align;

namespace {

std::string endpoint(common::ipv4_addr a, std::uint16_t port) {
    return fmt::format("{}:{}", common::format_ipv4(a), port);
}

// ---- actions -------------------------------------------------------------

void show_mirror(context& ctx) {
    const auto rep = ctx.api.expect<api::mirror_rep>(api::show_mirror_req{0});
    ctx.out += fmt::format("mirror parser: {} lcore{}, {} connections followed (at most {})\n", rep.lcores,
                           rep.lcores == 1 ? "" : "s", rep.connections, rep.capacity);
    // Frames and releases always (they add up); every other counter when it is not 0.
    table t({{"counter"}, {"value", al::right}});
    for (const api::named_count& c : rep.counters) {
        const bool always = c.name.starts_with("span.") || c.name.starts_with("frames.") ||
                            c.name.starts_with("connections.") || c.name.starts_with("released.");
        if (always || c.value != 0) t.add_row({c.name, std::to_string(c.value)});
    }
    t.render(ctx.out);
    if (rep.nodes.empty()) return;
    // What the copies show of each node: a node its clients retransmit to,
    // silent since, no longer acknowledges (its host, kernel or link is gone).
    ctx.out += "nodes, as the copies show them:\n";
    table n({{"node"}, {"mac"}, {"last frame from it", al::right}, {"clients retransmitting for", al::right},
             {"retransmissions", al::right}});
    const auto ms = [](const std::optional<std::uint32_t>& v, const char* none) {
        return v ? fmt::format("{} ms", *v) : std::string(none);
    };
    for (const api::mirror_node_view& v : rep.nodes)
        n.add_row({v.node ? common::format_ipv4(v.node) : "-", common::format_mac(v.mac), ms(v.heard_ms, "never"),
                   ms(v.waiting_ms, "-"), std::to_string(v.retransmits)});
    n.render(ctx.out);
}

void show_mirror_conns(context& ctx, std::uint32_t n) {
    const auto rep = ctx.api.expect<api::mirror_rep>(api::show_mirror_req{n});
    table t({{"client"}, {"server"}, {"proto"}, {"tcp"}, {"client sent"}, {"server sent"}, {"restorable"},
             {"pending", al::right}, {"oldest pending"}, {"held", al::right}, {"idle ms", al::right},
             {"lcore", al::right}});
    for (const api::mirror_conn_view& c : rep.conns)
        t.add_row({endpoint(c.client, c.client_port), endpoint(c.server, c.server_port), c.protocol, c.state,
                   c.client_half, c.server_half, c.reason, std::to_string(c.pending), c.oldest.empty() ? "-" : c.oldest,
                   std::to_string(c.held_bytes), std::to_string(c.idle_ms), std::to_string(c.lcore)});
    if (t.empty())
        ctx.out += "no connections followed\n";
    else
        t.render(ctx.out);
    ctx.out += fmt::format("{} of {} connections, most recently used first\n", rep.conns.size(), rep.connections);
}

void show_mirror_plans(context& ctx, common::ipv4_addr node, std::uint32_t n) {
    api::restore_plans_pages pages(node);
    while (!pages.done()) {
        const std::string bad = pages.add(ctx.api.expect<api::restore_plans_rep>(pages.request()));
        if (!bad.empty()) throw cli_error(bad);
    }
    const api::restore_plans_rep& rep = pages.all();
    std::uint64_t restorable = 0;
    for (const api::named_count& c : rep.verdicts)
        if (c.name == "restorable") restorable = c.value;
    ctx.out += fmt::format("node {} ({}): {} connections followed, {} a spare could carry on if it failed now\n",
                           common::format_ipv4(rep.node), common::format_mac(rep.mac), rep.conns, restorable);
    table why({{"not restorable, why"}, {"connections", al::right}});
    for (const api::named_count& c : rep.verdicts)
        if (c.name != "restorable" && c.value != 0) why.add_row({c.name, std::to_string(c.value)});
    if (!why.empty()) why.render(ctx.out);
    table t({{"client"}, {"server"}, {"mss", al::right}, {"wscale"}, {"options"}, {"replay", al::right},
             {"requests", al::right}, {"resend", al::right}, {"idle ms", al::right}, {"lcore", al::right}});
    for (const api::restore_plan_view& v : std::span(rep.plans).first(std::min<std::size_t>(n, rep.plans.size()))) {
        const auto& q = v.params;
        std::string opts = q.sack ? "sack" : "";
        if (q.timestamps) opts += opts.empty() ? "ts" : " ts";
        t.add_row({endpoint(q.client_addr, q.client_port), endpoint(q.server_addr, q.server_port), std::to_string(q.mss),
                   q.wscale ? fmt::format("{}/{}", q.client_wscale, q.server_wscale) : "-", opts.empty() ? "-" : opts,
                   std::to_string(v.replay.size() - q.resend_len), std::to_string(v.requests),
                   std::to_string(q.resend_len), std::to_string(q.ts_age_ms),
                   std::to_string(v.lcore)});
    }
    if (!t.empty()) t.render(ctx.out);
    ctx.out += fmt::format("{} of {} listed, most recently used first\n", std::min<std::size_t>(n, rep.plans.size()),
                           rep.plans.size());
}

// ---- commands ------------------------------------------------------------

void cmd_show_mirror(const parsed&, context& ctx) { show_mirror(ctx); }

void cmd_show_mirror_conns(const parsed& p, context& ctx) {
    const std::uint32_t n =
        p.args.empty() ? 50 : static_cast<std::uint32_t>(uint_arg("count", p.args[0], 1, api::max_mirror_conns));
    show_mirror_conns(ctx, n);
}

void cmd_show_mirror_plans(const parsed& p, context& ctx) {
    const common::ipv4_addr node = ipv4_arg("node-ip", p.args.at(0));
    const std::uint32_t n = p.args.size() < 2 ? 50
                                              : static_cast<std::uint32_t>(
                                                    uint_arg("count", p.args[1], 1, api::max_restore_plans));
    show_mirror_plans(ctx, node, n);
}

}  // namespace

std::vector<command> mirror_commands() {
    return {
        {{"show", "mirror"}, {}, {},
         "The mirror parser's counters, summed over its lcores: frames by verdict, drops, connections made and "
         "released by reason, TCP, framing, RPC and SMB2 counts.",
         cmd_show_mirror},
        {{"show", "mirror", "conns"}, {{"count", "", "connections to list, 1-1000; default 50", true}}, {},
         "The connections the mirror parser follows, most recently used first: ends, protocol, TCP state, "
         "restorable (complete) or why not, pending requests.",
         cmd_show_mirror_conns},
        {{"show", "mirror", "plans"},
         {{"node-ip", "", "a node's address"}, {"count", "", "connections to list, 1-4096; default 50", true}}, {},
         "What the node's spare could carry on if the node failed now, over every parser lcore: the most "
         "recently used restorable connections (complete, "
         "established, its requests framed, what the client has not acknowledged all in the last reply) with its "
         "TCP values, the bytes of its unanswered requests to replay and of the reply to send again, and the "
         "others counted by reason.",
         cmd_show_mirror_plans},
    };
}

}  // namespace cg::cli
