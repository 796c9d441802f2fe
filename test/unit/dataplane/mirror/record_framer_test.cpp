#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <random>
#include <utility>
#include <vector>

#include "dataplane/mirror/record_framer.hpp"
#include "dataplane/mirror/xdr.hpp"

using namespace cg::dp::mirror;

namespace {

using bytes = std::vector<std::uint8_t>;

/// A record as the sink saw it, copied out of the framer's buffer.
struct seen {
    bytes data;
    std::uint32_t total_len;
    std::uint32_t fragments;
    std::uint64_t start, end;
    bool whole;
};

struct collector final : record_sink {
    std::vector<seen> records;
    record_framer* desync_after_each = nullptr;
    void on_record(const record& r) noexcept override {
        records.push_back({bytes(r.bytes.begin(), r.bytes.end()), r.total_len, r.fragments, r.start, r.end, r.whole()});
        if (desync_after_each) desync_after_each->desync();
    }
};

/// One record of a test stream: its body, and where it lies in the stream.
struct placed {
    bytes body;
    std::uint64_t start = 0, end = 0;
    std::vector<std::pair<std::uint64_t, std::uint64_t>> fragments;  ///< where each fragment's bytes lie
};

/// A test stream: records back to back, with their positions.
struct stream {
    bytes wire;
    std::vector<placed> records;
};

bytes filler(std::size_t n, std::uint8_t seed) {
    bytes b(n);
    // Bytes that never pass the probe: their markers announce more than max_record.
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(0xa0 | ((seed + i) & 0x0f));
    return b;
}

/// An RPC call body (AUTH_NONE) with `args` bytes of arguments.
bytes call_body(std::uint32_t xid, std::size_t args) {
    xdr_writer w;
    w.u32(xid).u32(0).u32(2).u32(100003).u32(3).u32(7).u32(0).u32(0).u32(0).u32(0);
    w.bytes(filler(args, static_cast<std::uint8_t>(xid)));
    return w.take();
}

/// An RPC accepted SUCCESS reply body with `results` bytes.
bytes reply_body(std::uint32_t xid, std::size_t results) {
    xdr_writer w;
    w.u32(xid).u32(1).u32(0).u32(0).u32(0).u32(0);
    w.bytes(filler(results, static_cast<std::uint8_t>(xid)));
    return w.take();
}

/// An SMB2 message (header and body) as NBSS carries it.
bytes smb2_body(std::uint8_t seed, std::size_t len) {
    bytes b = filler(len, seed);
    const std::uint8_t hdr[] = {0xfe, 'S', 'M', 'B', 64, 0};
    std::copy(std::begin(hdr), std::end(hdr), b.begin());
    return b;
}

/// Appends `body` as RPC fragments of the given sizes (the last takes the rest).
void add_rpc(stream& s, const bytes& body, std::vector<std::size_t> frags = {}) {
    placed p{body, s.wire.size()};
    std::size_t at = 0;
    frags.push_back(body.size());
    for (std::size_t i = 0; i < frags.size(); ++i) {
        const std::size_t n = std::min(frags[i], body.size() - at);
        const bool last = i + 1 == frags.size();
        xdr_writer m;
        m.u32(static_cast<std::uint32_t>(n) | (last ? 0x80000000u : 0));
        s.wire.insert(s.wire.end(), m.data().begin(), m.data().end());
        s.wire.insert(s.wire.end(), body.begin() + static_cast<std::ptrdiff_t>(at),
                      body.begin() + static_cast<std::ptrdiff_t>(at + n));
        p.fragments.emplace_back(s.wire.size() - n, s.wire.size());
        at += n;
    }
    p.end = s.wire.size();
    s.records.push_back(p);
}

void add_nbss(stream& s, const bytes& body, std::uint8_t type = 0) {
    placed p{body, s.wire.size()};
    const auto n = static_cast<std::uint32_t>(body.size());
    s.wire.insert(s.wire.end(), {type, static_cast<std::uint8_t>(n >> 16), static_cast<std::uint8_t>(n >> 8),
                                 static_cast<std::uint8_t>(n)});
    s.wire.insert(s.wire.end(), body.begin(), body.end());
    p.end = s.wire.size();
    p.fragments.emplace_back(p.start + 4, p.end);
    if (type == 0) s.records.push_back(p);
}

stream rpc_calls() {
    stream s;
    add_rpc(s, call_body(0x1001, 0));
    add_rpc(s, call_body(0x1002, 60));
    // Four fragments, one empty. A resync finds only records whose first
    // fragment holds the RPC header it probes.
    add_rpc(s, call_body(0x1003, 100), {44, 0, 50});
    add_rpc(s, call_body(0x1004, 8));
    add_rpc(s, call_body(0x1005, 200));
    add_rpc(s, call_body(0x1006, 0));
    return s;
}

stream rpc_replies() {
    stream s;
    add_rpc(s, reply_body(0x2001, 4));
    add_rpc(s, reply_body(0x2002, 120));
    add_rpc(s, reply_body(0x2003, 0));
    add_rpc(s, reply_body(0x2004, 64), {30});
    add_rpc(s, reply_body(0x2005, 16));
    return s;
}

stream smb2_messages() {
    stream s;
    add_nbss(s, smb2_body(1, 64));
    add_nbss(s, {}, 0x85);  // keepalive
    add_nbss(s, smb2_body(2, 150));
    add_nbss(s, smb2_body(3, 72));
    add_nbss(s, {}, 0x85);
    add_nbss(s, smb2_body(4, 100));
    return s;
}

framer_config rpc_config(direction d = direction::to_server) {
    framer_config c;
    c.kind = framing::onc_rpc;
    c.dir = d;
    return c;
}
framer_config nbss_config() {
    framer_config c;
    c.kind = framing::nbss;
    c.dir = direction::to_server;
    return c;
}

/// The records a framer emits for `wire` fed in pieces that end at `cuts`.
std::vector<seen> frame(const framer_config& cfg, const bytes& wire, const std::vector<std::size_t>& cuts) {
    record_framer f(cfg);
    collector c;
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
        f.feed({wire.data() + at, cut - at}, c);
        at = cut;
    }
    f.feed({wire.data() + at, wire.size() - at}, c);
    CHECK(f.position() == wire.size());
    return c.records;
}

