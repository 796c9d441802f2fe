// The mirror parser's TCP follower: segments of both directions in, what
// the sink hears (bytes in order, gaps, ends) and what the follower knows
// out. Tables per behaviour; then the properties: any re-segmentation of
// the same streams delivers the same bytes, a loss anywhere is one gap of
// its length and never wrong bytes, sequence numbers wrap.
#include <catch2/catch.hpp>

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/mirror/tcp_follower.hpp"
#include "dataplane/pkt/wire.hpp"

using namespace cg::dp::mirror;

namespace {

using bytes = std::vector<std::uint8_t>;
constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;
constexpr direction C = direction::to_server, S = direction::to_client;  // who sends: client, server

std::size_t at(direction d) { return d == C ? 0 : 1; }
direction other(direction d) { return d == C ? S : C; }

/// Options of a SYN, encoded as a Linux client sends them.
struct syn_opts {
    std::optional<std::uint16_t> mss = 1460;
    std::optional<std::uint8_t> ws = 7;
    bool sack = true;
    std::optional<std::pair<std::uint32_t, std::uint32_t>> ts = std::pair{100u, 0u};
};

bytes ts_option(std::uint32_t tsval, std::uint32_t tsecr) {
    bytes b{1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    cg::dp::wire::store32(&b[4], tsval);
    cg::dp::wire::store32(&b[8], tsecr);
    return b;
}
bytes encode(const syn_opts& o) {
    bytes b;
    if (o.mss) {
        b.insert(b.end(), {2, 4, 0, 0});
        cg::dp::wire::store16(&b[b.size() - 2], *o.mss);
    }
    if (o.sack) b.insert(b.end(), {4, 2});
    if (o.ts) {
        const bytes t = ts_option(o.ts->first, o.ts->second);
        b.insert(b.end(), t.begin(), t.end());
    }
    if (o.ws) b.insert(b.end(), {1, 3, 3, *o.ws});
    return b;
}

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// What the sink heard of one direction.
struct heard {
    std::string data;                                           ///< delivered bytes, in order
    std::vector<std::pair<std::uint64_t, std::uint32_t>> gaps;  ///< (stream position, length)
    int joins = 0;                                              ///< on_gap(gap_unknown)
    std::vector<stream_end> ends;
    bool after_end = false;  ///< bytes or gaps after an end
    std::uint64_t pos = 0;   ///< bytes delivered + lost
};

struct recorder final : tcp_sink {
    std::array<heard, 2> h;
    bool spare = false;  ///< what on_gap answers: the layer above lost nothing it keeps
    void on_data(direction d, std::span<const std::uint8_t> b) noexcept override {
        heard& x = h[at(d)];
        x.after_end |= !x.ends.empty();
        x.data.append(reinterpret_cast<const char*>(b.data()), b.size());
        x.pos += b.size();
    }
    bool on_gap(direction d, std::uint32_t len) noexcept override {
        heard& x = h[at(d)];
        x.after_end |= !x.ends.empty();
        if (len == gap_unknown) {
            ++x.joins;
            return false;
        }
        x.gaps.emplace_back(x.pos, len);
        x.pos += len;
        return spare;
    }
    void on_end(direction d, stream_end why) noexcept override { h[at(d)].ends.push_back(why); }
};

tcp_follower_config cfg_of(std::uint32_t ooo, std::uint32_t ahead = 1u << 20) { return {ooo, ahead}; }

/// One connection under test. Offsets are stream offsets: byte `off` of a
/// direction is at sequence number isn + 1 + off.
struct conn {
    recorder rec;
    std::vector<std::uint8_t> storage;
    tcp_follower f;
    std::array<std::uint32_t, 2> isn;

    explicit conn(tcp_follower_config cfg = cfg_of(1024), std::uint32_t client_isn = 1000, std::uint32_t server_isn = 50000)
        : storage(tcp_follower::storage_bytes(cfg)), f(rec, cfg, storage), isn{client_isn, server_isn} {}

    std::uint32_t seq(direction d, std::uint32_t off) const { return isn[at(d)] + 1 + off; }
    const heard& of(direction d) const { return rec.h[at(d)]; }
    const tcp_stream_info& info(direction d) const { return f.stream(d); }

    seg_verdict raw(direction d, std::uint32_t seq, std::uint32_t ack, std::uint8_t flags, std::string_view payload = {},
                    std::uint16_t window = 1000, const bytes& options = {}) {
        tcp_segment s;
        s.dir = d;
        s.seq = seq;
        s.ack = ack;
        s.flags = flags;
        s.window = window;
        s.options = options;
        s.payload = as_bytes(payload);
        return f.follow(s);
    }
    /// Bytes from `d` at stream offset `off`, acknowledging the peer's stream up to `ack_off`.
    seg_verdict data(direction d, std::uint32_t off, std::string_view payload, std::uint32_t ack_off = 0,
                     std::uint8_t flags = ACK | PSH) {
        return raw(d, seq(d, off), seq(other(d), ack_off), flags, payload);
    }
    seg_verdict ack(direction d, std::uint32_t off, std::uint32_t ack_off) { return data(d, off, {}, ack_off, ACK); }
    seg_verdict fin(direction d, std::uint32_t off, std::uint32_t ack_off) { return data(d, off, {}, ack_off, FIN | ACK); }

    void open(const syn_opts& c = {}, const syn_opts& s = {}) {
        REQUIRE(raw(C, isn[0], 0, SYN, {}, 64240, encode(c)) == seg_verdict::accepted);
        REQUIRE(raw(S, isn[1], isn[0] + 1, SYN | ACK, {}, 65160, encode(s)) == seg_verdict::accepted);
        REQUIRE(ack(C, 0, 0) == seg_verdict::accepted);
    }
    /// FIN both ways after `c_len` client and `s_len` server bytes, and the last ACK.
    void close(std::uint32_t c_len, std::uint32_t s_len) {
        fin(C, c_len, s_len);
        fin(S, s_len, c_len + 1);
        ack(C, c_len + 1, s_len + 1);
    }
};

std::string stream_of(std::size_t n, unsigned salt) {
    std::string s(n, '\0');
    for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('!' + (i * 7 + salt * 13 + i / 26) % 90);
    return s;
}

/// The stream less the bytes in [from, to).
std::string without(const std::string& s, std::size_t from, std::size_t to) {
    return s.substr(0, from) + s.substr(to);
}

}  // namespace

// ---- building blocks ------------------------------------------------------------

TEST_CASE("sequence numbers compare modulo 2^32", "[mirror][tcp_follower]") {
    CHECK(seq_before(0xfffffff0u, 0x10u));
    CHECK(seq_after(0x10u, 0xfffffff0u));
    CHECK(seq_diff(0x10u, 0xfffffff0u) == 0x20);
    CHECK(seq_diff(0xfffffff0u, 0x10u) == -0x20);
    CHECK_FALSE(seq_before(5u, 5u));
    CHECK(seq_before(0u, 0x7fffffffu));
    CHECK(seq_after(0u, 0x80000001u));
}

TEST_CASE("TCP options are read, malformed lists are refused where they go wrong", "[mirror][tcp_follower]") {
    struct row {
        const char* what;
        bytes in;
        bool ok;
        tcp_options want;
    };
    tcp_options full;
    full.mss_seen = true, full.mss = 1460, full.wscale_seen = true, full.wscale = 7, full.sack_permitted = true;
    full.ts_seen = true, full.tsval = 100, full.tsecr = 0;
    tcp_options mss_only;
    mss_only.mss_seen = true, mss_only.mss = 536;
    tcp_options ws14;
    ws14.wscale_seen = true, ws14.wscale = 14;
    const std::vector<row> rows = {
        {"a Linux SYN's options", encode({}), true, full},
        {"nothing", {}, true, {}},
        {"NOPs and EOL; what follows EOL is padding", {1, 1, 0, 2, 4, 5, 0xb4}, true, {}},
        {"MSS alone", {2, 4, 2, 0x18}, true, mss_only},
        {"unknown kinds are skipped by their length", {0xfe, 4, 0, 0, 2, 4, 2, 0x18}, true, mss_only},
        {"SACK blocks are skipped", {5, 10, 0, 0, 0, 1, 0, 0, 0, 2, 2, 4, 2, 0x18}, true, mss_only},
        {"a length of 0", {2, 0, 2, 4}, false, {}},
        {"a length of 1", {3, 1, 7}, false, {}},
        {"a kind without its length byte", {1, 2}, false, {}},
        {"a length past the end", {8, 10, 0, 0, 0, 1}, false, {}},
        {"MSS of the wrong length", {2, 3, 5}, false, {}},
        {"timestamps of the wrong length", {8, 6, 0, 0, 0, 1}, false, {}},
        {"window scale of the wrong length", {3, 4, 7, 0}, false, {}},
        {"window scale above 14: clamped, and refused", {3, 3, 15}, false, ws14},
        {"MSS read before a fault stays", {2, 4, 2, 0x18, 3, 0}, false, mss_only},
    };
    for (const row& r : rows) {
        INFO(r.what);
        tcp_options o;
        CHECK(parse_tcp_options(r.in, o) == r.ok);
        CHECK(o.mss_seen == r.want.mss_seen);
        CHECK(o.mss == r.want.mss);
        CHECK(o.wscale_seen == r.want.wscale_seen);
        CHECK(o.wscale == r.want.wscale);
        CHECK(o.sack_permitted == r.want.sack_permitted);
        CHECK(o.ts_seen == r.want.ts_seen);
        CHECK(o.tsval == r.want.tsval);
        CHECK(o.tsecr == r.want.tsecr);
    }
}

TEST_CASE("read_tcp_segment splits a TCP header from its options and payload", "[mirror][tcp_follower]") {
    bytes h = {0x9c, 0x40, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x0a, 0x0b, 0x0c, 0x0d,
               0x60, 0x12, 0xfa, 0xf0, 0, 0, 0, 0, 2, 4, 5, 0xb4, 'h', 'i'};
    tcp_segment s;
    REQUIRE(read_tcp_segment(h, S, s));
    CHECK(s.dir == S);
    CHECK(s.seq == 0x01020304u);
    CHECK(s.ack == 0x0a0b0c0du);
    CHECK(s.flags == (SYN | ACK));
    CHECK(s.window == 0xfaf0);
    CHECK(s.options.size() == 4);
    CHECK(s.options[0] == 2);
    CHECK(s.payload.size() == 2);
    CHECK(s.payload[0] == 'h');

    CHECK_FALSE(read_tcp_segment(std::span<const std::uint8_t>(h).first(19), C, s));  // shorter than 20
    h[12] = 0x40;  // data offset 4 words
    CHECK_FALSE(read_tcp_segment(h, C, s));
    h[12] = 0x70;  // 28 bytes of header, 26 there
    CHECK_FALSE(read_tcp_segment(h, C, s));
    h[12] = 0x50;
    REQUIRE(read_tcp_segment(h, C, s));
    CHECK(s.options.empty());
    CHECK(s.payload.size() == 6);
}

// ---- handshake, window, timestamps -----------------------------------------------------

TEST_CASE("the handshake records each side's ISN and options", "[mirror][tcp_follower]") {
    conn c(cfg_of(1024), 1000, 50000);
    CHECK(c.f.state() == tcp_state::none);
    CHECK(c.f.completeness() == tcp_completeness::nothing_seen);

    syn_opts client;
    client.ws = 7, client.ts = std::pair{100u, 0u};
    syn_opts server;
    server.mss = 1400, server.ws = 9, server.ts = std::pair{7000u, 100u};
    REQUIRE(c.raw(C, 1000, 0, SYN, {}, 64240, encode(client)) == seg_verdict::accepted);
    CHECK(c.f.state() == tcp_state::syn_sent);
    CHECK(c.f.completeness() == tcp_completeness::handshake_unfinished);
    CHECK(c.raw(C, 1000, 0, SYN, {}, 64240, encode(client)) == seg_verdict::duplicate);  // SYN retransmitted
    REQUIRE(c.raw(S, 50000, 1001, SYN | ACK, {}, 65160, encode(server)) == seg_verdict::accepted);
    CHECK(c.f.state() == tcp_state::syn_received);
    CHECK(c.f.completeness() == tcp_completeness::handshake_unfinished);
    REQUIRE(c.ack(C, 0, 0) == seg_verdict::accepted);
    CHECK(c.f.state() == tcp_state::established);
    CHECK(c.f.complete());
    CHECK_FALSE(c.f.joined_mid_stream());

    const tcp_stream_info &ci = c.info(C), &si = c.info(S);
    CHECK(ci.syn_seen);
    CHECK(ci.isn == 1000);
    CHECK(ci.syn_options.mss == 1460);
    CHECK(ci.syn_options.wscale == 7);
    CHECK(ci.syn_options.sack_permitted);
    CHECK(si.isn == 50000);
    CHECK(si.syn_options.mss == 1400);
    CHECK(si.syn_options.wscale == 9);
    CHECK(c.f.window_scaling());
    CHECK(c.f.sack_permitted());
    CHECK(c.f.timestamps());
    CHECK(ci.next_seq == 1001);
    CHECK(ci.start_seq == 1001);
    CHECK(si.next_seq == 50001);
    CHECK(ci.acked == 1001);  // by the SYN-ACK
    CHECK(si.acked == 50001);  // by the third ACK
    CHECK(c.rec.h[0].joins == 0);
    CHECK(c.rec.h[1].joins == 0);
    CHECK(c.f.counters().retransmits == 1);
}

TEST_CASE("a SYN's bytes are the stream's first; a retransmitted SYN may bring them", "[mirror][tcp_follower]") {
    conn c;
    REQUIRE(c.raw(C, c.isn[0], 0, SYN, {}, 64240, encode({})) == seg_verdict::accepted);
    CHECK(c.raw(C, c.isn[0], 0, SYN, "GET", 64240, encode({})) == seg_verdict::accepted);  // as TCP Fast Open retries
    CHECK(c.of(C).data == "GET");
    CHECK(c.raw(C, c.isn[0], 0, SYN, "GET", 64240, encode({})) == seg_verdict::duplicate);
    CHECK(c.f.counters().retransmits == 1);
    c.raw(S, c.isn[1], c.isn[0] + 4, SYN | ACK, {}, 65160, encode({}));
    c.ack(C, 3, 0);
    std::string big(60000, 'x');
    for (std::uint32_t off = 3; off < 3 + 20 * big.size(); off += static_cast<std::uint32_t>(big.size()))
        c.data(C, off, big);
    // The SYN again, 1.2 MB later: more than max_ahead (1 MiB) behind, out of window.
    CHECK(c.raw(C, c.isn[0], 0, SYN, "GET", 64240, encode({})) == seg_verdict::out_of_window);
    CHECK(c.of(C).data.size() == 3 + 20 * big.size());
    CHECK(c.of(C).gaps.empty());
}

TEST_CASE("options one side left out are not in use", "[mirror][tcp_follower]") {
    conn c;
    syn_opts server;
    server.ws.reset(), server.sack = false, server.ts.reset();
    c.open({}, server);
    CHECK_FALSE(c.f.window_scaling());
    CHECK_FALSE(c.f.sack_permitted());
    CHECK_FALSE(c.f.timestamps());
    c.raw(C, c.seq(C, 0), c.seq(S, 0), ACK, {}, 500);
    CHECK(c.info(C).window == 500);  // the client's shift (7) is not in use
    CHECK(c.info(C).window_scaled);
}

TEST_CASE("windows are scaled by their sender's shift once both SYNs are seen; SYN windows never", "[mirror][tcp_follower]") {
    conn c;
    syn_opts client, server;
    client.ws = 7, server.ws = 2;
    REQUIRE(c.raw(C, c.isn[0], 0, SYN, {}, 64240, encode(client)) == seg_verdict::accepted);
    CHECK(c.info(C).window == 64240);
    CHECK(c.info(C).window_scaled);
    REQUIRE(c.raw(S, c.isn[1], c.isn[0] + 1, SYN | ACK, {}, 65160, encode(server)) == seg_verdict::accepted);
    CHECK(c.info(S).window == 65160);
    c.raw(C, c.seq(C, 0), c.seq(S, 0), ACK, {}, 502);
    CHECK(c.info(C).window == 502u << 7);
    c.raw(S, c.seq(S, 0), c.seq(C, 0), ACK, {}, 0xffff);
    CHECK(c.info(S).window == 0xffffu << 2);
    CHECK(c.info(S).window_scaled);
}

TEST_CASE("the latest TSval each side sent is kept, as PAWS compares them", "[mirror][tcp_follower]") {
    conn c;
    c.open();
    CHECK(c.info(C).tsval == 100);
    auto with_ts = [&](direction d, std::uint32_t tsval, std::uint32_t tsecr) {
        return c.raw(d, c.seq(d, 0), c.seq(other(d), 0), ACK, {}, 1000, ts_option(tsval, tsecr));
    };
    with_ts(S, 7000, 100);
    CHECK(c.info(S).ts_seen);
    CHECK(c.info(S).tsval == 7000);
    CHECK(c.info(S).tsecr == 100);
    with_ts(C, 5, 7000);  // an old segment copied late: earlier
    CHECK(c.info(C).tsval == 100);
    for (std::uint32_t ts : {0x60000000u, 0xc0000000u, 0xfffffff0u, 0x10u}) with_ts(C, ts, 7000);  // wraps: later
    CHECK(c.info(C).tsval == 0x10);
    with_ts(C, 0xfffffff8u, 7000);  // an old segment copied late: earlier
    CHECK(c.info(C).tsval == 0x10);
    CHECK(c.info(C).tsecr == 7000);
}

// ---- anomalies ---------------------------------------------------------------------------

TEST_CASE("bad and unexpected segments are counted by reason and change nothing", "[mirror][tcp_follower]") {
    using counter = std::uint64_t tcp_follower_counters::*;
    struct row {
        const char* what;
        bool established;  ///< after a whole handshake (or on a fresh follower)
        direction d;
        std::int64_t seq_off;  ///< from the sender's next byte (its ISN on a fresh follower)
        std::int64_t ack_off;  ///< from the peer's next byte
        std::uint8_t flags;
        std::string payload;
        seg_verdict verdict;
        counter counted;
        bytes options = {};
    };
    const std::vector<row> rows = {
        {"SYN+FIN", false, C, 0, 0, SYN | FIN, "", seg_verdict::bad_flags, &tcp_follower_counters::bad_flags},
        {"SYN+RST", false, C, 0, 0, SYN | RST, "", seg_verdict::bad_flags, &tcp_follower_counters::bad_flags},
        {"no flag at all", true, C, 0, 0, 0, "x", seg_verdict::bad_flags, &tcp_follower_counters::bad_flags},
        {"FIN without ACK", true, C, 0, 0, FIN, "", seg_verdict::bad_flags, &tcp_follower_counters::bad_flags},
        {"PSH without ACK", true, C, 0, 0, PSH, "x", seg_verdict::bad_flags, &tcp_follower_counters::bad_flags},
        {"a SYN from the server", false, S, 0, 0, SYN, "", seg_verdict::bad_handshake,
         &tcp_follower_counters::bad_handshake},
        {"a SYN-ACK from the client", false, C, 0, 0, SYN | ACK, "", seg_verdict::bad_handshake,
         &tcp_follower_counters::bad_handshake},
        {"a SYN with another ISN once established", true, C, 77, 0, SYN, "", seg_verdict::bad_handshake,
         &tcp_follower_counters::unexpected_syn},
        {"a SYN-ACK with another ISN once established", true, S, 77, 0, SYN | ACK, "", seg_verdict::bad_handshake,
         &tcp_follower_counters::unexpected_syn},
        {"data far past the window", true, C, 1 << 21, 0, ACK, "x", seg_verdict::out_of_window,
         &tcp_follower_counters::out_of_window},
        {"data far before the window", true, C, -(1 << 21), 0, ACK, "x", seg_verdict::out_of_window,
         &tcp_follower_counters::out_of_window},
        {"an RST out of window", true, S, 1 << 21, 0, RST, "", seg_verdict::out_of_window,
         &tcp_follower_counters::rst_out_of_window},
        {"a payload longer than max_ahead", true, C, 0, 0, ACK, std::string((1 << 20) + 1, 'x'),
         seg_verdict::bad_length, &tcp_follower_counters::bad_length},
        {"an ACK far past the peer's bytes", true, C, 0, 1 << 21, ACK, "", seg_verdict::accepted,
         &tcp_follower_counters::ack_out_of_window},
        {"malformed options: counted, the segment still taken", true, C, 0, 0, ACK, "ab", seg_verdict::accepted,
         &tcp_follower_counters::bad_options, bytes{2, 0}},
    };
    for (const row& r : rows) {
        INFO(r.what);
        conn c;
        if (r.established) c.open();
        const tcp_follower_counters before = c.f.counters();
        const tcp_state state = c.f.state();
        const std::uint32_t seq = static_cast<std::uint32_t>(
            (r.established ? c.info(r.d).next_seq : c.isn[at(r.d)]) + r.seq_off);
        const std::uint32_t ack = static_cast<std::uint32_t>(
            (r.established ? c.info(other(r.d)).next_seq : c.isn[at(other(r.d))] + 1) + r.ack_off);
        CHECK(c.raw(r.d, seq, ack, r.flags, r.payload, 1000, r.options) == r.verdict);
        CHECK(c.f.counters().*r.counted == before.*r.counted + 1);
        CHECK(c.f.counters().segments == before.segments + 1);
        CHECK(c.f.state() == state);
        if (r.verdict != seg_verdict::accepted) {
            CHECK(c.of(C).data.empty());
            CHECK(c.of(S).data.empty());
        }
        CHECK(c.of(C).gaps.empty());
        CHECK(c.of(C).ends.empty());
        if (r.established) CHECK(c.f.complete());
    }
}

TEST_CASE("a SYN-ACK that does not acknowledge the SYN is refused", "[mirror][tcp_follower]") {
    conn c;
    c.raw(C, c.isn[0], 0, SYN, {}, 64240, encode({}));
    CHECK(c.raw(S, c.isn[1], c.isn[0] + 2, SYN | ACK, {}, 100, encode({})) == seg_verdict::bad_handshake);
    CHECK(c.f.counters().bad_handshake == 1);
    CHECK(c.f.state() == tcp_state::syn_sent);
    CHECK_FALSE(c.info(S).syn_seen);
    CHECK(c.raw(C, c.isn[0] + 5, 0, SYN, {}, 64240, encode({})) == seg_verdict::bad_handshake);  // another ISN
    CHECK(c.f.counters().unexpected_syn == 1);
    CHECK(c.info(C).isn == c.isn[0]);
}

// ---- reassembly ----------------------------------------------------------------------------

TEST_CASE("segments are delivered in order, each byte once", "[mirror][tcp_follower]") {
    struct piece {
        std::uint32_t off;
        std::string bytes;
        seg_verdict verdict;
    };
    struct row {
        const char* what;
        std::vector<piece> pieces;
        std::string delivered;
        std::uint64_t retransmits, overlaps, reordered;
        bool hole;  ///< bytes missing at the end
    };
    const std::vector<row> rows = {
        {"in order", {{0, "abc", seg_verdict::accepted}, {3, "def", seg_verdict::accepted}}, "abcdef", 0, 0, 0, false},
        {"an exact duplicate",
         {{0, "abc", seg_verdict::accepted}, {0, "abc", seg_verdict::duplicate}, {3, "d", seg_verdict::accepted}},
         "abcd", 1, 0, 0, false},
        {"a retransmission overlapping delivered bytes is trimmed",
         {{0, "abc", seg_verdict::accepted}, {1, "bcdef", seg_verdict::accepted}}, "abcdef", 0, 1, 0, false},
        {"a retransmission inside delivered bytes",
         {{0, "abcdef", seg_verdict::accepted}, {2, "cd", seg_verdict::duplicate}}, "abcdef", 1, 0, 0, false},
        {"out of order: held, then delivered when the hole fills",
         {{3, "def", seg_verdict::accepted}, {0, "abc", seg_verdict::accepted}}, "abcdef", 0, 0, 1, false},
        {"held twice: the second copy adds nothing",
         {{3, "def", seg_verdict::accepted}, {3, "def", seg_verdict::duplicate}, {0, "abc", seg_verdict::accepted}},
         "abcdef", 1, 0, 1, false},
        {"overlapping held ranges merge",
         {{6, "ghi", seg_verdict::accepted},
          {3, "defg", seg_verdict::accepted},
          {8, "ijk", seg_verdict::accepted},
          {0, "abc", seg_verdict::accepted}},
         "abcdefghijk", 0, 2, 3, false},
        {"a segment covering the hole and held bytes",
         {{4, "ef", seg_verdict::accepted}, {0, "abcdefgh", seg_verdict::accepted}}, "abcdefgh", 0, 1, 1, false},
        {"held ranges on both sides of a segment, and one left behind a hole",
         {{2, "c", seg_verdict::accepted},
          {6, "g", seg_verdict::accepted},
          {10, "k", seg_verdict::accepted},
          {0, "ab", seg_verdict::accepted},
          {3, "defgh", seg_verdict::accepted}},
         "abcdefgh", 0, 1, 3, true},
        {"nothing yet delivered: only held", {{5, "xyz", seg_verdict::accepted}}, "", 0, 0, 1, true},
    };
    for (const row& r : rows) {
        INFO(r.what);
        conn c;
        c.open();
        for (const piece& p : r.pieces) CHECK(c.data(C, p.off, p.bytes) == p.verdict);
        CHECK(c.of(C).data == r.delivered);
        CHECK(c.of(C).gaps.empty());
        CHECK(c.f.counters().retransmits == r.retransmits);
        CHECK(c.f.counters().overlaps == r.overlaps);
        CHECK(c.f.counters().reordered == r.reordered);
        CHECK(c.f.hole(C) == r.hole);
        CHECK(c.f.completeness() == (r.hole ? tcp_completeness::hole_to_server : tcp_completeness::complete));
        CHECK(c.info(C).bytes_delivered == r.delivered.size());
    }
}

TEST_CASE("a retransmission contradicting held bytes is counted; the first copy wins", "[mirror][tcp_follower]") {
    conn c;
    c.open();
    c.data(C, 3, "def");
    c.data(C, 3, "DEF");
    c.data(C, 2, "CDEFG");  // new bytes around the held ones: only those are taken
    c.data(C, 0, "ab");
    CHECK(c.of(C).data == "abCdefG");
    CHECK(c.f.counters().overlap_mismatch == 2);
}

namespace {

/// One segment of a plan: a direction's stream bytes [off, off + len), or its FIN at off.
struct step {
    direction d;
    std::uint32_t off, len;
    bool fin = false;
};

/// Runs a plan in its order; every segment acknowledges the peer's bytes
/// seen so far without a hole (what the receiver has: the mirror sees the
/// receiver's port in order). Returns the follower's verdict for each.
void run(conn& c, const std::vector<step>& plan, const std::array<std::string, 2>& streams) {
    std::array<std::vector<bool>, 2> seen{std::vector<bool>(streams[0].size() + 1),
                                          std::vector<bool>(streams[1].size() + 1)};
    auto prefix = [&](direction d) {
        std::uint32_t n = 0;
        while (n < seen[at(d)].size() && seen[at(d)][n]) ++n;
        return n;
    };
    for (const step& s : plan) {
        const std::string_view bytes = std::string_view(streams[at(s.d)]).substr(s.off, s.len);
        c.data(s.d, s.off, bytes, prefix(other(s.d)), s.fin ? FIN | ACK : ACK | PSH);
        for (std::uint32_t i = s.off; i < s.off + s.len; ++i) seen[at(s.d)][i] = true;
        if (s.fin) seen[at(s.d)][s.off] = true;
    }
}

void check_delivered_whole(const conn& c, const std::array<std::string, 2>& streams) {
    for (direction d : {C, S}) {
        INFO((d == C ? "client's stream" : "server's stream"));
        CHECK(c.of(d).data == streams[at(d)]);
        CHECK(c.of(d).gaps.empty());
        CHECK(c.of(d).ends == std::vector<stream_end>{stream_end::fin});
        CHECK_FALSE(c.of(d).after_end);
    }
    CHECK(c.f.state() == tcp_state::closed);
    CHECK(c.f.complete());
}

/// Pieces of [0, n) cut after every offset whose bit is set in `cuts`.
std::vector<std::pair<std::uint32_t, std::uint32_t>> pieces_of(std::uint32_t n, std::uint32_t cuts) {
    std::vector<std::pair<std::uint32_t, std::uint32_t>> out;
    std::uint32_t from = 0;
    for (std::uint32_t i = 1; i <= n; ++i)
        if (i == n || (cuts >> (i - 1) & 1)) {
            out.emplace_back(from, i - from);
            from = i;
        }
    return out;
}

}  // namespace

TEST_CASE("every segmentation of the same streams delivers the same bytes", "[mirror][tcp_follower][property]") {
    // Every way of cutting 12 bytes (each of 11 cut points in or out), sent
    // in order, in reverse, each piece twice, or coalesced into one
    // retransmission of everything after its first half; the server's
    // stream cut the other way, interleaved.
    constexpr std::uint32_t n = 12;
    const std::array<std::string, 2> streams{stream_of(n, 1), stream_of(n, 2)};
    const std::uint32_t isns[] = {1000, 0xfffffffau};
    for (std::uint32_t isn : isns)
        for (std::uint32_t cuts = 0; cuts < (1u << (n - 1)); ++cuts)
            for (int variant = 0; variant < 4; ++variant) {
                INFO("cuts " << cuts << " variant " << variant << " isn " << isn);
                std::array<std::vector<step>, 2> plans;
                for (direction d : {C, S}) {
                    auto pieces = pieces_of(n, d == C ? cuts : ~cuts & ((1u << (n - 1)) - 1));
                    std::vector<step>& p = plans[at(d)];
                    for (auto [off, len] : pieces) p.push_back({d, off, len});
                    if (variant == 1) std::reverse(p.begin(), p.end());
                    if (variant == 2) {
                        std::vector<step> twice;
                        for (const step& s : p) twice.insert(twice.end(), {s, s});
                        p = twice;
                    }
                    if (variant == 3) {
                        p.resize((p.size() + 1) / 2);
                        p.push_back({d, 0, n});
                    }
                    p.push_back({d, n, 0, true});
                }
                std::vector<step> plan;
                for (std::size_t i = 0; i < std::max(plans[0].size(), plans[1].size()); ++i)
                    for (auto& p : plans)
                        if (i < p.size()) plan.push_back(p[i]);
                conn c(cfg_of(1024), isn, isn + 0x40000000u);
                c.open();
                run(c, plan, streams);
                c.ack(C, n + 1, n + 1);
                check_delivered_whole(c, streams);
                CHECK(c.f.counters().gaps == 0);
            }
}

TEST_CASE("random segmentation, duplicates, coalescing and bounded reordering deliver the same bytes",
          "[mirror][tcp_follower][property]") {
    std::mt19937 rng(20240611);
    auto uniform = [&](std::uint32_t lo, std::uint32_t hi) { return std::uniform_int_distribution<std::uint32_t>(lo, hi)(rng); };
    constexpr std::uint32_t ooo = 64, max_seg = 9, max_shift = 4;  // a piece moves at most 4 places: 40 < 64 bytes ahead
    int runs = 0;
    for (int trial = 0; trial < 400; ++trial) {
        const std::array<std::string, 2> streams{stream_of(uniform(1, 300), trial), stream_of(uniform(0, 300), trial + 1)};
        std::array<std::vector<step>, 2> plans;
        for (direction d : {C, S}) {
            const std::uint32_t n = static_cast<std::uint32_t>(streams[at(d)].size());
            std::vector<step> p;
            for (std::uint32_t off = 0; off < n;) {
                const std::uint32_t len = std::min(uniform(1, max_seg), n - off);
                p.push_back({d, off, len});
                off += len;
                if (uniform(0, 9) == 0) p.push_back(p[uniform(0, static_cast<std::uint32_t>(p.size()) - 1)]);  // a duplicate
                if (uniform(0, 14) == 0) {  // a retransmission coalescing the last few pieces
                    const std::uint32_t from = p[p.size() - std::min<std::size_t>(p.size(), uniform(1, 4))].off;
                    p.push_back({d, from, off - from});
                }
            }
            p.push_back({d, n, 0, true});
            for (std::size_t i = 0; i + 1 < p.size(); ++i)  // bounded reordering: a piece moves ahead a few places
                if (uniform(0, 3) == 0) {
                    const std::size_t to = std::min(p.size() - 1, i + uniform(1, max_shift));
                    std::rotate(p.begin() + i, p.begin() + i + 1, p.begin() + to + 1);
                }
            plans[at(d)] = p;
        }
        // Skip a draw whose reordering reaches past the ring (rare with these bounds).
        bool bounded = true;
        for (const auto& p : plans) {
            std::vector<bool> have(1000);
            std::uint32_t next = 0;
            for (const step& s : p) {
                if (s.off + s.len > next + ooo) bounded = false;
                for (std::uint32_t i = s.off; i < s.off + s.len; ++i) have[i] = true;
                while (have[next]) ++next;
            }
        }
        if (!bounded) continue;
        std::vector<step> plan;
        std::size_t i0 = 0, i1 = 0;
        while (i0 < plans[0].size() || i1 < plans[1].size())
            if (i1 == plans[1].size() || (i0 < plans[0].size() && uniform(0, 1)))
                plan.push_back(plans[0][i0++]);
            else
                plan.push_back(plans[1][i1++]);
        const std::uint32_t isn = uniform(0, 3) == 0 ? 0xffffff00u + uniform(0, 255) : static_cast<std::uint32_t>(rng());
        INFO("trial " << trial << " isn " << isn);
        conn c(cfg_of(ooo), isn, static_cast<std::uint32_t>(rng()));
        c.open();
        run(c, plan, streams);
        check_delivered_whole(c, streams);
        CHECK(c.f.counters().gaps == 0);
        CHECK(c.f.counters().ooo_full == 0);
        ++runs;
    }
    CHECK(runs > 300);
}

// ---- gaps ----------------------------------------------------------------------------------------

TEST_CASE("a loss anywhere, acknowledged by the receiver, is one gap of its length", "[mirror][tcp_follower][gap]") {
    // 10 segments of 3 bytes; segments i..j never reach the mirror, the
    // server acknowledges each segment as it gets it.
    constexpr std::uint32_t seg = 3, n_seg = 10, n = seg * n_seg;
    const std::array<std::string, 2> streams{stream_of(n, 5), ""};
    for (std::uint32_t isn : {1000u, 0xfffffff0u})
        for (std::uint32_t i = 0; i < n_seg; ++i)
            for (std::uint32_t j = i; j < n_seg; ++j) {
                INFO("lost segments " << i << ".." << j << " isn " << isn);
                conn c(cfg_of(1024), isn, 7);
                c.open();
                for (std::uint32_t k = 0; k < n_seg; ++k) {
                    if (k < i || k > j) c.data(C, k * seg, std::string_view(streams[0]).substr(k * seg, seg));
                    c.ack(S, 0, (k + 1) * seg);
                }
                c.close(n, 0);
                const heard& h = c.of(C);
                REQUIRE(h.gaps.size() == 1);
                CHECK(h.gaps[0].first == i * seg);
                CHECK(h.gaps[0].second == (j - i + 1) * seg);
                CHECK(h.data == without(streams[0], i * seg, (j + 1) * seg));
                CHECK(h.ends == std::vector<stream_end>{stream_end::fin});
                CHECK(c.info(C).gaps == 1);
                CHECK(c.info(C).bytes_lost == (j - i + 1) * seg);
                CHECK(c.info(C).bytes_delivered + c.info(C).bytes_lost == n);
                CHECK(c.f.completeness() == tcp_completeness::gap_to_server);
                CHECK(c.f.counters().gaps == 1);
                CHECK(c.f.state() == tcp_state::closed);
            }
}

TEST_CASE("a loss the receiver acknowledges only at the end is one gap too", "[mirror][tcp_follower][gap]") {
    // No ACK until the FIN's: the loss shows when the FIN is acknowledged.
    constexpr std::uint32_t n = 24;
    const std::string s = stream_of(n, 9);
    for (std::uint32_t from = 0; from < n; ++from)
        for (std::uint32_t to = from + 1; to <= n; ++to) {
            INFO("lost bytes " << from << ".." << to);
            conn c(cfg_of(64));
            c.open();
            for (std::uint32_t k = 0; k < n; k += 4) {  // 4-byte segments, less the lost bytes
                if (k < from) c.data(C, k, std::string_view(s).substr(k, std::min(k + 4, from) - k));
                if (k + 4 > to) c.data(C, std::max(k, to), std::string_view(s).substr(std::max(k, to), k + 4 - std::max(k, to)));
            }
            c.fin(C, n, 0);
            CHECK(c.of(C).gaps.empty());  // nothing acknowledged yet: a hole, not a gap
            CHECK(c.f.completeness() == tcp_completeness::hole_to_server);
            c.ack(S, 0, n + 1);
            REQUIRE(c.of(C).gaps.size() == 1);
            CHECK(c.of(C).gaps[0] == std::pair<std::uint64_t, std::uint32_t>{from, to - from});
            CHECK(c.of(C).data == without(s, from, to));
            CHECK(c.of(C).ends == std::vector<stream_end>{stream_end::fin});
        }
}

TEST_CASE("an ACK the mirror copies ahead of the data it acknowledges is no gap", "[mirror][tcp_follower][gap]") {
    conn c;
    c.open();
    c.data(C, 0, "abc");
    c.ack(S, 0, 6);  // copied before the client's "def"
    CHECK(c.f.hole(C));
    CHECK(c.f.completeness() == tcp_completeness::hole_to_server);
    c.data(C, 3, "def");
    CHECK(c.of(C).data == "abcdef");
    CHECK(c.of(C).gaps.empty());
    CHECK(c.f.complete());
    // The same, with the sender seen past the bytes: now they are lost.
    c.ack(S, 0, 9);
    CHECK(c.of(C).gaps.empty());
    c.data(C, 9, "jkl");
    CHECK(c.of(C).gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{6, 3}});
    CHECK(c.of(C).data == "abcdefjkl");
    CHECK(c.f.completeness() == tcp_completeness::gap_to_server);
}

