// The takeover query and its chunked answer: codec, authentication,
// freshness, order; every bit flipped and every truncation refused.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "common/net_types.hpp"
#include "control/proto/shadow_msg.hpp"

using namespace cg::control::shadow;
using cg::common::ipv4_addr;
using cg::control::auth::position;

namespace {

const key the_key(32, 0x5a);
const ipv4_addr gateway = 0xc6120003;  // 198.18.0.3, the querier
const ipv4_addr node1 = 0xc612000b;    // 198.18.0.11
const ipv4_addr node2 = 0xc612000c;
const ipv4_addr vip = 0xc6120064, vip2 = 0xc6120065;
constexpr std::uint64_t now = 1'700'000'000'000;

envelope a_query(std::uint64_t epoch, std::uint64_t seq, std::uint64_t sent_ms = now) {
    return envelope{gateway, epoch, seq, sent_ms, query{{vip, vip2}, true}};
}

std::vector<socket_entry> entries(std::size_t n) {
    std::vector<socket_entry> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        v.push_back({6, static_cast<std::uint8_t>(1 + i % 11), vip, 443, static_cast<ipv4_addr>(0x0a000000 + i / 50000),
                     static_cast<std::uint16_t>(1024 + i % 50000)});
    return v;
}

std::vector<std::vector<std::uint8_t>> answer(std::span<const socket_entry> all, position q, ipv4_addr from = node1) {
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t i = 0; i < answer_chunks(all.size()); ++i) out.push_back(seal_chunk(all, i, from, q, now, the_key));
    return out;
}

/// Signs bytes again after a test changed them on purpose.
void resign(std::vector<std::uint8_t>& d) {
    d.resize(d.size() - mac_size);
    cg::control::auth::sign(d, the_key);
}

refusal why(const std::variant<envelope, refused>& r) {
    REQUIRE(std::holds_alternative<refused>(r));
    return std::get<refused>(r).why;
}
refusal why(const std::optional<refused>& r) {
    REQUIRE(r);
    return r->why;
}

void put_u32(std::vector<std::uint8_t>& d, std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) d[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
}

}  // namespace

TEST_CASE("shadow frames round-trip every field", "[shadow]") {
    const auto q = seal(a_query(3, 9, 1234), the_key);
    CHECK(q.size() == header_size + 4 + 8 + 1 + mac_size);
    const auto r = open(q, the_key);
    REQUIRE(std::holds_alternative<envelope>(r));
    const envelope& e = std::get<envelope>(r);
    CHECK(e.sender == gateway);
    CHECK(e.epoch == 3);
    CHECK(e.seq == 9);
    CHECK(e.sent_ms == 1234);
    const auto& body = std::get<query>(e.body);
    CHECK(body.clusters == std::vector<ipv4_addr>{vip, vip2});
    CHECK(body.wildcard);

    const auto all = entries(3);
    const auto c = seal_chunk(all, 0, node1, {3, 9}, 555, the_key);
    CHECK(c.size() == header_size + chunk_overhead + 3 * entry_wire_size + mac_size);
    const auto rc = open(c, the_key);
    REQUIRE(std::holds_alternative<envelope>(rc));
    const envelope& ec = std::get<envelope>(rc);
    CHECK(ec.sender == node1);
    CHECK(ec.epoch == 3);
    CHECK(ec.seq == 9);
    CHECK(ec.sent_ms == 555);
    const auto& ch = std::get<chunk>(ec.body);
    CHECK(ch.index == 0);
    CHECK(ch.last);
    CHECK(ch.entries == all);
}