void check_same(const std::vector<seen>& got, const stream& s) {
    REQUIRE(got.size() == s.records.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
        INFO("record " << i);
        CHECK(got[i].data == s.records[i].body);
        CHECK(got[i].total_len == s.records[i].body.size());
        CHECK(got[i].whole);
        CHECK(got[i].start == s.records[i].start);
        CHECK(got[i].end == s.records[i].end);
    }
}

/// Feeds `wire` with a gap of `len` bytes at `at`; returns the records.
std::vector<seen> frame_with_gap(record_framer& f, const bytes& wire, std::size_t at, std::size_t len,
                                 bool* spared = nullptr) {
    collector c;
    f.feed({wire.data(), at}, c);
    const bool s = f.gap(static_cast<std::uint32_t>(len));
    if (spared) *spared = s;
    f.feed({wire.data() + at + len, wire.size() - at - len}, c);
    return c.records;
}

/// Gaps of several lengths at every position: a record is emitted exactly
/// when it lies wholly before the gap or starts at or after its end, with
/// its own bytes; the bytes skipped are those between the gap and the next
/// record, unless the gap lay inside one fragment's bytes (framing kept).
void check_gaps(const framer_config& cfg, const stream& s) {
    for (std::size_t len : {1, 3, 4, 17, 100}) {
        for (std::size_t at = 0; at + len <= s.wire.size(); ++at) {
            INFO("gap of " << len << " at " << at);
            record_framer f(cfg);
            const auto got = frame_with_gap(f, s.wire, at, len);
            std::vector<const placed*> want;
            for (const placed& p : s.records)
                if (p.end <= at || p.start >= at + len) want.push_back(&p);
            REQUIRE(got.size() == want.size());
            for (std::size_t i = 0; i < got.size(); ++i) {
                CHECK(got[i].data == want[i]->body);
                CHECK(got[i].start == want[i]->start);
            }
            bool kept = false;
            std::uint64_t next = s.wire.size();
            for (const placed& p : s.records) {
                for (const auto& [from, to] : p.fragments)
                    if (from <= at && at + len <= to) kept = true;
                if (p.start >= at + len) next = std::min(next, p.start);
            }
            const std::uint64_t skipped = f.counters().resync_skipped_bytes;
            if (kept) {
                CHECK(skipped == 0);
                CHECK(f.counters().error(framer_error::gap_lost_sync) == 0);
            } else if (next < s.wire.size()) {
                CHECK(f.counters().error(framer_error::gap_lost_sync) == 1);
                CHECK(skipped == next - (at + len));
            } else {  // no record follows: the last bytes wait for more to probe them
                CHECK(f.counters().error(framer_error::gap_lost_sync) == 1);
                CHECK(skipped <= next - (at + len));
                CHECK(skipped + record_framer::probe_window > next - (at + len));
            }
            CHECK(f.counters().gap_bytes == len);
            CHECK(f.position() == s.wire.size());
        }
    }
}

}  // namespace