TEST_CASE("gaps declared one after the other, with no byte between, are one report", "[mirror][tcp_follower][gap]") {
    conn c;
    c.open();
    const std::string s = stream_of(20, 4);
    c.data(C, 0, s.substr(0, 2));
    c.ack(S, 0, 5);  // the receiver has 0..5: the mirror lost 2..15
    c.data(C, 15, s.substr(15, 5));  // the sender seen past them: 2..5 given up
    CHECK(c.info(C).bytes_lost == 3);
    CHECK(c.info(C).gap_unreported == 3);  // the sink hears of it before the next bytes
    CHECK(c.of(C).gaps.empty());
    CHECK(c.f.hole(C));  // 5..15 not acknowledged yet
    c.ack(S, 0, 20);  // now they are: 5..15 given up, adjacent to 2..5
    REQUIRE(c.of(C).gaps.size() == 1);
    CHECK(c.of(C).gaps[0] == std::pair<std::uint64_t, std::uint32_t>{2, 13});
    CHECK(c.of(C).data == without(s, 2, 15));
    CHECK(c.info(C).gap_unreported == 0);
    CHECK(c.info(C).gaps == 1);
    CHECK(c.f.counters().gaps == 1);
}

TEST_CASE("a gap its sink spared is forgiven once the receiver acknowledges past it", "[mirror][tcp_follower][gap]") {
    for (const bool spare : {false, true}) {
        CAPTURE(spare);
        // The server's 4 bytes at 0 never reach the mirror; 16 bytes of ring
        // give them up, unacknowledged (as in the next test).
        conn c(cfg_of(16));
        c.rec.spare = spare;
        c.open();
        const std::string s = stream_of(40, 3);
        for (std::uint32_t off = 4; off < 40; off += 4) c.data(S, off, std::string_view(s).substr(off, 4));
        REQUIRE(c.of(S).gaps.size() == 1);
        CHECK(c.info(S).gaps_spared == (spare ? 1u : 0u));
        // Not acknowledged yet: the client may not have them, a restore would need them.
        CHECK(c.f.completeness() == tcp_completeness::gap_to_client);
        c.ack(C, 0, 3);  // not past the gap's end
        CHECK(c.f.completeness() == tcp_completeness::gap_to_client);
        c.ack(C, 0, 40);
        CHECK(c.f.completeness() == (spare ? tcp_completeness::complete : tcp_completeness::gap_to_client));
        // A later gap the sink did not spare is never forgiven.
        c.rec.spare = false;
        for (std::uint32_t off = 44; off < 80; off += 4) c.data(S, off, std::string_view(stream_of(80, 3)).substr(off, 4));
        c.ack(C, 0, 80);
        CHECK(c.info(S).gaps == 2);
        CHECK(c.f.completeness() == tcp_completeness::gap_to_client);
    }
}

