#include "dataplane/mirror/tcp_follower.hpp"

#include <algorithm>
#include <bit>
#include <cstring>

#include "dataplane/pkt/wire.hpp"

namespace cg::dp::mirror {

namespace {

constexpr std::uint32_t max_bound = 1u << 30;
constexpr std::uint8_t max_wscale = 14;
constexpr std::uint8_t tcp_fin = wire::tcp_fin, tcp_syn = wire::tcp_syn, tcp_rst = wire::tcp_rst,
                       tcp_ack = wire::tcp_ack;

tcp_follower_config normalised(tcp_follower_config c) noexcept {
    c.ooo_bytes = c.ooo_bytes == 0 ? 0 : std::bit_ceil(std::min(c.ooo_bytes, max_bound));
    c.max_ahead = std::clamp(c.max_ahead, std::max<std::uint32_t>(c.ooo_bytes, 1), max_bound);
    return c;
}

/// The later of two sequence numbers.
std::uint32_t seq_max(std::uint32_t a, std::uint32_t b) noexcept { return seq_after(a, b) ? a : b; }
std::uint32_t seq_min(std::uint32_t a, std::uint32_t b) noexcept { return seq_before(a, b) ? a : b; }

/// |seq - ref| <= bound in sequence space.
bool within(std::uint32_t seq, std::uint32_t ref, std::uint32_t bound) noexcept {
    const std::int64_t d = seq_diff(seq, ref);
    return d <= bound && -d <= bound;
}

}  // namespace

bool parse_tcp_options(std::span<const std::uint8_t> opts, tcp_options& out) noexcept {
    enum : std::uint8_t { eol = 0, nop = 1, mss = 2, wscale = 3, sack_perm = 4, timestamp = 8 };
    std::size_t i = 0;
    while (i < opts.size()) {
        const std::uint8_t kind = opts[i];
        if (kind == eol) return true;
        if (kind == nop) {
            ++i;
            continue;
        }
        if (i + 1 >= opts.size()) return false;
        const std::uint8_t len = opts[i + 1];
        if (len < 2 || len > opts.size() - i) return false;
        const std::uint8_t* v = opts.data() + i + 2;
        switch (kind) {
        case mss:
            if (len != 4) return false;
            out.mss_seen = true;
            out.mss = wire::load16(v);
            break;
        case wscale:
            if (len != 3) return false;
            out.wscale_seen = true;
            out.wscale = std::min(*v, max_wscale);
            if (*v > max_wscale) return false;
            break;
        case sack_perm:
            if (len != 2) return false;
            out.sack_permitted = true;
            break;
        case timestamp:
            if (len != 10) return false;
            out.ts_seen = true;
            out.tsval = wire::load32(v);
            out.tsecr = wire::load32(v + 4);
            break;
        default:
            break;  // SACK blocks, MD5, MPTCP, ...: not needed here
        }
        i += len;
    }
    return true;
}

bool read_tcp_segment(std::span<const std::uint8_t> tcp, direction d, tcp_segment& out) noexcept {
    if (tcp.size() < wire::tcp_min_len) return false;
    const std::size_t hdr = static_cast<std::size_t>(tcp[12] >> 4) * 4;
    if (hdr < wire::tcp_min_len || hdr > tcp.size()) return false;
    out.dir = d;
    out.seq = wire::load32(tcp.data() + 4);
    out.ack = wire::load32(tcp.data() + 8);
    out.flags = tcp[13];
    out.window = wire::load16(tcp.data() + 14);
    out.options = tcp.subspan(wire::tcp_min_len, hdr - wire::tcp_min_len);
    out.payload = tcp.subspan(hdr);
    return true;
}

// ---- construction ------------------------------------------------------------

std::size_t tcp_follower::storage_bytes(const tcp_follower_config& cfg) noexcept {
    return 2 * static_cast<std::size_t>(normalised(cfg).ooo_bytes);
}

tcp_follower::tcp_follower(tcp_sink& sink, const tcp_follower_config& cfg, std::span<std::uint8_t> storage) noexcept
    : _sink(&sink), _cfg(normalised(cfg)) {
    // Too little storage: the largest power of two that fits both rings.
    if (storage.size() / 2 < _cfg.ooo_bytes)
        _cfg.ooo_bytes = storage.size() < 2 ? 0 : std::bit_floor(static_cast<std::uint32_t>(
                                                      std::min<std::size_t>(storage.size() / 2, max_bound)));
    _s[0].ring = storage.subspan(0, _cfg.ooo_bytes);
    _s[1].ring = storage.subspan(_cfg.ooo_bytes, _cfg.ooo_bytes);
}

// ---- queries -------------------------------------------------------------------

bool tcp_follower::window_scaling() const noexcept {
    return _s[0].info.syn_seen && _s[1].info.syn_seen && _s[0].info.syn_options.wscale_seen &&
           _s[1].info.syn_options.wscale_seen;
}
bool tcp_follower::sack_permitted() const noexcept {
    return _s[0].info.syn_seen && _s[1].info.syn_seen && _s[0].info.syn_options.sack_permitted &&
           _s[1].info.syn_options.sack_permitted;
}
bool tcp_follower::timestamps() const noexcept {
    return _s[0].info.syn_seen && _s[1].info.syn_seen && _s[0].info.syn_options.ts_seen &&
           _s[1].info.syn_options.ts_seen;
}

/// Bytes the receiver acknowledged past the next byte (0 when none, or when
/// the acknowledgement is too far to be believed). A FIN's own sequence
/// number is not a byte: an ACK of a FIN seen counts to the FIN only.
std::uint32_t tcp_follower::acked_unseen(const half& s) const noexcept {
    const tcp_stream_info& i = s.info;
    if (!i.synced || i.ended || !i.ack_known) return 0;
    std::uint32_t to = i.acked;
    if (i.fin_seen) to = seq_min(to, i.fin_seq);
    const std::int32_t d = seq_diff(to, i.next_seq);
    return d > 0 && static_cast<std::uint32_t>(d) <= _cfg.max_ahead ? static_cast<std::uint32_t>(d) : 0;
}

/// Whether every gap of the direction was spared by the sink and the
/// receiver has acknowledged past the last: none of the lost bytes is
/// needed any more.
bool tcp_follower::gaps_forgiven(const half& s) const noexcept {
    const tcp_stream_info& i = s.info;
    return i.gaps == i.gaps_spared && i.ack_known && seq_diff(i.acked, i.spared_end) >= 0;
}

bool tcp_follower::hole(direction d) const noexcept {
    const half& s = _s[idx(d)];
    return !s.info.ended && s.info.synced && (seq_after(s.info.high_seq, s.info.next_seq) || acked_unseen(s) > 0);
}

tcp_completeness tcp_follower::completeness() const noexcept {
    using c = tcp_completeness;
    const tcp_stream_info &cs = _s[0].info, &ss = _s[1].info;
    if (_state == tcp_state::none) return c::nothing_seen;
    if (_mid_stream || !cs.syn_seen) return c::joined_mid_stream;
    if (_state == tcp_state::syn_sent || _state == tcp_state::syn_received) return c::handshake_unfinished;
    if (!ss.syn_seen) return c::handshake_missed;
    if (cs.gaps && !gaps_forgiven(_s[0])) return c::gap_to_server;
    if (ss.gaps && !gaps_forgiven(_s[1])) return c::gap_to_client;
    if (hole(direction::to_server)) return c::hole_to_server;
    if (hole(direction::to_client)) return c::hole_to_client;
    return c::complete;
}

// ---- the sink's side -------------------------------------------------------------

void tcp_follower::flush_gap(half& s) noexcept {
    if (s.info.gap_unreported == 0) return;
    const std::uint32_t n = s.info.gap_unreported;
    s.info.gap_unreported = 0;
    if (_sink->on_gap(dir(s), n)) {
        ++s.info.gaps_spared;
        s.info.spared_end = s.info.next_seq;  // no byte came since the gap: its end
    }
}

void tcp_follower::gap(half& s, std::uint32_t len) noexcept {
    if (len == 0) return;
    if (s.info.gap_unreported > UINT32_MAX - len) flush_gap(s);  // too long for one report
    if (s.info.gap_unreported == 0) {
        ++s.info.gaps;
        ++_c.gaps;
    }
    s.info.gap_unreported += len;
    s.info.bytes_lost += len;
    _c.gap_bytes += len;
    s.info.next_seq += len;
}

void tcp_follower::deliver(half& s, std::span<const std::uint8_t> bytes) noexcept {
    if (bytes.empty()) return;
    flush_gap(s);
    s.info.next_seq += static_cast<std::uint32_t>(bytes.size());
    s.info.bytes_delivered += bytes.size();
    _sink->on_data(dir(s), bytes);
}

void tcp_follower::end(half& s, stream_end why) noexcept {
    if (s.info.ended) return;
    flush_gap(s);
    s.n_held = 0;
    s.info.ended = true;
    s.info.end_reason = why;
    if (why == stream_end::fin) s.info.next_seq = s.info.fin_seq + 1;
    _sink->on_end(dir(s), why);
}

void tcp_follower::sync(half& s, std::uint32_t next) noexcept {
    s.info.synced = true;
    s.info.start_seq = s.info.next_seq = s.info.high_seq = next;
    if (!s.info.syn_seen) _sink->on_gap(dir(s), tcp_sink::gap_unknown);
}

// ---- the out-of-order ring -----------------------------------------------------------

/// Delivers the held ranges that the next byte has reached, then the FIN
/// if that is reached too.
void tcp_follower::drain(half& s) noexcept {
    std::uint8_t done = 0;
    while (done < s.n_held && !seq_after(s.held[done].start, s.info.next_seq)) {
        const range r = s.held[done++];
        if (!seq_after(r.end, s.info.next_seq)) continue;
        const std::uint32_t mask = static_cast<std::uint32_t>(s.ring.size()) - 1;
        const std::uint32_t at = s.info.next_seq & mask;
        const std::uint32_t len = r.end - s.info.next_seq;
        const std::uint32_t first = std::min<std::uint32_t>(len, static_cast<std::uint32_t>(s.ring.size()) - at);
        deliver(s, s.ring.subspan(at, first));
        deliver(s, s.ring.subspan(0, len - first));
    }
    if (done) {
        std::copy(s.held.begin() + done, s.held.begin() + s.n_held, s.held.begin());
        s.n_held = static_cast<std::uint8_t>(s.n_held - done);
    }
    if (s.info.fin_seen && s.info.next_seq == s.info.fin_seq) end(s, stream_end::fin);
}

/// Whether [seq, seq + len), which starts after the next byte, can be held:
/// within the ring's reach, and merging or with a free range.
bool tcp_follower::fits(const half& s, std::uint32_t seq, std::size_t len) const noexcept {
    const std::uint64_t end_off = static_cast<std::uint64_t>(seq - s.info.next_seq) + len;
    if (end_off > s.ring.size()) return false;
    if (s.n_held < max_held_ranges) return true;
    const std::uint32_t end = seq + static_cast<std::uint32_t>(len);
    for (std::uint8_t i = 0; i < s.n_held; ++i)  // touching one: merges, needs no new range
        if (!seq_after(s.held[i].start, end) && !seq_before(s.held[i].end, seq)) return true;
    return false;
}

/// Copies the bytes of [seq, seq + p.size()) not held yet into the ring and
/// merges the ranges. Requires fits(). Returns how many bytes were new.
std::size_t tcp_follower::hold(half& s, std::uint32_t seq, std::span<const std::uint8_t> p) noexcept {
    const std::uint32_t mask = static_cast<std::uint32_t>(s.ring.size()) - 1;
    const std::uint32_t end = seq + static_cast<std::uint32_t>(p.size());
    auto copy_in = [&](std::uint32_t from, std::uint32_t to) {  // the packet's bytes [from, to)
        const std::uint32_t at = from & mask, len = to - from;
        const std::uint32_t first = std::min<std::uint32_t>(len, static_cast<std::uint32_t>(s.ring.size()) - at);
        const std::uint8_t* src = p.data() + (from - seq);
        std::memcpy(s.ring.data() + at, src, first);
        std::memcpy(s.ring.data(), src + first, len - first);
    };
    auto same = [&](std::uint32_t from, std::uint32_t to) {
        for (std::uint32_t x = from; x != to; ++x)
            if (s.ring[x & mask] != p[x - seq]) return false;
        return true;
    };

    // Walk the ranges in order: copy what lies between them, compare what they hold.
    std::uint32_t cursor = seq;
    std::size_t fresh = 0;
    bool contradicts = false;
    std::uint8_t first_touch = s.n_held, last_touch = 0;
    for (std::uint8_t i = 0; i < s.n_held; ++i) {
        const range r = s.held[i];
        if (seq_before(r.end, seq)) continue;
        if (seq_after(r.start, end)) break;
        first_touch = std::min(first_touch, i);
        last_touch = i;
        if (seq_before(cursor, r.start)) {
            copy_in(cursor, r.start);
            fresh += r.start - cursor;
        }
        const std::uint32_t from = seq_max(cursor, r.start), to = seq_min(end, r.end);
        if (seq_before(from, to) && !same(from, to)) contradicts = true;
        cursor = seq_max(cursor, r.end);
    }
    if (seq_before(cursor, end)) {
        copy_in(cursor, end);
        fresh += end - cursor;
    }
    if (contradicts) ++_c.overlap_mismatch;

    if (first_touch == s.n_held) {  // touches none: a new range, in order
        std::uint8_t at = 0;
        while (at < s.n_held && seq_before(s.held[at].start, seq)) ++at;
        std::copy_backward(s.held.begin() + at, s.held.begin() + s.n_held, s.held.begin() + s.n_held + 1);
        s.held[at] = {seq, end};
        ++s.n_held;
    } else {  // merges ranges first_touch..last_touch into one
        const range merged{seq_min(seq, s.held[first_touch].start), seq_max(end, s.held[last_touch].end)};
        s.held[first_touch] = merged;
        std::copy(s.held.begin() + last_touch + 1, s.held.begin() + s.n_held, s.held.begin() + first_touch + 1);
        s.n_held = static_cast<std::uint8_t>(s.n_held - (last_touch - first_touch));
    }
    return fresh;
}

/// A segment at `seq` cannot be held: the first hole, up to the oldest held
/// range or the segment, whichever comes first, is given up as a gap.
void tcp_follower::give_up_oldest_hole(half& s, std::uint32_t seq) noexcept {
    const std::uint32_t to = s.n_held ? seq_min(s.held[0].start, seq) : seq;
    gap(s, to - s.info.next_seq);
    drain(s);
}

/// Bytes acknowledged but not seen are lost once the sender has been seen
/// past them (see the header): declare them, deliver what follows, repeat.
void tcp_follower::settle(half& s) noexcept {
    drain(s);
    while (!s.info.ended && seq_after(s.info.high_seq, s.info.next_seq)) {
        const std::uint32_t unseen = acked_unseen(s);
        if (unseen == 0) return;
        std::uint32_t to = seq_min(s.info.next_seq + unseen, s.info.high_seq);
        if (s.n_held) to = seq_min(to, s.held[0].start);
        if (to == s.info.next_seq) return;
        gap(s, to - s.info.next_seq);
        drain(s);
    }
}

// ---- segments ------------------------------------------------------------------------

seg_verdict tcp_follower::take_data(half& s, std::uint32_t seq, std::span<const std::uint8_t> p) noexcept {
    if (s.info.ended) {
        if (!p.empty()) ++_c.retransmits;
        return p.empty() ? seg_verdict::accepted : seg_verdict::duplicate;
    }
    if (p.empty()) return seg_verdict::accepted;
    bool fresh = false, trimmed = false, gave_up = false;
    while (!p.empty()) {
        const std::int32_t off = seq_diff(seq, s.info.next_seq);
        if (off < 0) {  // already delivered (or given up): trim
            const std::size_t old = static_cast<std::size_t>(-static_cast<std::int64_t>(off));
            trimmed = true;
            if (old >= p.size()) break;
            p = p.subspan(old);
            seq = s.info.next_seq;
            continue;
        }
        if (off == 0) {
            std::size_t n = p.size();
            if (s.n_held) n = std::min<std::size_t>(n, s.held[0].start - seq);
            deliver(s, p.first(n));
            p = p.subspan(n);
            seq += static_cast<std::uint32_t>(n);
            fresh = true;
            drain(s);  // held bytes it reached; the rest of p now overlaps them
            if (s.info.ended) break;
            continue;
        }
        if (!fits(s, seq, p.size())) {
            gave_up = true;
            give_up_oldest_hole(s, seq);
            continue;
        }
        const std::size_t held = hold(s, seq, p);
        if (held) {
            fresh = true;
            ++_c.reordered;
        }
        trimmed |= held < p.size();
        break;
    }
    if (gave_up) ++_c.ooo_full;
    if (!fresh) {
        ++_c.retransmits;
        return seg_verdict::duplicate;
    }
    if (trimmed) ++_c.overlaps;
    return seg_verdict::accepted;
}

/// The segment's FIN at `fin_seq`: taken unless it contradicts bytes
/// already seen or an earlier FIN. Returns whether it was taken.
bool tcp_follower::take_fin(half& s, std::uint32_t fin_seq) noexcept {
    tcp_stream_info& i = s.info;
    if (i.fin_seen) {
        if (fin_seq == i.fin_seq) return true;
        ++_c.bad_fin;
        return false;
    }
    if (seq_before(fin_seq, i.next_seq) || seq_before(fin_seq, i.high_seq)) {
        ++_c.bad_fin;
        return false;
    }
    i.fin_seen = true;
    i.fin_seq = fin_seq;
    return true;
}

void tcp_follower::take_ack(half& from, half& to, const tcp_segment& seg) noexcept {
    tcp_stream_info& t = to.info;
    if (t.synced && !within(seg.ack, t.next_seq, _cfg.max_ahead)) {
        ++_c.ack_out_of_window;
        return;
    }
    if (!t.ack_known || seq_after(seg.ack, t.acked)) t.acked = seg.ack;
    t.ack_known = true;
    // The client acknowledging the server's SYN completes the handshake; a
    // SYN-ACK the mirror missed is known by its effects.
    const bool client = &from == &_s[0];
    if (_state == tcp_state::syn_received && client && t.syn_seen && !seq_before(seg.ack, t.isn + 1))
        _state = tcp_state::established;
    else if (_state == tcp_state::syn_sent)
        _state = tcp_state::established;
}

void tcp_follower::take_window(half& s, const tcp_segment& seg) noexcept {
    tcp_stream_info& i = s.info;
    i.window_known = true;
    if (seg.flags & tcp_syn) {  // a SYN's window is never scaled (RFC 7323 2.2)
        i.window = seg.window;
        i.window_scaled = true;
        return;
    }
    const bool shift_known = _s[0].info.syn_seen && _s[1].info.syn_seen;
    const std::uint8_t shift = window_scaling() ? i.syn_options.wscale : 0;
    i.window = static_cast<std::uint32_t>(seg.window) << shift;
    i.window_scaled = shift_known;
}

/// SYN and SYN-ACK. Returns accepted when the segment goes on to the
/// common path (ACK, window, payload), duplicate for a retransmission (which
/// goes on too: it may carry bytes), anything else when it stops here.
seg_verdict tcp_follower::handshake(const tcp_segment& seg, const tcp_options& o) noexcept {
    const bool syn_ack = seg.flags & tcp_ack;
    if (seg.dir != (syn_ack ? direction::to_client : direction::to_server)) {
        ++_c.bad_handshake;  // simultaneous open, or the roles the wrong way round
        return seg_verdict::bad_handshake;
    }
    half& s = _s[idx(seg.dir)];
    if (s.info.syn_seen) {
        if (seg.seq == s.info.isn) return seg_verdict::duplicate;
        ++_c.unexpected_syn;
        return seg_verdict::bad_handshake;
    }
    if (s.info.synced || (syn_ack ? _state != tcp_state::none && _state != tcp_state::syn_sent
                                  : _state != tcp_state::none)) {
        ++_c.unexpected_syn;
        return seg_verdict::bad_handshake;
    }
    if (syn_ack && _state == tcp_state::syn_sent && seg.ack != _s[0].info.isn + 1) {
        ++_c.bad_handshake;
        return seg_verdict::bad_handshake;
    }
    if (syn_ack && _state == tcp_state::none) _mid_stream = true;  // the client's SYN unseen
    s.info.syn_seen = true;
    s.info.isn = seg.seq;
    s.info.syn_options = o;
    sync(s, seg.seq + 1);
    _state = syn_ack ? tcp_state::syn_received : tcp_state::syn_sent;
    return seg_verdict::accepted;
}

seg_verdict tcp_follower::follow(const tcp_segment& seg) noexcept {
    ++_c.segments;
    if (_finished || _state == tcp_state::reset) {
        ++_c.after_close;
        return seg_verdict::after_close;
    }
    const std::uint8_t f = seg.flags;
    if (((f & tcp_syn) && (f & (tcp_fin | tcp_rst))) || !(f & (tcp_syn | tcp_rst | tcp_ack))) {
        ++_c.bad_flags;
        return seg_verdict::bad_flags;
    }
    if (seg.payload.size() > _cfg.max_ahead) {
        ++_c.bad_length;
        return seg_verdict::bad_length;
    }
    tcp_options o;
    if (!parse_tcp_options(seg.options, o)) ++_c.bad_options;

    half& s = _s[idx(seg.dir)];
    half& peer = _s[1 - idx(seg.dir)];
    bool syn_again = false;
    if (f & tcp_syn) {
        const seg_verdict v = handshake(seg, o);
        syn_again = v == seg_verdict::duplicate;
        if (v != seg_verdict::accepted && !syn_again) return v;
    } else if (!s.info.synced) {
        if (_state == tcp_state::none) {
            _mid_stream = true;
            _state = tcp_state::established;
        }
        sync(s, seg.seq);
    }

    const std::uint32_t data_seq = seg.seq + ((f & tcp_syn) ? 1 : 0);
    // A SYN retransmitted late may lie anywhere (even 2^31 on, where it would look ahead).
    if (!within(seg.seq, s.info.next_seq, _cfg.max_ahead)) {
        ++(f & tcp_rst ? _c.rst_out_of_window : _c.out_of_window);
        return seg_verdict::out_of_window;
    }
    if (f & tcp_rst) {
        close_all(stream_end::reset);
        _state = tcp_state::reset;
        return seg_verdict::accepted;
    }

    if (o.ts_seen && (!s.info.ts_seen || !seq_before(o.tsval, s.info.tsval))) {
        s.info.ts_seen = true;
        s.info.tsval = o.tsval;
        s.info.tsecr = o.tsecr;
    }
    if (f & tcp_ack) take_ack(s, peer, seg);
    take_window(s, seg);

    std::span<const std::uint8_t> p = seg.payload;
    const std::uint32_t p_end = data_seq + static_cast<std::uint32_t>(p.size());
    const bool fin = (f & tcp_fin) && take_fin(s, p_end);
    if (!p.empty() && s.info.fin_seen && seq_after(p_end, s.info.fin_seq)) {  // bytes past the FIN: none exist
        ++_c.data_after_fin;
        const std::int32_t keep = seq_diff(s.info.fin_seq, data_seq);
        p = keep > 0 ? p.first(static_cast<std::size_t>(keep)) : p.first(0);
    }
    const std::uint32_t seen_to = (fin ? p_end + 1 : data_seq + static_cast<std::uint32_t>(p.size()));
    s.info.high_seq = seq_max(s.info.high_seq, seen_to);

    seg_verdict v = take_data(s, data_seq, p);
    if (syn_again && p.empty()) {
        ++_c.retransmits;
        v = seg_verdict::duplicate;
    }
    settle(s);
    settle(peer);
    if (s.info.fin_seen && _state == tcp_state::established) _state = tcp_state::closing;
    if (_s[0].info.ended && _s[1].info.ended) _state = tcp_state::closed;
    return v;
}

void tcp_follower::close_all(stream_end why) noexcept {
    for (half& s : _s) {
        if (!s.info.synced) {
            end(s, why);
            continue;
        }
        // Nothing more will come: what is missing now is lost, up to the FIN,
        // or past what was seen to what was acknowledged.
        while (!s.info.ended && s.n_held) give_up_oldest_hole(s, s.held[0].start);
        if (!s.info.ended) {
            const tcp_stream_info& i = s.info;
            const std::uint32_t to = i.fin_seen ? i.fin_seq : seq_max(i.next_seq + acked_unseen(s), i.high_seq);
            gap(s, to - i.next_seq);
            drain(s);
        }
        end(s, why);
    }
}

void tcp_follower::finish() noexcept {
    if (_finished) return;
    _finished = true;
    close_all(stream_end::abandoned);
}

}  // namespace cg::dp::mirror
