#include "dataplane/mirror/restore_plan.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include "dataplane/pkt/wire.hpp"

namespace cg::dp::mirror {

namespace {

constexpr std::uint32_t rpc_last_fragment = 0x80000000u;
constexpr std::uint16_t default_mss = 536;  // RFC 9293 3.7.1, when the SYN carried none

restore_plan refuse(restore_verdict v, conn_reason r = conn_reason::complete) noexcept {
    restore_plan p;
    p.verdict = v;
    p.reason = r;
    return p;
}

/// The unanswered requests, oldest first, as they went: an RPC call with a
/// last fragment's marker, an HTTP request as it is; false when they do
/// not fit `out`.
bool write_replay(const msg_fifo& fifo, const chunk_pool& pool, bool rpc, std::span<std::uint8_t> out,
                  restore_plan& p) noexcept {
    const std::size_t marker = rpc ? 4 : 0;
    bool fits = true;
    fifo.for_each([&](const fifo_entry& e) {
        if (e.answered || !fits) return;
        const std::uint32_t len = e.bytes.len;
        if (out.size() - p.replay_len < marker + len) {
            fits = false;
            return;
        }
        if (rpc) wire::store32(out.data() + p.replay_len, rpc_last_fragment | len);
        pool.copy_out(e.bytes, out.subspan(p.replay_len + marker, len));
        p.replay_len += static_cast<std::uint32_t>(marker + len);
        ++p.replayed;
    });
    return fits;
}

/// The last reply as it went on the wire (an RPC record with its one
/// marker), when the server's stream ends with it.
struct resend_source {
    bool ok = false;
    std::span<const std::uint8_t> body;
    bool marker = false;  ///< an RPC record: its 4-byte marker precedes body