TEST_CASE("a full ring gives up its oldest hole", "[mirror][tcp_follower][gap]") {
    // 16 bytes of ring; the 4 bytes at 0 never come and nothing is acknowledged.
    conn c(cfg_of(16));
    c.open();
    const std::string s = stream_of(40, 3);
    for (std::uint32_t off = 4; off < 40; off += 4) c.data(C, off, std::string_view(s).substr(off, 4));
    REQUIRE(c.of(C).gaps.size() == 1);
    CHECK(c.of(C).gaps[0] == std::pair<std::uint64_t, std::uint32_t>{0, 4});
    CHECK(c.of(C).data == s.substr(4));
    CHECK(c.f.counters().ooo_full == 1);
    CHECK(c.f.counters().gaps == 1);
    CHECK(c.f.counters().gap_bytes == 4);
    c.data(C, 0, s.substr(0, 4));  // too late: trimmed, never delivered
    CHECK(c.of(C).data == s.substr(4));
    CHECK(c.f.completeness() == tcp_completeness::gap_to_server);
}

TEST_CASE("a segment too long for the ring gives up only the hole before it", "[mirror][tcp_follower][gap]") {
    conn c(cfg_of(16));
    c.open();
    const std::string s = stream_of(40, 6);
    c.data(C, 8, s.substr(8, 4));
    c.data(C, 4, s.substr(4, 36));  // starts before the held bytes, ends past the ring
    CHECK(c.of(C).gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0, 4}});
    CHECK(c.of(C).data == s.substr(4));
    CHECK(c.f.counters().ooo_full == 1);
}

