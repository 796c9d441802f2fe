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
        return mirror_view(snaps, _dp.span_counts(), want);
    };
    return p;
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
    const std::uint32_t want = std::min(req.max, api::max_restore_plans);
    std::vector<std::shared_ptr<parser_request>> reqs(n);
    pending_request p = waiting();
    for (std::size_t l = 0; l < n; ++l) {
        reqs[l] = std::make_shared<parser_request>();
        reqs[l]->what = parser_request::kind::restore;
        reqs[l]->node = *mac;
        // No lcore follows more than its connections: room for those at most.
        const std::uint32_t rows = std::min(want, _cfg.mirror_parser->connections);
        reqs[l]->batch.rows.resize(rows);
        reqs[l]->batch.replay.resize(std::size_t{rows} * restore_replay_per_conn);
        post(p, l, reqs[l]);
    }
    p._step = [reqs = std::move(reqs), want, node = req.node, mac = *mac](pending_request&) -> std::optional<api::reply> {
        std::vector<const mirror::restore_batch*> batches;
        for (const auto& r : reqs) batches.push_back(&r->batch);
        return restore_plans_view(node, mac, batches, want);
    };
    return p;
}

}  // namespace cg::dp
