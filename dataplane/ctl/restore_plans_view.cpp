#include "dataplane/ctl/restore_plans_view.hpp"

#include <algorithm>
#include <string>

namespace cg::dp {

namespace api = common::api;

api::restore_plans_rep restore_plans_view(common::ipv4_addr node, const common::mac_addr& mac, std::uint16_t lcore,
                                          std::uint16_t lcores, const mirror::restore_batch& b) {
    api::restore_plans_rep rep;
    rep.node = node;
    rep.mac = mac;
    rep.lcore = lcore;
    rep.lcores = lcores;
    rep.next_cursor = b.next;
    rep.done = b.done;
    rep.conns = b.conns;
    std::vector<const mirror::restore_row*> rows;
    for (std::uint32_t i = 0; i < b.n_rows; ++i) rows.push_back(&b.rows[i]);
    std::stable_sort(rows.begin(), rows.end(), [](const mirror::restore_row* x, const mirror::restore_row* y) {
        return x->params.ts_age_ms < y->params.ts_age_ms;
    });
    for (const mirror::restore_row* r : rows) {
        const auto at = b.replay.begin() + r->replay_at;
        rep.plans.push_back({r->params, std::vector<std::uint8_t>(at, at + r->replay_len), r->replayed, lcore});
    }
    for (std::size_t v = 0; v < b.verdicts.size(); ++v)
        rep.verdicts.push_back({std::string(mirror::restore_verdict_names[v]), b.verdicts[v]});
    for (std::size_t r = 1; r < b.incomplete.size(); ++r)  // 0 is complete: never incomplete
        rep.verdicts.push_back({"incomplete." + std::string(mirror::conn_reason_names[r]), b.incomplete[r]});
    return rep;
}

}  // namespace cg::dp