TEST_CASE("too many held ranges give up the oldest hole", "[mirror][tcp_follower][gap]") {
    conn c(cfg_of(1024));
    c.open();
    // Every other byte, from 1: each a range of its own.
    for (std::uint32_t k = 0; k < tcp_follower::max_held_ranges; ++k) c.data(C, 2 * k + 1, "x");
    CHECK(c.of(C).gaps.empty());
    CHECK(c.data(C, 2 * tcp_follower::max_held_ranges + 1, "y") == seg_verdict::accepted);
    REQUIRE(c.of(C).gaps.size() == 1);
    CHECK(c.of(C).gaps[0] == std::pair<std::uint64_t, std::uint32_t>{0, 1});
    CHECK(c.of(C).data == "x");
    CHECK(c.f.counters().ooo_full == 1);
    c.data(C, 4, "x");  // full again, but touching two held ranges: they merge, no room needed
    CHECK(c.f.counters().ooo_full == 1);
    CHECK(c.of(C).data == "x");
    c.data(C, 2, "x");
    CHECK(c.of(C).data == "xxxxx");
    CHECK(c.of(C).gaps.size() == 1);
}

TEST_CASE("without storage every reordering is a gap, never wrong bytes", "[mirror][tcp_follower][gap]") {
    recorder rec;
    tcp_follower f(rec, cfg_of(1024), {});
    CHECK(f.config().ooo_bytes == 0);
    auto send = [&](std::uint32_t seq, std::uint8_t flags, std::string_view p = {}) {
        tcp_segment s;
        s.dir = C;
        s.seq = seq;
        s.flags = flags;
        s.payload = as_bytes(p);
        return f.follow(s);
    };
    send(10, SYN);
    send(14, ACK, "def");
    send(11, ACK, "abc");
    CHECK(rec.h[0].data == "def");
    CHECK(rec.h[0].gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{0, 3}});
}