TEST_CASE("records fed at once, several per feed", "[record_framer]") {
    for (const stream& s : {rpc_calls(), rpc_replies()}) check_same(frame(rpc_config(), s.wire, {}), s);
    const stream n = smb2_messages();
    record_framer f(nbss_config());
    collector c;
    f.feed(n.wire, c);
    check_same(c.records, n);
    CHECK(f.counters().nbss_skipped == 2);
    CHECK(f.counters().records_whole == 4);
}

TEST_CASE("records split at every point give the same records", "[record_framer]") {
    const stream s = rpc_calls();
    for (std::size_t cut = 0; cut <= s.wire.size(); ++cut) {
        INFO("cut at " << cut);
        check_same(frame(rpc_config(), s.wire, {cut}), s);
    }
    const stream n = smb2_messages();
    for (std::size_t cut = 0; cut <= n.wire.size(); ++cut) {
        INFO("cut at " << cut);
        check_same(frame(nbss_config(), n.wire, {cut}), n);
    }
}

TEST_CASE("records fed byte by byte and in random pieces give the same records", "[record_framer]") {
    for (const auto& [cfg, s] : {std::pair{rpc_config(), rpc_calls()}, std::pair{rpc_config(direction::to_client), rpc_replies()},
                                 std::pair{nbss_config(), smb2_messages()}}) {
        std::vector<std::size_t> every;
        for (std::size_t i = 1; i < s.wire.size(); ++i) every.push_back(i);
        check_same(frame(cfg, s.wire, every), s);
        std::mt19937 rng(7);
        for (int round = 0; round < 200; ++round) {
            std::vector<std::size_t> cuts;
            for (std::size_t at = 0;;) {
                at += 1 + rng() % 40;
                if (at >= s.wire.size()) break;
                cuts.push_back(at);
            }
            check_same(frame(cfg, s.wire, cuts), s);
        }
    }
}

TEST_CASE("a record of several fragments is joined without its markers", "[record_framer]") {
    stream s;
    const bytes body = call_body(0x42, 90);
    add_rpc(s, body, {10, 0, 33, 7});
    const auto got = frame(rpc_config(), s.wire, {});
    REQUIRE(got.size() == 1);
    CHECK(got[0].data == body);
    CHECK(got[0].fragments == 5);
    CHECK(got[0].end == body.size() + 5 * 4);
}

TEST_CASE("a record longer than the cap is emitted by its prefix and its length", "[record_framer]") {
    framer_config cfg = rpc_config();
    cfg.cap = 256;
    cfg.prefix = 64;
    stream s;
    add_rpc(s, call_body(1, 40));          // whole
    add_rpc(s, call_body(2, 1000));        // one fragment, past the cap from its marker on
    add_rpc(s, call_body(3, 400), {200, 40});  // the cap is crossed in its third fragment
    add_rpc(s, call_body(4, 216));         // exactly the cap: whole
    for (std::size_t cut : {std::size_t{0}, std::size_t{70}, std::size_t{300}, std::size_t{1200}}) {
        const auto got = frame(cfg, s.wire, {cut});
        REQUIRE(got.size() == 4);
        CHECK(got[0].whole);
        for (int i : {1, 2}) {
            INFO("record " << i);
            CHECK_FALSE(got[i].whole);
            CHECK(got[i].total_len == s.records[i].body.size());
            CHECK(got[i].data == bytes(s.records[i].body.begin(), s.records[i].body.begin() + 64));
            CHECK(got[i].end == s.records[i].end);
        }
        CHECK(got[3].whole);
        CHECK(got[3].data == s.records[3].body);
    }
    record_framer f(cfg);
    collector c;
    f.feed(s.wire, c);
    CHECK(f.counters().records_prefix == 2);
    CHECK(f.counters().records_whole == 2);
}

