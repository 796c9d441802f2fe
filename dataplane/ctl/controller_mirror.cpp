// The controller's mirror parser request (show mirror): one request per
// parser lcore, each copying its own table between two bursts
// (parser_request.hpp), then one reply built from the copies
// (mirror_view.hpp). The control thread never reads a parser table itself.
#include <fmt/format.h>

#include "dataplane/ctl/controller.hpp"
#include "dataplane/ctl/mirror_view.hpp"

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

}  // namespace cg::dp