TEST_CASE("storage shorter than asked shrinks the ring to fit", "[mirror][tcp_follower]") {
    recorder rec;
    std::vector<std::uint8_t> storage(100);
    tcp_follower f(rec, cfg_of(1024), storage);
    CHECK(f.config().ooo_bytes == 32);  // two rings of the largest power of two in 100 / 2
    CHECK(tcp_follower::storage_bytes(cfg_of(1000)) == 2048);
    CHECK(tcp_follower::storage_bytes(cfg_of(0)) == 0);
}

TEST_CASE("an RST or finish() gives up what is missing: held bytes after their holes", "[mirror][tcp_follower][gap]") {
    for (bool by_rst : {true, false}) {
        INFO((by_rst ? "RST" : "finish()"));
        conn c;
        c.open();
        c.data(C, 0, "ab");
        c.data(C, 4, "ef");
        c.data(C, 8, "ij");
        c.data(S, 0, "xyz");
        c.ack(C, 10, 6);  // the server's bytes 3..6 acknowledged, never seen
        CHECK(c.of(S).gaps.empty());
        if (by_rst)
            c.raw(S, c.seq(S, 6), 0, RST);
        else
            c.f.finish();
        const stream_end why = by_rst ? stream_end::reset : stream_end::abandoned;
        CHECK(c.of(C).data == "abefij");
        CHECK(c.of(C).gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{2, 2}, {6, 2}});
        CHECK(c.of(C).ends == std::vector<stream_end>{why});
        CHECK(c.of(S).data == "xyz");
        CHECK(c.of(S).gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{3, 3}});
        CHECK(c.of(S).ends == std::vector<stream_end>{why});
        CHECK(c.f.state() == (by_rst ? tcp_state::reset : tcp_state::established));
        CHECK(c.data(C, 10, "k") == seg_verdict::after_close);
        CHECK(c.f.counters().after_close == 1);
        CHECK(c.of(C).data == "abefij");
    }
}

