#include "dataplane/ctl/restore_plans_view.hpp"

#include <algorithm>
#include <string>

namespace cg::dp {

namespace api = common::api;

api::restore_plans_rep restore_plans_view(common::ipv4_addr node, const common::mac_addr& mac,
                                          std::span<const mirror::restore_batch* const> lcores, std::uint32_t max) {
    api::restore_plans_rep rep;
    rep.node = node;
    rep.mac = mac;
    std::array<std::uint64_t, mirror::restore_verdict_count> verdicts{};
    std::array<std::uint64_t, mirror::conn_reason_count> incomplete{};
    struct pick {
        const mirror::restore_batch* batch;
        const mirror::restore_row* row;
        std::uint16_t lcore;
    };
    std::vector<pick> picks;
    for (std::size_t l = 0; l < lcores.size(); ++l) {
        const mirror::restore_batch& b = *lcores[l];
        rep.conns += b.conns;
        rep.not_listed += b.no_room;
        for (std::size_t v = 0; v < verdicts.size(); ++v) verdicts[v] += b.verdicts[v];
        for (std::size_t r = 0; r < incomplete.size(); ++r) incomplete[r] += b.incomplete[r];
        for (std::uint32_t i = 0; i < b.n_rows; ++i) picks.push_back({&b, &b.rows[i], static_cast<std::uint16_t>(l)});
    }
    std::stable_sort(picks.begin(), picks.end(),
                     [](const pick& a, const pick& b) { return a.row->params.ts_age_ms < b.row->params.ts_age_ms; });
    if (picks.size() > max) {
        rep.not_listed += static_cast<std::uint32_t>(picks.size() - max);
        picks.resize(max);
    }
    for (const pick& p : picks) {
        const auto at = p.batch->replay.begin() + p.row->replay_at;
        rep.plans.push_back({p.row->params, std::vector<std::uint8_t>(at, at + p.row->replay_len), p.row->replayed, p.lcore});
    }
    for (std::size_t v = 0; v < verdicts.size(); ++v)
        rep.verdicts.push_back({std::string(mirror::restore_verdict_names[v]), verdicts[v]});
    for (std::size_t r = 1; r < incomplete.size(); ++r)  // 0 is complete: never incomplete
        rep.verdicts.push_back({"incomplete." + std::string(mirror::conn_reason_names[r]), incomplete[r]});
    return rep;
}

}  // namespace cg::dp