TEST_CASE("a gap anywhere: no record across it, the next record is found", "[record_framer]") {
    SECTION("RPC calls") { check_gaps(rpc_config(), rpc_calls()); }
    SECTION("RPC replies") { check_gaps(rpc_config(direction::to_client), rpc_replies()); }
    SECTION("NBSS") { check_gaps(nbss_config(), smb2_messages()); }
}

TEST_CASE("a gap inside a long record's data keeps the framing", "[record_framer]") {
    framer_config cfg = rpc_config();
    cfg.cap = 128;
    cfg.prefix = 64;
    stream s;
    add_rpc(s, call_body(1, 5000));
    add_rpc(s, call_body(2, 10));
    SECTION("past the prefix it emits: that record still comes, by its prefix, whole in what it says") {
        record_framer f(cfg);
        bool spared = false;
        const auto got = frame_with_gap(f, s.wire, 3000, 1500, &spared);
        CHECK(spared);
        REQUIRE(got.size() == 2);
        CHECK(!got[0].whole);
        CHECK(got[0].data == bytes(s.records[0].body.begin(), s.records[0].body.begin() + 64));
        CHECK(got[0].total_len == s.records[0].body.size());
        CHECK(got[1].data == s.records[1].body);
        CHECK(f.counters().error(framer_error::gap_dropped_record) == 0);
        CHECK(f.counters().error(framer_error::gap_lost_sync) == 0);
        CHECK(f.in_sync());
    }
    SECTION("inside the prefix: that record is dropped") {
        record_framer f(cfg);
        bool spared = true;
        const auto got = frame_with_gap(f, s.wire, 40, 100, &spared);
        CHECK_FALSE(spared);
        REQUIRE(got.size() == 1);
        CHECK(got[0].data == s.records[1].body);
        CHECK(f.counters().error(framer_error::gap_dropped_record) == 1);
        CHECK(f.counters().error(framer_error::gap_lost_sync) == 0);
        CHECK(f.in_sync());
    }
}

TEST_CASE("a stream joined mid-way finds its first record start", "[record_framer]") {
    const stream s = rpc_calls();
    for (std::size_t from = 1; from < s.records[1].start; ++from) {
        INFO("joined at " << from);
        record_framer f(rpc_config());
        f.desync();
        collector c;
        f.feed({s.wire.data() + from, s.wire.size() - from}, c);
        REQUIRE(c.records.size() == s.records.size() - 1);
        CHECK(c.records[0].data == s.records[1].body);
        CHECK(c.records[0].start == s.records[1].start - from);
        CHECK(f.counters().resyncs == 1);
        CHECK(f.counters().resync_skipped_bytes == s.records[1].start - from);
    }
}

TEST_CASE("a sink that calls desync() gets the next records through the resync", "[record_framer]") {
    const stream s = rpc_calls();
    record_framer f(rpc_config());
    collector c;
    c.desync_after_each = &f;
    f.feed(s.wire, c);
    check_same(c.records, s);
    CHECK(f.counters().resyncs == s.records.size() - 1);  // after each record but the last
    CHECK(f.counters().resync_skipped_bytes == 0);
}