// ---- wraparound ----------------------------------------------------------------------------------

TEST_CASE("sequence numbers wrap: delivery, holes and gaps across 2^32", "[mirror][tcp_follower][wrap]") {
    conn c(cfg_of(16), 0xfffffff8u, 0xfffffffeu);  // the ring's slots wrap too
    c.open();
    CHECK(c.info(C).next_seq == 0xfffffff9u);
    c.data(C, 0, "abcd");
    c.data(C, 12, "mnop");  // at 0x5: held past the wrap
    c.data(C, 4, "efgh");   // 0xfffffffd..0x1
    CHECK(c.of(C).data == "abcdefgh");
    c.ack(S, 0, 16);  // 8..12 acknowledged, unseen; the sender was seen past them
    CHECK(c.of(C).gaps == std::vector<std::pair<std::uint64_t, std::uint32_t>>{{8, 4}});
    CHECK(c.of(C).data == "abcdefghmnop");
    CHECK(c.info(C).next_seq == 0x9u);
    c.data(S, 0, "server");
    CHECK(c.of(S).data == "server");
    c.close(16, 6);
    CHECK(c.f.state() == tcp_state::closed);
    CHECK(c.info(C).next_seq == 0xau);
}

// ---- joining mid-stream ----------------------------------------------------------------------------

