// libFuzzer harness for the mirror parser's TCP follower
// (dataplane/mirror/tcp_follower.hpp): an input is one connection's
// segments, either way, in the order the mirror sees them.
//
// Input: a 9-byte header, then records of 8 bytes (what is missing reads
// as zeros):
//   header 0-3  client ISN, 4-7 server ISN (little endian)
//          8    bits 0-3: ooo_bytes = (1 << b) / 2 (0 .. 16 KiB);
//               bits 4-6: max_ahead = 1 KiB << b (at least ooo_bytes);
//               bit 7: the owner gives half the storage asked for
//   record 0    bit 0: direction (0 client -> server); bits 1-6: FIN SYN RST
//               PSH ACK URG; bit 7: the payload contradicts the stream
//          1-2  seq: int16 offset from the sender's ISN + 1 (little endian)
//          3    payload length
//          4-5  ack: int16 offset from the peer's ISN + 1
//          6    window: b * 257
//          7    bit 0: seq offset * 1024; bit 1: length * 16; bits 2-4:
//               options (0 none, 1 a SYN's, 2 timestamps, 3 malformed,
//               4 window scale 15, 5 timestamps going back);
//               bit 5: seq = bytes 1-2 and 4-5 as one raw 32-bit number;
//               bit 6: finish() after this segment; bit 7: ack offset * 1024
// The payload is the sender's stream at its sequence numbers: byte at seq
// s of direction d is stream_byte(d, s), so every copy of a byte is the
// same unless bit 7 of the record says otherwise (then that direction's
// bytes are no longer checked). After the records, finish().
//
// Checked at every call of the sink and after every segment (a violation
// aborts, which libFuzzer reports as a crash):
//  - each direction hears bytes and gaps only before its one on_end, and
//    gap_unknown only first, only from a side whose SYN was not seen;
//  - what a direction delivered plus what it lost (heard, or declared and
//    not yet reported: gap_unreported) is exactly its sequence space from
//    start_seq to next_seq (to the FIN, when it ended by one), so no byte is
//    delivered twice, and start_seq never moves;
//  - next_seq never passes both the furthest byte seen and the furthest
//    acknowledgement: no gap longer than the sequence space allows;
//  - every byte delivered is the stream's byte at its sequence number;
//  - no gap covers a byte the follower was given in a segment it took;
//  - the follower's per-direction totals equal what the sink heard, and
//    the segment counter counts every call;
//  - after finish() both directions have ended and no hole is left.
#include <array>
#include <bitset>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "dataplane/mirror/tcp_follower.hpp"

namespace {

using namespace cg::dp::mirror;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_tcp_follower: invariant violated: %s\n", what);
    std::abort();
}
void check(bool ok, const char* what) {
    if (!ok) fail(what);
}

constexpr std::size_t header_size = 9, record_size = 8;
constexpr std::size_t max_payload = 255 * 16;

std::uint8_t stream_byte(std::size_t d, std::uint32_t seq) {
    return static_cast<std::uint8_t>(((seq * 2654435761u) >> 24) ^ (d ? 0x5a : 0));
}

std::uint32_t le32(const std::uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<std::uint32_t>(p[3]) << 24; }
std::int32_t le16s(const std::uint8_t* p) { return static_cast<std::int16_t>(p[0] | p[1] << 8); }

/// Bytes the follower took, by sequence number, in a window of 2^18 around each ISN.
class seen_map {
public:
    void reset(std::uint32_t isn) {
        _base = isn + 1 - (1u << 17);
        _bits.reset();
    }
    void mark(std::uint32_t seq, std::size_t n) {
        for (std::size_t i = 0; i < n; ++i)
            if (const std::uint32_t k = seq + static_cast<std::uint32_t>(i) - _base; k < _bits.size()) _bits.set(k);
    }
    bool any(std::uint32_t seq, std::uint32_t n) const {
        // Only the part inside the window can be known.
        for (std::uint32_t i = 0; i < n && i < (1u << 19); ++i)
            if (const std::uint32_t k = seq + i - _base; k < _bits.size() && _bits.test(k)) return true;
        return false;
    }

private:
    std::uint32_t _base = 0;
    std::bitset<(1u << 18)> _bits;
};

