#include "dataplane/router/failed_sweep.hpp"

namespace cg::dp {

std::uint32_t failed_sweep::step(const snapshot& snap, const conn_table& table, const peer_macs& peers,
                                 std::uint32_t now, sink& out, worker_stats& stats, std::uint32_t slots,
                                 std::uint32_t tickles) noexcept {
    if (snap.failed_epoch != _epoch) {  // a node more failed: sweep from the start
        _epoch = snap.failed_epoch;
        _round = 0;
        begin_round();
    } else if (round_due() && static_cast<std::int32_t>(now - _next_round_ms) >= 0) {
        ++_round;  // those the last round tickled and still here did not answer
        begin_round();
    }
    std::uint32_t sent = 0;
    while (sweeping() && slots > 0) {
        const std::uint32_t lo = _pass == 0 ? 0 : pass_age[_pass - 1], hi = pass_age[_pass];
        const std::uint32_t from = _cursor;
        table.visit(_cursor, slots, [&](const conn_entry& e) {
            const snap_node& n = snap.nodes[e.node];
            const std::uint32_t age = now - e.last_seen;
            if (e.key.proto != 6 || !(n.flags & snap_node::failed) || n.gen != e.node_gen || age < lo || age >= hi)
                return true;
            if (e.peer == 0 || e.peer > peers.size()) {
                if (_round == 0) stats.tickles_no_peer.add();
                return true;
            }
            if (sent == tickles || !out.tickle(e, peers.at(e.peer))) return false;
            ++sent;
            stats.tickles_sent.add();
            if (_round > 0) stats.tickles_resent.add();
            return true;
        });
        const std::uint32_t visited = _cursor - from;
        if (_cursor < table.slot_count() && visited < slots) break;  // stopped on an entry: the next turn
        slots -= std::min(slots, visited);
        if (_cursor >= table.slot_count()) {
            ++_pass;
            _cursor = 0;
            if (!sweeping()) _next_round_ms = now + round_gap_ms;
        }
    }
    _round_sent += sent;
    return sent;
}

void failed_sweep::begin_round() noexcept {
    _pass = 0;
    _cursor = 0;
    _round_sent = 0;
}

}  // namespace cg::dp