TEST_CASE("answers are cut in chunks of at most 64 KiB; an empty answer is one empty last chunk", "[shadow]") {
    CHECK(entries_per_chunk == 4675);
    CHECK(answer_chunks(0) == 1);
    CHECK(answer_chunks(entries_per_chunk) == 1);
    CHECK(answer_chunks(entries_per_chunk + 1) == 2);
    const auto all = entries(2 * entries_per_chunk + 7);
    const auto frames = answer(all, {1, 1});
    REQUIRE(frames.size() == 3);
    CHECK(frames[0].size() <= max_frame);  // 4,675 entries of 14 bytes: one more would not fit
    CHECK(frames[0].size() + entry_wire_size > max_frame);
    CHECK(frames[2].size() == header_size + chunk_overhead + 7 * entry_wire_size + mac_size);
    for (std::size_t i = 0; i < frames.size(); ++i) {
        const auto c = std::get<chunk>(std::get<envelope>(open(frames[i], the_key)).body);
        CHECK(c.index == i);
        CHECK(c.last == (i == 2));
    }
    const auto empty = std::get<chunk>(std::get<envelope>(open(seal_chunk({}, 0, node1, {1, 1}, now, the_key), the_key)).body);
    CHECK(empty.last);
    CHECK(empty.entries.empty());
}

TEST_CASE("a changed bit anywhere in a query or a chunk, or another key, is refused", "[shadow]") {
    for (const auto& good : {seal(a_query(1, 1), the_key), seal_chunk(entries(5), 0, node1, {1, 1}, now, the_key)}) {
        for (std::size_t i = 0; i < good.size(); ++i) {
            for (int bit = 0; bit < 8; ++bit) {
                auto bad = good;
                bad[i] ^= static_cast<std::uint8_t>(1 << bit);
                const auto r = open(bad, the_key);
                INFO("byte " << i << " bit " << bit);
                REQUIRE(std::holds_alternative<refused>(r));
                const refusal w = std::get<refused>(r).why;
                if (i < 4)
                    CHECK(w == refusal::bad_magic);
                else if (i < 6)
                    CHECK(w == refusal::bad_version);
                else if (i >= 36 && i < 40)  // the length: the frame is then too short or too long for it
                    CHECK((w == refusal::truncated || w == refusal::too_large));
                else
                    CHECK(w == refusal::bad_mac);
            }
        }
        CHECK(why(open(good, key(32, 0x5b))) == refusal::bad_mac);
        CHECK(why(open(good, key(33, 0x5a))) == refusal::bad_mac);
    }
}

TEST_CASE("truncated and padded frames are refused", "[shadow]") {
    for (const auto& good : {seal(a_query(1, 1), the_key), seal_chunk(entries(5), 0, node1, {1, 1}, now, the_key)}) {
        for (std::size_t n = 0; n < good.size(); ++n) {
            INFO("length " << n);
            CHECK(why(open(std::span(good).first(n), the_key)) == refusal::truncated);
        }
        auto longer = good;
        longer.push_back(0);
        CHECK(why(open(longer, the_key)) == refusal::truncated);
    }
}

TEST_CASE("frame_size: what a stream reader reads next, or why it stops at the header", "[shadow]") {
    const auto q = seal(a_query(1, 1), the_key);
    const auto size = frame_size(std::span(q).first(header_size));
    REQUIRE(std::holds_alternative<std::size_t>(size));
    CHECK(std::get<std::size_t>(size) == q.size());
    CHECK(std::get<refused>(frame_size(std::span(q).first(header_size - 1))).why == refusal::truncated);
    CHECK(std::get<refused>(frame_size(q, q.size() - 1)).why == refusal::too_large);
    auto huge = q;
    put_u32(huge, 36, 0xffffffff);  // 4 GB of payload: refused before any of it is read
    CHECK(std::get<refused>(frame_size(huge)).why == refusal::too_large);
    put_u32(huge, 36, static_cast<std::uint32_t>(max_frame - header_size - mac_size));
    CHECK(std::get<std::size_t>(frame_size(huge)) == max_frame);
    put_u32(huge, 36, static_cast<std::uint32_t>(max_frame - header_size - mac_size + 1));
    CHECK(std::get<refused>(frame_size(huge)).why == refusal::too_large);
    auto other = q;
    other[0] = 'X';
    CHECK(std::get<refused>(frame_size(other)).why == refusal::bad_magic);
    other = q;
    other[4] = 9;
    CHECK(std::get<refused>(frame_size(other)).why == refusal::bad_version);
}