struct side {
    bool ended = false, fin_ended = false, tainted = false, heard = false;
    bool started = false, checked = false;
    std::uint32_t start = 0;
    std::uint32_t prev_next = 0;  ///< next_seq after the previous segment: gaps before it were checked then
    std::uint64_t pos = 0, delivered = 0, lost = 0;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> gaps_now;  ///< (seq, len) during this call
};

struct checker final : tcp_sink {
    const tcp_follower* f = nullptr;
    std::array<side, 2> s;

    static std::size_t at(direction d) { return d == direction::to_server ? 0 : 1; }

    std::uint32_t start_of(direction d) {
        side& x = s[at(d)];
        const tcp_stream_info& i = f->stream(d);
        check(i.synced, "the sink heard of a direction not synchronised");
        if (!x.started) {
            x.started = true;
            x.start = i.start_seq;
        }
        check(i.start_seq == x.start, "start_seq moved");
        return x.start;
    }
    void on_data(direction d, std::span<const std::uint8_t> b) noexcept override {
        side& x = s[at(d)];
        check(!x.ended, "bytes after the end");
        check(!b.empty(), "empty on_data");
        const std::uint32_t at_seq = start_of(d) + static_cast<std::uint32_t>(x.pos);
        if (!x.tainted)
            for (std::size_t i = 0; i < b.size(); ++i)
                check(b[i] == stream_byte(at(d), at_seq + static_cast<std::uint32_t>(i)), "a byte delivered is not the stream's");
        x.heard = true;
        x.pos += b.size();
        x.delivered += b.size();
    }
    bool on_gap(direction d, std::uint32_t len) noexcept override {
        side& x = s[at(d)];
        check(!x.ended, "a gap after the end");
        if (len == gap_unknown) {
            check(!x.heard && x.pos == 0, "gap_unknown after the start");
            check(!f->stream(d).syn_seen, "gap_unknown from a side whose SYN was seen");
            x.heard = true;
            return false;
        }
        x.heard = true;
        x.gaps_now.emplace_back(start_of(d) + static_cast<std::uint32_t>(x.pos), len);
        x.pos += len;
        x.lost += len;
        return false;
    }
    void on_end(direction d, stream_end why) noexcept override {
        side& x = s[at(d)];
        check(!x.ended, "two ends");
        x.ended = true;
        x.fin_ended = why == stream_end::fin;
    }
};