    std::size_t wire_len() const noexcept { return body.size() + (marker ? 4 : 0); }
    /// The last `n` bytes (n <= wire_len()) into `out`.
    void write(std::uint32_t n, std::span<std::uint8_t> out) const noexcept {
        std::array<std::uint8_t, 4> m{};
        wire::store32(m.data(), rpc_last_fragment | static_cast<std::uint32_t>(body.size()));
        std::size_t skip = wire_len() - n, at = 0;
        if (marker) {
            for (std::size_t i = skip; i < 4; ++i) out[at++] = m[i];
            skip = skip > 4 ? skip - 4 : 0;
        }
        std::copy(body.begin() + static_cast<std::ptrdiff_t>(skip), body.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
    }
};

resend_source resend_of(const record_framer& replies, bool rpc, std::uint32_t unacked) noexcept {
    resend_source s;
    const auto last = replies.last_record();
    if (unacked == 0 || !last || last->end != replies.position()) return s;
    if (rpc && last->fragments != 1) return s;  // its markers are not kept
    s.body = last->bytes;
    s.marker = rpc;
    s.ok = unacked <= s.wire_len();
    return s;
}

/// A reply cut by the failure that the spare can finish: one RPC record in
/// progress (a single fragment: its length known), answering the one call in
/// flight, the client's acknowledgement at or past its first byte.
struct resume_point {
    std::uint32_t acked = 0;  ///< the client's acknowledgement: the spare's snd_seq
    std::uint32_t skip = 0;   ///< the reply's bytes (marker included) before it
    std::uint32_t marker = 0;
    std::uint32_t sent = 0;   ///< the reply's bytes the node sent, as the mirror saw
};

std::optional<resume_point> resume_of(const mirror_conn& c, const tcp_stream_info& down) noexcept {
    const auto cut = c.framer(direction::to_client)->partial_record();
    if (!is_rpc(c.speaks()) || !cut || !down.ack_known || c.fifo().unanswered() != 1) return std::nullopt;
    bool answers = false;
    c.fifo().for_each([&](const fifo_entry& e) {
        if (!e.answered) answers = e.msg.id == wire::load32(cut->head.data());
    });
    const std::uint32_t start = down.start_seq + static_cast<std::uint32_t>(cut->start);
    if (!answers || seq_after(start, down.acked) || seq_after(down.acked, down.next_seq)) return std::nullopt;
    return resume_point{down.acked, down.acked - start, cut->marker, down.next_seq - start};
}

}  // namespace

restore_plan plan_restore(const mirror_conn& c, const chunk_pool& pool, std::uint32_t ts_age_ms,
                          std::span<std::uint8_t> replay) noexcept {
    if (const conn_reason r = c.reason(); r != conn_reason::complete) return refuse(restore_verdict::incomplete, r);
    const tcp_follower& t = c.tcp();
    if (t.state() != tcp_state::established) return refuse(restore_verdict::not_established);
    if (c.speaks() == port_proto::smb) return refuse(restore_verdict::session_state);
    if (!frames_requests(c.speaks())) return refuse(restore_verdict::no_request_framing);

    const tcp_stream_info& up = t.stream(direction::to_server);   // the client's bytes
    const tcp_stream_info& down = t.stream(direction::to_client);  // the server's
    // A reply begun and not finished: replaying its call would send the
    // client its first bytes twice.
    // Unless it is one RPC reply to the one call in flight: the spare's
    // service answers that call again and the client gets the rest of it.
    const record_framer& replies = *c.framer(direction::to_client);
    std::optional<resume_point> resume;
    if (replies.settled() != replies.position() && !(resume = resume_of(c, down)))
        return refuse(restore_verdict::reply_cut);
    // Server bytes the mirror saw no acknowledgement of: the end of the last
    // reply, sent again from the spare's send queue (the client may have
    // had them: the mirror only missed its ACK). Anything older is gone.
    // A resumed reply's are the spare's service's to send.
    const std::uint32_t unacked = resume ? 0 : down.next_seq - (down.ack_known ? down.acked : down.start_seq);
    const resend_source resend = resend_of(replies, is_rpc(c.speaks()), unacked);
    if (unacked != 0 && !resend.ok) return refuse(restore_verdict::reply_unacknowledged);

    // The client's stream up to the end of its last whole record: what the
    // spare's receive queue ends at. The node must not have acknowledged
    // past it.
    const std::uint32_t settled = up.start_seq + static_cast<std::uint32_t>(c.framer(direction::to_server)->settled());
    if (up.ack_known && seq_after(up.acked, settled)) return refuse(restore_verdict::request_cut_acked);

    restore_plan p;
    if (!write_replay(c.fifo(), pool, is_rpc(c.speaks()), replay, p)) return refuse(restore_verdict::replay_too_large);
    if (unacked != 0) {
        if (replay.size() - p.replay_len < unacked) return refuse(restore_verdict::replay_too_large);
        resend.write(unacked, replay.subspan(p.replay_len, unacked));
        p.replay_len += unacked;
    }
    p.verdict = restore_verdict::restorable;
    p.reason = conn_reason::complete;

    common::tcp_repair_params& r = p.params;
    const conn_endpoints& ep = c.endpoints();
    r.client_addr = ep.client_addr;
    r.server_addr = ep.server_addr;
    r.client_port = ep.client_port;
    r.server_port = ep.server_port;
    r.snd_seq = resume ? resume->acked : down.next_seq - unacked;
    r.resend_len = unacked;
    if (resume) {
        r.resume_skip = resume->skip;
        r.resume_marker = resume->marker;
        r.resume_sent = resume->sent;
    }
    r.rcv_seq = settled;
    const tcp_options& cs = up.syn_options;
    const tcp_options& ss = down.syn_options;
    r.mss = cs.mss_seen ? cs.mss : default_mss;
    r.wscale = t.window_scaling();
    r.client_wscale = r.wscale ? cs.wscale : 0;
    r.server_wscale = r.wscale ? ss.wscale : 0;
    r.sack = t.sack_permitted();
    r.timestamps = t.timestamps();
    r.tsval = down.tsval;
    r.ts_age_ms = ts_age_ms;
    r.client_window = up.window_known ? up.window : 0;
    r.server_window = down.window_known ? down.window : 0;
    return p;
}

}  // namespace cg::dp::mirror