TEST_CASE("joining mid-stream follows the bytes but is never complete", "[mirror][tcp_follower]") {
    conn c;
    REQUIRE(c.raw(C, 7000, 9000, ACK | PSH, "GET", 1234) == seg_verdict::accepted);
    CHECK(c.f.joined_mid_stream());
    CHECK(c.f.state() == tcp_state::established);
    CHECK(c.f.completeness() == tcp_completeness::joined_mid_stream);
    CHECK(c.of(C).joins == 1);  // "bytes came before": the framer resynchronises
    CHECK(c.of(C).data == "GET");
    CHECK(c.info(C).start_seq == 7000);
    CHECK(c.info(C).next_seq == 7003);
    CHECK(c.info(C).window == 1234);
    CHECK_FALSE(c.info(C).window_scaled);  // the shift is unknown
    CHECK(c.info(S).ack_known);
    CHECK(c.info(S).acked == 9000);
    CHECK_FALSE(c.info(S).synced);
    c.raw(C, 7003, 9000, ACK | PSH, " /");
    REQUIRE(c.raw(S, 9000, 7005, ACK | PSH, "200") == seg_verdict::accepted);
    CHECK(c.of(S).joins == 1);
    CHECK(c.of(S).data == "200");
    CHECK(c.of(C).data == "GET /");
    c.raw(C, 7005, 9003, FIN | ACK);
    c.raw(S, 9003, 7006, FIN | ACK);
    CHECK(c.f.state() == tcp_state::closed);
    CHECK(c.f.completeness() == tcp_completeness::joined_mid_stream);
}