TEST_CASE("a marker past max_record or an unknown NBSS type loses the framing", "[record_framer]") {
    SECTION("RPC") {
        framer_config cfg = rpc_config();
        cfg.max_record = 1 << 20;
        stream s;
        s.wire = {0x80, 0x20, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7};  // 2 MiB announced
        add_rpc(s, call_body(9, 12));
        record_framer f(cfg);
        collector c;
        f.feed(s.wire, c);
        check_same(c.records, s);
        CHECK(f.counters().error(framer_error::record_too_long) == 1);
        CHECK(f.counters().resync_skipped_bytes == 11);
    }
    SECTION("NBSS") {
        stream s;
        s.wire = {0x42, 0, 0, 3, 'a', 'b', 'c'};
        add_nbss(s, smb2_body(5, 80));
        record_framer f(nbss_config());
        collector c;
        f.feed(s.wire, c);
        check_same(c.records, s);
        CHECK(f.counters().error(framer_error::bad_nbss_type) == 1);
        CHECK(f.counters().resync_skipped_bytes == 7);
    }
}

TEST_CASE("resync probes: what a record start looks like", "[record_framer]") {
    using probe = record_framer::probe;
    const record_framer calls(rpc_config()), replies(rpc_config(direction::to_client)), nbss(nbss_config());
    const auto probe_of = [](const record_framer& f, const bytes& b) { return f.probe_start(b.data(), b.size()); };
    stream s;
    add_rpc(s, call_body(1, 0));
    CHECK(probe_of(calls, s.wire) == probe::yes);
    CHECK(probe_of(replies, s.wire) == probe::no);
    for (std::size_t n = 0; n < record_framer::probe_window; ++n) {
        INFO(n << " bytes of a call");
        CHECK(calls.probe_start(s.wire.data(), n) == probe::need_more);
    }
    bytes bad = s.wire;
    bad[15] = 3;  // rpcvers 3
    CHECK(probe_of(calls, bad) == probe::no);
    bad = s.wire;
    bad[31] = 5;  // credential flavor 5
    CHECK(probe_of(calls, bad) == probe::no);

    stream d;  // a denied AUTH_ERROR reply: 20 bytes after its marker, and nothing more to see
    xdr_writer w;
    w.u32(7).u32(1).u32(1).u32(1).u32(2);
    add_rpc(d, w.take());
    CHECK(probe_of(replies, d.wire) == probe::yes);
    CHECK(probe_of(calls, d.wire) == probe::no);

    stream m;
    add_nbss(m, smb2_body(1, 64));
    CHECK(probe_of(nbss, m.wire) == probe::yes);
    bytes fd = m.wire;
    fd[4] = 0xfd;
    CHECK(probe_of(nbss, fd) == probe::yes);
    fd[4] = 0xff;  // SMB1: not followed
    CHECK(probe_of(nbss, fd) == probe::no);
}

TEST_CASE("a zero-length record is emitted as such", "[record_framer]") {
    const bytes wire = {0x80, 0, 0, 0};
    const auto got = frame(rpc_config(), wire, {});
    REQUIRE(got.size() == 1);
    CHECK(got[0].total_len == 0);
    CHECK(got[0].whole);
}

TEST_CASE("bytes held for a probe are not joined across a gap", "[record_framer]") {
    stream s;
    add_rpc(s, call_body(1, 30));
    add_rpc(s, call_body(2, 30));
    const bytes& w = s.wire;
    for (std::size_t held = 1; held < record_framer::probe_window; ++held) {
        INFO(held << " bytes held");
        record_framer f(rpc_config());
        f.desync();
        collector c;
        f.feed({w.data(), held}, c);  // too few to probe: kept
        f.gap(7);
        f.feed({w.data() + held, w.size() - held}, c);  // what would complete them, were the gap ignored
        REQUIRE(c.records.size() == 1);
        CHECK(c.records[0].data == s.records[1].body);
        CHECK(c.records[0].start == s.records[1].start + 7);
    }
}

TEST_CASE("desync() while already looking keeps the bytes held for a probe", "[record_framer]") {
    stream s;
    add_rpc(s, call_body(1, 30));
    record_framer f(rpc_config());
    f.desync();
    collector c;
    f.feed({s.wire.data(), 10}, c);
    f.desync();
    CHECK(f.position() == 10);
    f.feed({s.wire.data() + 10, s.wire.size() - 10}, c);
    check_same(c.records, s);
}