TEST_CASE("authentic but wrong inside: type, payload, version, clusters asked", "[shadow]") {
    auto d = seal(a_query(1, 1), the_key);
    d[6] = 9;  // type: one past the last known (8, a state_restored)
    resign(d);
    CHECK(why(open(d, the_key)) == refusal::unknown_type);

    d = seal(a_query(1, 1), the_key);
    d[header_size + 4 + 8] = 2;  // wildcard: neither 0 nor 1
    resign(d);
    auto r = open(d, the_key);
    CHECK(why(r) == refusal::malformed);
    CHECK_THAT(std::get<refused>(r).detail, Catch::Contains("boolean"));

    d = seal(a_query(1, 1), the_key);
    put_u32(d, header_size, 3);  // three clusters announced, two there
    resign(d);
    CHECK(why(open(d, the_key)) == refusal::malformed);

    d = seal(a_query(1, 1), the_key);
    d[4] = 2;  // version
    resign(d);
    CHECK(why(open(d, the_key)) == refusal::bad_version);

    query_receiver rx(the_key, 5'000);
    CHECK(why(rx.accept(seal(envelope{gateway, 1, 1, now, query{{}, true}}, the_key), now)) == refusal::malformed);
    query many;
    many.clusters.assign(max_clusters + 1, vip);
    CHECK(why(rx.accept(seal(envelope{gateway, 1, 2, now, many}, the_key), now)) == refusal::too_large);
    many.clusters.resize(max_clusters);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(envelope{gateway, 1, 3, now, many}, the_key), now)));
    CHECK(why(rx.accept(seal_chunk({}, 0, node1, {1, 4}, now, the_key), now)) == refusal::wrong_type);
    CHECK(rx.count(refusal::malformed) == 1);
    CHECK(rx.count(refusal::too_large) == 1);
    CHECK(rx.count(refusal::wrong_type) == 1);
}

