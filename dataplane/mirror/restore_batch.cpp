#include "dataplane/mirror/restore_batch.hpp"

#include <span>

namespace cg::dp::mirror {

void take_restore_batch(const parser_table& t, const common::mac_addr& node, std::uint32_t now_ms,
                        restore_batch& out) noexcept {
    t.for_each([&](const mirror_conn& c) {
        if (!(t.server_mac(c) == node)) return;
        ++out.conns;
        const std::span<std::uint8_t> room = std::span(out.replay).subspan(out.replay_used);
        const restore_plan p = plan_restore(c, t.pool(), now_ms - t.last_seen(c), room);
        if (p.verdict == restore_verdict::incomplete) ++out.incomplete[static_cast<std::size_t>(p.reason)];
        if (p.verdict == restore_verdict::restorable && out.n_rows == out.rows.size()) {
            ++out.no_room;
            return;
        }
        if (p.verdict == restore_verdict::replay_too_large && room.size() < out.replay.size()) {
            ++out.no_room;  // it might have fitted an empty buffer: the batch is what is full
            return;
        }
        ++out.verdicts[static_cast<std::size_t>(p.verdict)];
        if (p.verdict != restore_verdict::restorable) return;
        out.rows[out.n_rows++] = {p.params, out.replay_used, p.replay_len, p.replayed};
        out.replay_used += p.replay_len;
    });
}

}  // namespace cg::dp::mirror