void check_follower(const tcp_follower& f, checker& k, const std::array<seen_map, 2>& seen) {
    for (direction d : {direction::to_server, direction::to_client}) {
        side& x = k.s[checker::at(d)];
        const tcp_stream_info& i = f.stream(d);
        check(i.ended == x.ended, "ended differs from the sink's");
        check(i.bytes_delivered == x.delivered, "bytes_delivered differs from the sink's");
        check(i.bytes_lost == x.lost + i.gap_unreported, "bytes_lost differs from the sink's");
        check(!x.ended || i.gap_unreported == 0, "a gap unreported at the end");
        if (!i.synced) {
            check(x.pos == 0, "bytes of a direction not synchronised");
            continue;
        }
        if (!x.started) {
            x.started = true;
            x.start = i.start_seq;
        }
        if (!x.checked) x.prev_next = x.start;
        x.checked = true;
        check(i.start_seq == x.start, "start_seq moved");
        // A byte is declared lost in the call that moves next_seq past it (the
        // sink may hear of it later): only bytes seen before then must not be in it.
        if (i.gap_unreported) x.gaps_now.emplace_back(i.next_seq - i.gap_unreported, i.gap_unreported);
        for (auto [seq, len] : x.gaps_now) {
            const std::uint32_t from = seq_after(x.prev_next, seq) ? x.prev_next : seq, to = seq + len;
            if (seq_before(from, to)) check(!seen[checker::at(d)].any(from, to - from), "a gap over bytes seen");
        }
        x.gaps_now.clear();
        x.prev_next = i.next_seq;
        const std::uint32_t expect =
            x.start + static_cast<std::uint32_t>(x.pos) + i.gap_unreported + (x.fin_ended ? 1 : 0);
        check(i.next_seq == expect, "next_seq is not start + delivered + lost");
        const bool within_seen = !seq_after(i.next_seq, i.high_seq);
        const bool within_acked = i.ack_known && !seq_after(i.next_seq, i.acked);
        check(within_seen || within_acked, "next_seq past every byte seen and acknowledged");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::uint8_t hdr[header_size] = {};
    std::memcpy(hdr, data, std::min(size, header_size));
    const std::uint32_t isn[2] = {le32(hdr), le32(hdr + 4)};
    tcp_follower_config cfg;
    cfg.ooo_bytes = (1u << (hdr[8] & 15)) / 2;
    cfg.max_ahead = 1024u << ((hdr[8] >> 4) & 7);
    std::size_t storage_len = tcp_follower::storage_bytes(cfg);
    if (hdr[8] & 0x80) storage_len /= 2;
    auto storage = std::make_unique<std::uint8_t[]>(storage_len);

    static std::array<seen_map, 2> seen;  // 64 KiB: not on the stack, not per input
    seen[0].reset(isn[0]);
    seen[1].reset(isn[1]);

    checker k;
    tcp_follower f(k, cfg, {storage.get(), storage_len});
    k.f = &f;

    static std::uint8_t payload[max_payload];
    std::uint64_t calls = 0;
    for (std::size_t off = header_size; off < size; off += record_size) {
        std::uint8_t r[record_size] = {};
        std::memcpy(r, data + off, std::min(record_size, size - off));
        const std::size_t d = r[0] & 1;
        tcp_segment seg;
        seg.dir = d ? direction::to_client : direction::to_server;
        seg.flags = static_cast<std::uint8_t>((r[0] >> 1) & 0x3f);
        const std::int64_t seq_off = static_cast<std::int64_t>(le16s(r + 1)) * ((r[7] & 1) ? 1024 : 1);
        const std::int64_t ack_off = static_cast<std::int64_t>(le16s(r + 4)) * ((r[7] & 0x80) ? 1024 : 1);
        seg.seq = isn[d] + 1 + static_cast<std::uint32_t>(seq_off);
        seg.ack = isn[1 - d] + 1 + static_cast<std::uint32_t>(ack_off);
        if (r[7] & 0x20) seg.seq = static_cast<std::uint32_t>(r[1] | r[2] << 8 | r[4] << 16) | static_cast<std::uint32_t>(r[5]) << 24;
        seg.window = static_cast<std::uint16_t>(r[6] * 257);
        const std::size_t len = r[3] * ((r[7] & 2) ? 16u : 1u);

        static const std::uint8_t syn_opts[] = {2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 1, 3, 3, 7};
        static const std::uint8_t ts_opts[] = {1, 1, 8, 10, 0, 0, 1, 0, 0, 0, 0, 9};
        static const std::uint8_t bad_opts[] = {2, 0, 8, 10, 1};
        static const std::uint8_t ws15[] = {3, 3, 15};
        std::uint8_t ts_back[] = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
        ts_back[7] = static_cast<std::uint8_t>(0xff - off);  // TSvals that go up and down
        switch ((r[7] >> 2) & 7) {
        case 1: seg.options = syn_opts; break;
        case 2: seg.options = ts_opts; break;
        case 3: seg.options = bad_opts; break;
        case 4: seg.options = ws15; break;
        case 5: seg.options = ts_back; break;
        default: break;
        }

        const std::uint32_t data_seq = seg.seq + ((seg.flags & 0x02) ? 1 : 0);
        for (std::size_t i = 0; i < len; ++i)
            payload[i] = stream_byte(d, data_seq + static_cast<std::uint32_t>(i)) ^ ((r[0] & 0x80) ? 0xff : 0);
        if ((r[0] & 0x80) && len) k.s[d].tainted = true;
        seg.payload = {payload, len};

        const seg_verdict v = f.follow(seg);
        ++calls;
        check(static_cast<std::uint8_t>(v) <= static_cast<std::uint8_t>(seg_verdict::after_close), "verdict out of range");
        const bool taken = v == seg_verdict::accepted || v == seg_verdict::duplicate;
        if (taken && !(seg.flags & 0x04) && f.stream(seg.dir).synced) seen[d].mark(data_seq, len);
        check_follower(f, k, seen);
        check(f.counters().segments == calls, "segments counter");

        if (r[7] & 0x40) {
            f.finish();
            check_follower(f, k, seen);
        }
    }
    f.finish();
    check_follower(f, k, seen);
    for (direction d : {direction::to_server, direction::to_client}) {
        check(f.stream(d).ended, "a direction still open after finish()");
        check(!f.hole(d), "a hole after finish()");
    }
    return 0;
}
