// The controller's mirror parser requests (show mirror, restore plans): one
// request per parser lcore, each copying what is asked of its own table
// between two bursts (parser_request.hpp), then one reply built from the
// copies (mirror_view.hpp, restore_plans_view.hpp). The control thread never reads a parser table itself.
#include <fmt/format.h>

#include "dataplane/ctl/controller.hpp"
#include "dataplane/ctl/mirror_view.hpp"
#include "dataplane/ctl/restore_plans_view.hpp"

namespace cg::dp {

namespace api = common::api;

controller::started controller::on(const api::show_mirror_req& req) {
    const std::size_t n = _dp.parser_count();
    if (n == 0) throw refused("this gatewayd runs no mirror parser (no mirror_parser section in its configuration)");
    const std::uint32_t want = std::min(req.conns, api::max_mirror_conns);
    std::vector<std::shared_ptr<parser_request>> reqs(n);
    pending_request p = waiting();
    for (std::size_t l = 0; l < n; ++l) {
        reqs[l] = std::make_shared<parser_request>();
        reqs[l]->snap.rows.resize(want);
        post(p, l, reqs[l]);
    }
    p._step = [this, reqs = std::move(reqs), want](pending_request&) -> std::optional<api::reply> {
        std::vector<const mirror::parser_snapshot*> snaps;
        for (const auto& r : reqs) snaps.push_back(&r->snap);
        api::mirror_rep rep = mirror_view(snaps, _dp.span_counts(), want);
        for (api::mirror_node_view& v : rep.nodes) v.node = node_with_mac(v.mac);
        return rep;
    };
    return p;
}

common::ipv4_addr controller::node_with_mac(const common::mac_addr& mac) const {
    for (std::size_t slot = 0; slot < _slots.nodes().size(); ++slot) {
        const node_slot& ns = _slots.nodes()[slot];
        const snap_node& sn = _dp.current().nodes[slot];
        if (ns.used && (sn.flags & snap_node::has_mac) && sn.mac == mac) return ns.id.addr;
    }
    return 0;
}

controller::started controller::on(const api::restore_plans_req& req) {
    const std::size_t n = _dp.parser_count();
    if (n == 0) throw refused("this gatewayd runs no mirror parser (no mirror_parser section in its configuration)");
    const std::string addr = common::format_ipv4(req.node);
    std::optional<common::mac_addr> mac;
    for (std::size_t slot = 0; slot < _slots.nodes().size() && !mac; ++slot) {
        const node_slot& ns = _slots.nodes()[slot];
        const snap_node& sn = _dp.current().nodes[slot];
        if (ns.used && ns.id.addr == req.node && (sn.flags & snap_node::has_mac)) mac = sn.mac;
    }
    if (!mac) {
        if (!common::node_addresses(_serving).contains(req.node))
            throw refused(fmt::format("node {}: no cluster port has it, as a node or a spare", addr));
        throw refused(fmt::format("node {}: its MAC address is not known yet (no ARP answer)", addr));
    }
    if (req.lcore >= n) throw refused(fmt::format("parser lcore {}: this gatewayd runs {} (0-{})", req.lcore, n, n - 1));
    auto r = std::make_shared<parser_request>();
    r->what = parser_request::kind::restore;
    r->node = *mac;
    r->batch.from = req.cursor;
    // No lcore follows more than its connections: room for those at most.
    const std::uint32_t rows = std::min({std::max(req.max, 1u), api::max_restore_plans, _cfg.mirror_parser->connections});
    r->batch.rows.resize(rows);
    r->batch.replay.resize(std::size_t{rows} * restore_replay_per_conn);
    pending_request p = waiting();
    post(p, req.lcore, r);
    p._step = [r, node = req.node, mac = *mac, lcore = req.lcore, n](pending_request&) -> std::optional<api::reply> {
        return restore_plans_view(node, mac, lcore, static_cast<std::uint16_t>(n), r->batch);
    };
    return p;
}

}  // namespace cg::dp