TEST_CASE("the agent refuses replayed queries and stale clocks, per querier, and counts each", "[shadow]") {
    query_receiver rx(the_key, 5'000);
    const auto first = seal(a_query(5, 10), the_key);
    CHECK(std::holds_alternative<envelope>(rx.accept(first, now)));
    CHECK(why(rx.accept(first, now)) == refusal::replayed);  // the same frame again
    CHECK(why(rx.accept(seal(a_query(5, 9), the_key), now)) == refusal::replayed);
    CHECK(why(rx.accept(seal(a_query(4, 99), the_key), now)) == refusal::replayed);  // an older epoch
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(a_query(5, 11), the_key), now)));
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(a_query(6, 1), the_key), now)));  // restarted querier
    auto other = a_query(1, 1);
    other.sender = 0xc6120004;  // another gateway has its own sequence
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(other, the_key), now)));

    CHECK(why(rx.accept(seal(a_query(6, 2, now - 6'000), the_key), now)) == refusal::clock_skew);
    CHECK(why(rx.accept(seal(a_query(6, 3, now + 6'000), the_key), now)) == refusal::clock_skew);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(a_query(6, 4, now + 4'000), the_key), now)));
    CHECK(why(rx.accept(seal(a_query(6, 5), key(32, 1)), now)) == refusal::bad_mac);
    auto cut = seal(a_query(6, 6), the_key);
    cut.pop_back();
    CHECK(why(rx.accept(cut, now)) == refusal::truncated);
    rx.note({refusal::truncated, "the stream ended inside a frame"});

    CHECK(rx.accepted() == 5);
    CHECK(rx.count(refusal::replayed) == 3);
    CHECK(rx.count(refusal::clock_skew) == 2);
    CHECK(rx.count(refusal::bad_mac) == 1);
    CHECK(rx.count(refusal::truncated) == 2);
}

TEST_CASE("the querier takes the answer's chunks in order, from the node asked, for its query only", "[shadow]") {
    const position q{7, 70};
    const auto all = entries(2 * entries_per_chunk + 1);
    const auto frames = answer(all, q);
    REQUIRE(frames.size() == 3);

    SECTION("in order: the whole answer") {
        answer_collector c(the_key, node1, q);
        for (const auto& f : frames) {
            CHECK_FALSE(c.complete());
            CHECK_FALSE(c.accept(f));
        }
        CHECK(c.complete());
        CHECK(c.chunks() == 3);
        CHECK(c.entries() == all);
        CHECK(why(c.accept(frames[2])) == refusal::out_of_order);  // after the last
        CHECK(c.count(refusal::out_of_order) == 1);
    }
    SECTION("a chunk skipped, or one sent twice: out of order") {
        answer_collector c(the_key, node1, q);
        CHECK(why(c.accept(frames[1])) == refusal::out_of_order);
        CHECK_FALSE(c.accept(frames[0]));
        CHECK(why(c.accept(frames[0])) == refusal::out_of_order);
        CHECK(why(c.accept(frames[2])) == refusal::out_of_order);
        CHECK(c.count(refusal::out_of_order) == 3);
        CHECK(c.entries().size() == entries_per_chunk);
    }
    SECTION("an answer to another query (copied from an earlier answer), from another node, or a query") {
        answer_collector c(the_key, node1, q);
        CHECK(why(c.accept(answer(all, {7, 69})[0])) == refusal::replayed);
        CHECK(why(c.accept(answer(all, {6, 70})[0])) == refusal::replayed);
        CHECK(why(c.accept(answer(all, q, node2)[0])) == refusal::wrong_peer);
        CHECK(why(c.accept(seal(a_query(7, 70), the_key))) == refusal::wrong_type);
        CHECK(why(c.accept(seal_chunk(all, 0, node1, q, now, key(32, 3)))) == refusal::bad_mac);
        CHECK_FALSE(c.accept(frames[0]));  // the real one still goes
        CHECK(c.count(refusal::replayed) == 2);
        CHECK(c.count(refusal::wrong_peer) == 1);
    }
    SECTION("a short chunk that is not the last; more entries than expected") {
        answer_collector c(the_key, node1, q);
        auto short_one = seal(envelope{node1, q.epoch, q.seq, now, chunk{0, false, entries(3)}}, the_key);
        CHECK(why(c.accept(short_one)) == refusal::malformed);
        answer_collector small(the_key, node1, q, entries_per_chunk + 10);
        CHECK_FALSE(small.accept(frames[0]));
        CHECK(why(small.accept(frames[1])) == refusal::too_large);
    }
}

TEST_CASE("100,000 entries through the answer codec, unchanged", "[shadow]") {
    const position q{1, 2};
    const auto all = entries(100'000);
    const auto frames = answer(all, q);
    CHECK(frames.size() == 22);
    answer_collector c(the_key, node1, q);
    for (const auto& f : frames) REQUIRE_FALSE(c.accept(f));
    CHECK(c.complete());
    CHECK(c.entries() == all);
}

// Not run by default (hidden tag): how long 100,000 entries take to seal and to open.
//   build/test/unit/unit_tests '[.shadow-bench]'
TEST_CASE("timing: sealing and opening an answer of 100,000 entries", "[.shadow-bench]") {
    const position q{1, 2};
    const auto all = entries(100'000);
    using clock = std::chrono::steady_clock;
    std::vector<double> seal_ms, open_ms;
    std::size_t bytes = 0;
    for (int rep = 0; rep < 7; ++rep) {
        const auto t0 = clock::now();
        const auto frames = answer(all, q);
        const auto t1 = clock::now();
        answer_collector c(the_key, node1, q);
        for (const auto& f : frames) REQUIRE_FALSE(c.accept(f));
        const auto t2 = clock::now();
        REQUIRE(c.entries() == all);
        bytes = 0;
        for (const auto& f : frames) bytes += f.size();
        seal_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        open_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
    }
    std::sort(seal_ms.begin(), seal_ms.end());
    std::sort(open_ms.begin(), open_ms.end());
    std::printf("shadow answer: 100000 entries, %zu bytes in %zu chunks: seal %.2f ms, open %.2f ms (median of 7)\n",
                bytes, answer_chunks(all.size()), seal_ms[3], open_ms[3]);
}

TEST_CASE("the takeover messages have ids and names of their own, and the ids of version 1 never change",
          "[shadow]") {
    const auto types = type_table();
    REQUIRE(types.size() == std::variant_size_v<message>);
    CHECK_FALSE(find_flaw(types).has_value());
    CHECK(type_of<query>.id == 1);
    CHECK(type_of<chunk>.id == 2);
    CHECK(type_of<restore>.id == 3);
    CHECK(type_of<restored>.id == 4);
    CHECK(type_of<backup_query>.id == 5);
    CHECK(type_of<state_chunk>.id == 6);
    CHECK(type_of<state_restore>.id == 7);
    CHECK(type_of<state_restored>.id == 8);
    CHECK(find_flaw(type_table<std::variant<query, std::monostate>>()).has_value());  // one without an entry

    // On the wire (the u16 after magic u32 and version u16), both ways.
    const auto q = seal(a_query(3, 9, 1234), the_key);
    const auto c = seal_chunk(entries(2), 0, node1, {3, 9}, 555, the_key);
    CHECK((q[6] | q[7] << 8) == 1);
    CHECK((c[6] | c[7] << 8) == 2);
    CHECK(std::holds_alternative<query>(std::get<envelope>(open(q, the_key)).body));
    CHECK(std::holds_alternative<chunk>(std::get<envelope>(open(c, the_key)).body));
}

namespace {

restore_conn a_conn(std::uint16_t client_port, std::size_t replay_bytes) {
    restore_conn c;
    c.params.client_addr = 0xc612000a;
    c.params.client_port = client_port;
    c.params.server_addr = vip;
    c.params.server_port = 2049;
    c.params.snd_seq = 0xfffffff0;
    c.params.rcv_seq = 12345;
    c.params.mss = 1448;
    c.params.wscale = c.params.sack = c.params.timestamps = true;
    c.params.client_wscale = 7;
    c.params.server_wscale = 10;
    c.params.tsval = 0x80000001;
    c.params.ts_age_ms = 12;
    c.params.client_window = 64256;
    c.params.server_window = 1 << 20;
    c.replay.assign(replay_bytes, 0x41);
    return c;
}

envelope a_restore(std::uint64_t epoch, std::uint64_t seq, std::vector<restore_conn> conns) {
    return envelope{gateway, epoch, seq, now, restore{node1, std::move(conns)}};
}

}  // namespace

TEST_CASE("a restore and its answer round-trip every field", "[shadow][restore]") {
    const auto d = seal(a_restore(2, 7, {a_conn(40000, 0), a_conn(40001, 300)}), the_key);
    query_receiver rx(the_key, 5'000);
    auto got = rx.accept(d, now);
    REQUIRE(std::holds_alternative<envelope>(got));
    const auto& e = std::get<envelope>(got);
    CHECK(e.sender == gateway);
    CHECK(e.epoch == 2);
    CHECK(e.seq == 7);
    const auto& r = std::get<restore>(e.body);
    CHECK(r.failed == node1);
    REQUIRE(r.conns.size() == 2);
    CHECK(r.conns[0].params == a_conn(40000, 0).params);
    CHECK(r.conns[1].params == a_conn(40001, 300).params);
    CHECK(r.conns[1].replay == a_conn(40001, 300).replay);

    const restored answer{{{0xc612000a, 40000, true, ""}, {0xc612000a, 40001, false, "service 127.0.0.1:2049: refused"}}};
    const auto a = seal(envelope{node2, 2, 7, now, answer}, the_key);
    auto back = open_restored(a, the_key, node2, {2, 7}, 2);
    REQUIRE(std::holds_alternative<restored>(back));
    CHECK(std::get<restored>(back).outcomes == answer.outcomes);
}

TEST_CASE("a restore frame's size is its overhead and its connections' sizes", "[shadow][restore]") {
    const auto one = seal(a_restore(1, 1, {a_conn(40000, 0)}), the_key);
    CHECK(one.size() == restore_overhead + restore_conn_size(0));
    const auto two = seal(a_restore(1, 1, {a_conn(40000, 0), a_conn(40001, 300)}), the_key);
    CHECK(two.size() == restore_overhead + restore_conn_size(0) + restore_conn_size(300));
}

TEST_CASE("restores are refused like queries: replayed, tampered, cut, too many or too large", "[shadow][restore]") {
    query_receiver rx(the_key, 5'000);
    const auto first = seal(a_restore(3, 1, {a_conn(40000, 10)}), the_key);
    CHECK(std::holds_alternative<envelope>(rx.accept(first, now)));
    CHECK(why(rx.accept(first, now)) == refusal::replayed);
    // Queries and restores share the querier's sequence.
    CHECK(why(rx.accept(seal(a_query(3, 1), the_key), now)) == refusal::replayed);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(a_query(3, 2), the_key), now)));
    CHECK(why(rx.accept(seal(a_restore(3, 2, {a_conn(40000, 10)}), the_key), now)) == refusal::replayed);

    auto changed = seal(a_restore(3, 3, {a_conn(40000, 10)}), the_key);
    changed[changed.size() - mac_size - 1] ^= 1;  // a replay byte
    CHECK(why(rx.accept(changed, now)) == refusal::bad_mac);
    auto cut = seal(a_restore(3, 4, {a_conn(40000, 10)}), the_key);
    cut.resize(cut.size() - 3);
    CHECK(why(rx.accept(cut, now)) == refusal::truncated);

    auto none = rx.accept(seal(a_restore(3, 5, {}), the_key), now);
    CHECK(why(none) == refusal::malformed);
    CHECK_THAT(std::get<refused>(none).detail, Catch::Contains("asks for 0 connections"));
    std::vector<restore_conn> many(max_restore_conns + 1, a_conn(40000, 0));
    CHECK(why(rx.accept(seal(a_restore(3, 6, many), the_key), now)) == refusal::malformed);
    // A replay larger than a frame holds cannot even be sealed into one.
    const auto big = seal(a_restore(3, 7, {a_conn(40000, max_frame)}), the_key);
    CHECK(why(rx.accept(big, now)) == refusal::too_large);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(a_restore(3, 8, {a_conn(40000, max_replay)}), the_key), now)));
    CHECK(rx.count(refusal::malformed) == 2);
}

TEST_CASE("the querier takes a restore's answer only from the spare asked, for that restore, whole",
          "[shadow][restore]") {
    const restored one{{{0xc612000a, 40000, true, ""}}};
    CHECK(why(std::optional(std::get<refused>(open_restored(seal(envelope{node1, 2, 7, now, one}, the_key), the_key,
                                                             node2, {2, 7}, 1)))) == refusal::wrong_peer);
    CHECK(std::get<refused>(open_restored(seal(envelope{node2, 2, 6, now, one}, the_key), the_key, node2, {2, 7}, 1))
              .why == refusal::replayed);
    CHECK(std::get<refused>(open_restored(seal(envelope{node2, 2, 7, now, one}, the_key), the_key, node2, {2, 7}, 2))
              .why == refusal::malformed);
    CHECK(std::get<refused>(open_restored(seal(envelope{node2, 2, 7, now, one}, key(32, 1)), the_key, node2, {2, 7}, 1))
              .why == refusal::bad_mac);
    CHECK(std::get<refused>(open_restored(seal_chunk({}, 0, node2, {2, 7}, now, the_key), the_key, node2, {2, 7}, 1))
              .why == refusal::wrong_type);
    CHECK(std::holds_alternative<restored>(
        open_restored(seal(envelope{node2, 2, 7, now, one}, the_key), the_key, node2, {2, 7}, 1)));
}

// ---- state backups: a node's state to controld, and from it to a spare ----

namespace {

std::vector<std::uint8_t> a_state(std::size_t n) {
    std::vector<std::uint8_t> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i * 7 + i / 251);
    return v;
}

std::vector<std::vector<std::uint8_t>> state_frames(std::span<const std::uint8_t> all, position at,
                                                    ipv4_addr from = node1, const std::string& error = "") {
    std::vector<std::vector<std::uint8_t>> out;
    const std::size_t n = error.empty() ? state_chunks(all.size()) : 1;
    for (std::size_t i = 0; i < n; ++i) out.push_back(seal_state_chunk(all, i, now - 5000, error, from, at, now, the_key));
    return out;
}

/// Feeds `frames` to a collector for node1's answer at {4, 2}; the first refusal, if any.
std::optional<refused> collect(state_collector& c, const std::vector<std::vector<std::uint8_t>>& frames) {
    for (const auto& f : frames)
        if (auto r = c.accept(f)) return r;
    return std::nullopt;
}

}  // namespace

TEST_CASE("a node's state in chunks: every byte, its size and time, or the sender's error", "[shadow][backup]") {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, state_bytes_per_chunk, state_bytes_per_chunk + 1,
                                std::size_t{1} << 20}) {
        const auto all = a_state(n);
        const auto frames = state_frames(all, {4, 2});
        CHECK(frames.size() == state_chunks(n));
        for (const auto& f : frames) CHECK(f.size() <= max_frame);
        state_collector c(the_key, node1, {4, 2}, 2u << 20);
        CHECK_FALSE(collect(c, frames));
        CHECK(c.complete());
        CHECK(c.bytes() == all);
        CHECK(c.taken_ms() == now - 5000);
        CHECK(c.error().empty());
    }
    state_collector failed(the_key, node1, {4, 2}, 100);
    CHECK_FALSE(collect(failed, state_frames(a_state(500), {4, 2}, node1, "backup command: exit status 2")));
    CHECK(failed.complete());
    CHECK(failed.error() == "backup command: exit status 2");
    CHECK(failed.bytes().empty());

    // The other messages of a backup and a restore, through open().
    for (const message& m : {message{backup_query{64u << 20}}, message{state_restore{node2}},
                             message{state_restored{false, "restore command: exit status 1", 35}}}) {
        auto e = open(seal(envelope{gateway, 4, 2, now, m}, the_key), the_key);
        REQUIRE(std::holds_alternative<envelope>(e));
        CHECK(std::get<envelope>(e).body.index() == m.index());
    }
    const state_restored said{true, "", 812};
    auto r = open_state_restored(seal(envelope{node2, 4, 3, now, said}, the_key), the_key, node2, {4, 3});
    REQUIRE(std::holds_alternative<state_restored>(r));
    CHECK(std::get<state_restored>(r) == said);
}