TEST_CASE("a SYN-ACK first is joining mid-stream too: the client's options are unknown", "[mirror][tcp_follower]") {
    conn c;
    REQUIRE(c.raw(S, 50000, 1001, SYN | ACK, {}, 65160, encode({})) == seg_verdict::accepted);
    CHECK(c.f.state() == tcp_state::syn_received);
    CHECK(c.f.completeness() == tcp_completeness::joined_mid_stream);
    c.ack(C, 0, 0);
    CHECK(c.f.state() == tcp_state::established);
    CHECK(c.f.completeness() == tcp_completeness::joined_mid_stream);
    CHECK(c.of(C).joins == 1);
    CHECK(c.of(S).joins == 0);
}

TEST_CASE("a missed SYN-ACK leaves the connection incomplete", "[mirror][tcp_follower]") {
    conn c;
    c.raw(C, c.isn[0], 0, SYN, {}, 64240, encode({}));
    c.ack(C, 0, 0);
    CHECK(c.f.state() == tcp_state::established);
    CHECK(c.f.completeness() == tcp_completeness::handshake_missed);
}

// ---- closing -------------------------------------------------------------------------------------

TEST_CASE("FIN each way ends each stream; the state follows", "[mirror][tcp_follower]") {
    for (direction first : {C, S}) {
        INFO((first == C ? "client closes first" : "server closes first"));
        conn c;
        c.open();
        c.data(C, 0, "req");
        c.data(S, 0, "reply", 3);
        const std::uint32_t len[2] = {3, 5};
        auto fin = [&](direction d) { return c.fin(d, len[at(d)], len[at(other(d))]); };
        CHECK(fin(first) == seg_verdict::accepted);
        CHECK(c.f.state() == tcp_state::closing);
        CHECK(c.of(first).ends == std::vector<stream_end>{stream_end::fin});
        CHECK(c.of(other(first)).ends.empty());
        CHECK(fin(first) == seg_verdict::accepted);  // retransmitted
        CHECK(c.of(first).ends.size() == 1);
        CHECK(fin(other(first)) == seg_verdict::accepted);
        CHECK(c.f.state() == tcp_state::closed);
        CHECK(c.of(other(first)).ends == std::vector<stream_end>{stream_end::fin});
        CHECK(c.info(C).next_seq == c.seq(C, 4));  // past the FIN
        CHECK(c.f.complete());
        CHECK(c.ack(C, 4, 6) == seg_verdict::accepted);  // the last ACK
        CHECK(c.f.complete());
    }
}

TEST_CASE("a FIN past a hole waits for the hole", "[mirror][tcp_follower]") {
    conn c;
    c.open();
    c.data(C, 0, "ab");
    c.data(C, 4, "ef", 0, FIN | ACK | PSH);
    CHECK(c.of(C).ends.empty());
    CHECK(c.f.state() == tcp_state::closing);
    CHECK(c.f.hole(C));
    c.data(C, 2, "cd");
    CHECK(c.of(C).data == "abcdef");
    CHECK(c.of(C).ends == std::vector<stream_end>{stream_end::fin});
    CHECK_FALSE(c.f.hole(C));
}

TEST_CASE("bytes past a FIN and contradicting FINs are counted and trimmed", "[mirror][tcp_follower]") {
    conn c;
    c.open();
    c.data(C, 0, "abc");
    c.fin(C, 3, 0);
    CHECK(c.data(C, 3, "zz") == seg_verdict::accepted);
    CHECK(c.f.counters().data_after_fin == 1);
    CHECK(c.fin(C, 5, 0) == seg_verdict::accepted);  // a second FIN elsewhere: the FIN ignored
    CHECK(c.f.counters().bad_fin == 1);
    CHECK(c.of(C).data == "abc");
    CHECK(c.of(C).ends.size() == 1);
    CHECK_FALSE(c.of(C).after_end);

    conn d;
    d.open();
    d.data(C, 0, "abcdef");
    d.fin(C, 2, 0);  // a FIN before bytes already delivered
    CHECK(d.f.counters().bad_fin == 1);
    CHECK(d.of(C).ends.empty());
    d.data(C, 4, "efgh", 0, FIN | ACK);  // FIN at 8; "gh" is new, "ef" trimmed
    CHECK(d.of(C).data == "abcdefgh");
    CHECK(d.of(C).ends == std::vector<stream_end>{stream_end::fin});
}

TEST_CASE("an RST from either side closes both directions", "[mirror][tcp_follower]") {
    for (direction from : {C, S}) {
        INFO((from == C ? "client resets" : "server resets"));
        conn c;
        c.open();
        c.data(C, 0, "abc");
        CHECK(c.raw(from, c.info(from).next_seq, 0, RST | ACK) == seg_verdict::accepted);
        CHECK(c.f.state() == tcp_state::reset);
        CHECK(c.of(C).ends == std::vector<stream_end>{stream_end::reset});
        CHECK(c.of(S).ends == std::vector<stream_end>{stream_end::reset});
        CHECK(c.of(C).gaps.empty());
        CHECK(c.of(S).gaps.empty());
        CHECK(c.data(S, 0, "late") == seg_verdict::after_close);
        CHECK(c.of(S).data.empty());
    }
}

TEST_CASE("a refused connection: the server's RST answers the SYN", "[mirror][tcp_follower]") {
    conn c;
    c.raw(C, c.isn[0], 0, SYN, {}, 64240, encode({}));
    CHECK(c.raw(S, 0, c.isn[0] + 1, RST | ACK) == seg_verdict::accepted);
    CHECK(c.f.state() == tcp_state::reset);
    CHECK(c.of(C).ends == std::vector<stream_end>{stream_end::reset});
    CHECK(c.of(S).ends == std::vector<stream_end>{stream_end::reset});
}

TEST_CASE("an RST far out of window is ignored (a blind reset)", "[mirror][tcp_follower]") {
    conn c;
    c.open();
    CHECK(c.raw(C, c.seq(C, 0) + 0x40000000u, 0, RST) == seg_verdict::out_of_window);
    CHECK(c.f.state() == tcp_state::established);
    CHECK(c.of(C).ends.empty());
    CHECK(c.f.counters().rst_out_of_window == 1);
}
