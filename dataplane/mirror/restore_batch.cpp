#include "dataplane/mirror/restore_batch.hpp"

#include <span>

namespace cg::dp::mirror {

void take_restore_batch(const parser_table& t, const common::mac_addr& node, std::uint32_t now_ms,
                        restore_batch& out) noexcept {
    const std::uint32_t end = out.scan < t.capacity() - std::min(out.from, t.capacity()) ? out.from + out.scan
                                                                                         : t.capacity();
    out.next = t.for_each_slot(out.from, end, [&](const mirror_conn& c) {
        if (!(t.server_mac(c) == node)) return true;
        const std::span<std::uint8_t> room = std::span(out.replay).subspan(out.replay_used);
        const restore_plan p = plan_restore(c, t.pool(), now_ms - t.last_seen(c), room);
        // No row, or no replay room that an empty batch would have: the next batch starts with it.
        if (p.verdict == restore_verdict::restorable && out.n_rows == out.rows.size()) return false;
        if (p.verdict == restore_verdict::replay_too_large && out.replay_used > 0) return false;
        ++out.conns;
        ++out.verdicts[static_cast<std::size_t>(p.verdict)];
        if (p.verdict == restore_verdict::incomplete) ++out.incomplete[static_cast<std::size_t>(p.reason)];
        if (p.verdict != restore_verdict::restorable) return true;
        out.rows[out.n_rows++] = {p.params, out.replay_used, p.replay_len, p.replayed};
        out.replay_used += p.replay_len;
        return true;
    });
    out.done = out.next == t.capacity();
}

}  // namespace cg::dp::mirror