TEST_CASE("a state transfer refuses what is tampered with, cut short, replayed, reordered or too large",
          "[shadow][backup]") {
    const auto all = a_state(3 * state_bytes_per_chunk + 10);
    auto frames = state_frames(all, {4, 2});
    REQUIRE(frames.size() == 4);
    state_collector c(the_key, node1, {4, 2}, 8u << 20);

    SECTION("a changed byte") {
        frames[1][header_size + 40] ^= 1;
        CHECK(why(collect(c, frames)) == refusal::bad_mac);
        CHECK(c.count(refusal::bad_mac) == 1);
    }
    SECTION("another key") {
        state_collector other(key(32, 1), node1, {4, 2}, 8u << 20);
        CHECK(why(collect(other, frames)) == refusal::bad_mac);
    }
    SECTION("the last chunk missing: never complete") {
        frames.pop_back();
        CHECK_FALSE(collect(c, frames));
        CHECK_FALSE(c.complete());
    }
    SECTION("a chunk left out, or sent twice") {
        CHECK(why(collect(c, {frames[0], frames[2]})) == refusal::out_of_order);
        state_collector again(the_key, node1, {4, 2}, 8u << 20);
        CHECK(why(collect(again, {frames[0], frames[0]})) == refusal::out_of_order);
        state_collector after(the_key, node1, {4, 2}, 8u << 20);
        CHECK(why(collect(after, {frames[0], frames[1], frames[2], frames[3], frames[3]})) == refusal::out_of_order);
    }
    SECTION("chunks of an earlier transfer, or from another node") {
        CHECK(why(collect(c, state_frames(all, {4, 1}))) == refusal::replayed);
        CHECK(why(collect(c, state_frames(all, {4, 2}, node2))) == refusal::wrong_peer);
    }
    SECTION("more than the receiver takes, found before it is all kept") {
        state_collector small(the_key, node1, {4, 2}, 2 * state_bytes_per_chunk);
        CHECK(why(collect(small, frames)) == refusal::too_large);
        CHECK(small.chunks() == 2);
    }
    SECTION("a last chunk whose total does not match what came") {
        auto cut = state_frames(std::span(all).first(2 * state_bytes_per_chunk + 5), {4, 2});
        // Chunks 0 and 1 of the whole state, then a last one that claims the whole size.
        auto lying = seal_state_chunk(all, 3, now, "", node1, {4, 2}, now, the_key);
        CHECK(why(collect(c, {frames[0], frames[1], lying})) == refusal::out_of_order);
        state_collector d(the_key, node1, {4, 2}, 8u << 20);
        envelope e{node1, 4, 2, now, state_chunk{2, true, all.size(), now, "", std::vector<std::uint8_t>(5, 1)}};
        CHECK(why(collect(d, {frames[0], frames[1], seal(e, the_key)})) == refusal::truncated);
        state_collector ok(the_key, node1, {4, 2}, 8u << 20);
        CHECK_FALSE(collect(ok, cut));
        CHECK(ok.bytes().size() == 2 * state_bytes_per_chunk + 5);
    }
    SECTION("a short chunk that is not the last, and an error with bytes") {
        envelope short_one{node1, 4, 2, now, state_chunk{0, false, 0, 0, "", std::vector<std::uint8_t>(10, 1)}};
        CHECK(why(collect(c, {seal(short_one, the_key)})) == refusal::malformed);
        state_collector d(the_key, node1, {4, 2}, 8u << 20);
        envelope both{node1, 4, 2, now, state_chunk{0, true, 0, now, "failed", std::vector<std::uint8_t>(10, 1)}};
        CHECK(why(collect(d, {seal(both, the_key)})) == refusal::malformed);
    }
    SECTION("another message where a chunk is due") {
        CHECK(why(collect(c, {seal(envelope{node1, 4, 2, now, state_restored{true, "", 1}}, the_key)})) ==
              refusal::wrong_type);
    }
}

TEST_CASE("the agent takes backup queries and state restores like queries: fresh, per querier", "[shadow][backup]") {
    query_receiver r(the_key, 30'000);
    CHECK(std::holds_alternative<envelope>(r.accept(seal(envelope{gateway, 5, 1, now, backup_query{1000}}, the_key), now)));
    CHECK(why(r.accept(seal(envelope{gateway, 5, 1, now, state_restore{node1}}, the_key), now)) == refusal::replayed);
    CHECK(std::holds_alternative<envelope>(r.accept(seal(envelope{gateway, 5, 2, now, state_restore{node1}}, the_key), now)));
    CHECK(why(r.accept(seal(envelope{gateway, 5, 3, now - 60'000, backup_query{1}}, the_key), now)) == refusal::clock_skew);
    CHECK(why(r.accept(state_frames(a_state(10), {5, 4}, gateway)[0], now)) == refusal::wrong_type);
}
