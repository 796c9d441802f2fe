#include "dataplane/mirror/parser_snapshot.hpp"

namespace cg::dp::mirror {

half_state half_of(const tcp_follower& f, direction d) noexcept {
    const tcp_stream_info& s = f.stream(d);
    if (f.state() == tcp_state::reset) return half_state::reset;
    if (s.fin_seen) return half_state::fin;
    if (s.synced || s.syn_seen) return half_state::open;
    return half_state::none;
}

void take_snapshot(const parser_table& t, std::uint32_t now_ms, parser_snapshot& out) noexcept {
    out.table = t.counters();
    out.totals = t.totals();
    out.size = t.size();
    out.capacity = t.capacity();
    out.pool_chunks = t.pool().chunks();
    out.pool_free = t.pool().free_chunks();
    out.nodes = t.watch().entries();
    out.nodes_untracked = t.watch().untracked();
    out.now_ms = now_ms;
    out.count = 0;
    const std::size_t room = out.rows.size();
    t.for_each([&](const mirror_conn& c) {
        if (out.count >= room) return;
        parser_conn_row& r = out.rows[out.count++];
        r = {};
        r.ep = c.endpoints();
        r.state = c.tcp().state();
        r.client = half_of(c.tcp(), direction::to_server);
        r.server = half_of(c.tcp(), direction::to_client);
        r.speaks = c.speaks();
        r.reason = c.reason();
        r.pending = c.fifo().unanswered();
        r.held = c.fifo().held();
        r.idle_ms = now_ms - t.last_seen(c);
        c.fifo().for_each([&](const fifo_entry& e) {
            if (e.answered || r.has_oldest) return;
            r.has_oldest = true;
            r.oldest_proto = e.msg.proto;
            r.oldest_procedure = e.msg.procedure;
        });
    });
}

}  // namespace cg::dp::mirror
