// The chunk pool that holds unanswered requests' bytes, and a connection's
// FIFO of requests and replies: what is kept whole, what is dropped, and what
// makes a connection unrestorable.
#include <catch2/catch.hpp>

#include <numeric>
#include <string>
#include <vector>

#include "dataplane/mirror/msg_fifo.hpp"

using namespace cg::dp::mirror;

namespace {

std::vector<std::uint8_t> pattern(std::size_t n, std::uint8_t seed) {
    std::vector<std::uint8_t> v(n);
    std::iota(v.begin(), v.end(), seed);
    return v;
}

std::vector<std::uint8_t> read_back(const chunk_pool& pool, const held_bytes& h) {
    std::vector<std::uint8_t> out(h.len);
    REQUIRE(pool.copy_out(h, out) == h.len);
    return out;
}

app_message call(std::uint64_t id) {
    app_message m;
    m.kind = msg_kind::call;
    m.id = id;
    return m;
}

app_message reply(std::uint64_t id) {
    app_message m;
    m.kind = msg_kind::reply;
    m.id = id;
    return m;
}

}  // namespace

TEST_CASE("chunk pool: bytes come back as they went in, across chunk boundaries", "[msg_fifo]") {
    chunk_pool pool(16, 64);
    for (std::size_t n : {1u, 63u, 64u, 65u, 200u, 1024u}) {
        const auto b = pattern(n, static_cast<std::uint8_t>(n));
        held_bytes h = pool.hold(b);
        REQUIRE(h.len == n);
        CHECK(read_back(pool, h) == b);
        CHECK(pool.free_chunks() == 16 - pool.chunks_for(static_cast<std::uint32_t>(n)));
        pool.release(h);
        CHECK(h.empty());
        CHECK(pool.free_chunks() == 16);
    }
}

TEST_CASE("chunk pool: what does not fit is refused whole, and nothing leaks", "[msg_fifo]") {
    chunk_pool pool(4, 100);
    held_bytes a = pool.hold(pattern(250, 1));  // 3 chunks
    REQUIRE_FALSE(a.empty());
    held_bytes b = pool.hold(pattern(150, 2));  // 2 chunks: only 1 free
    CHECK(b.empty());
    CHECK(pool.refused() == 1);
    CHECK(pool.free_chunks() == 1);
    held_bytes c = pool.hold(pattern(100, 3));  // exactly the last one
    REQUIRE_FALSE(c.empty());
    CHECK(pool.free_chunks() == 0);
    CHECK(read_back(pool, a) == pattern(250, 1));
    CHECK(read_back(pool, c) == pattern(100, 3));
    pool.release(a);
    pool.release(c);
    pool.release(c);  // twice: harmless
    CHECK(pool.free_chunks() == 4);
    CHECK(pool.hold({}).empty());
}

TEST_CASE("chunk pool: interleaved holds and releases keep every chain intact", "[msg_fifo]") {
    chunk_pool pool(64, 32);
    std::vector<held_bytes> held;
    std::vector<std::vector<std::uint8_t>> want;
    for (int round = 0; round < 200; ++round) {
        const std::size_t n = 1 + (round * 37) % 150;
        auto b = pattern(n, static_cast<std::uint8_t>(round));
        held_bytes h = pool.hold(b);
        if (!h.empty()) {
            held.push_back(h);
            want.push_back(b);
        }
        if (round % 3 == 2 && !held.empty()) {  // release the middle one
            const std::size_t k = held.size() / 2;
            CHECK(read_back(pool, held[k]) == want[k]);
            pool.release(held[k]);
            held.erase(held.begin() + static_cast<long>(k));
            want.erase(want.begin() + static_cast<long>(k));
        }
    }
    std::uint32_t used = 0;
    for (std::size_t i = 0; i < held.size(); ++i) {
        CHECK(read_back(pool, held[i]) == want[i]);
        used += pool.chunks_for(held[i].len);
    }
    CHECK(pool.free_chunks() == 64 - used);
}

TEST_CASE("fifo: an unanswered request is held whole; its reply frees it", "[msg_fifo]") {
    chunk_pool pool(8, 128);
    msg_fifo f;
    const auto rec = pattern(300, 9);
    CHECK(f.push(call(7), rec, true, pool) == fifo_flaw::none);
    CHECK(f.unanswered() == 1);
    CHECK(f.held() == 300);
    REQUIRE(f.find_request(7) != nullptr);
    CHECK(f.find_request(8) == nullptr);
    CHECK(f.flaw() == fifo_flaw::none);
    std::vector<std::vector<std::uint8_t>> seen;
    f.for_each([&](const fifo_entry& e) { seen.push_back(read_back(pool, e.bytes)); });
    CHECK(seen == std::vector<std::vector<std::uint8_t>>{rec});

    CHECK_FALSE(f.answer(reply(8), pool));  // no such request
    CHECK(f.answer(reply(7), pool));
    CHECK_FALSE(f.answer(reply(7), pool));  // answered once only
    CHECK(f.unanswered() == 0);
    CHECK(f.held() == 0);
    CHECK(pool.free_chunks() == 8);
    CHECK(f.find_request(7) == nullptr);
    CHECK(f.size() == 1);  // kept, without its bytes
}

TEST_CASE("fifo: replies in any order match their own requests", "[msg_fifo]") {
    chunk_pool pool(32, 64);
    msg_fifo f;
    for (std::uint64_t id = 1; id <= 5; ++id) f.push(call(id), pattern(10 * id, 0), true, pool);
    for (std::uint64_t id : {4u, 1u, 5u}) CHECK(f.answer(reply(id), pool));
    std::vector<std::uint64_t> open;
    f.for_each([&](const fifo_entry& e) {
        if (!e.answered) open.push_back(e.msg.id);
    });
    CHECK(open == std::vector<std::uint64_t>{2, 3});
    CHECK(f.held() == 20 + 30);
    // Only keep_answered answered ones stay: 1 (the oldest answered) went.
    std::vector<std::uint64_t> all;
    f.for_each([&](const fifo_entry& e) { all.push_back(e.msg.id); });
    CHECK(all == std::vector<std::uint64_t>{2, 3, 4, 5});
}

TEST_CASE("fifo: a full FIFO drops answered entries first, then loses restorability", "[msg_fifo]") {
    chunk_pool pool(64, 64);
    msg_fifo f;
    f.push(call(100), pattern(10, 0), true, pool);
    f.answer(reply(100), pool);
    for (std::uint64_t id = 1; id < msg_fifo::capacity; ++id) f.push(call(id), pattern(10, 0), true, pool);
    REQUIRE(f.size() == msg_fifo::capacity);
    f.push(call(50), pattern(10, 0), true, pool);  // room made by the answered one
    CHECK(f.flaw() == fifo_flaw::none);
    CHECK(f.unanswered() == msg_fifo::capacity);
    f.push(call(51), pattern(10, 0), true, pool);  // no answered one left: request 1 goes
    CHECK(f.flaw() == fifo_flaw::request_dropped);
    CHECK(f.find_request(1) == nullptr);
    CHECK(f.find_request(51) != nullptr);
    CHECK(f.held() == 10u * msg_fifo::capacity);
    f.clear(pool);
    CHECK(f.size() == 0);
    CHECK(f.flaw() == fifo_flaw::none);
    CHECK(pool.free_chunks() == 64);
}

TEST_CASE("fifo: a request not held whole makes the connection unrestorable until it is answered", "[msg_fifo]") {
    chunk_pool pool(2, 64);
    msg_fifo f;
    CHECK(f.push(call(1), pattern(64, 0), false, pool) == fifo_flaw::request_too_large);
    CHECK(f.flaw() == fifo_flaw::request_too_large);
    CHECK(f.push(call(2), pattern(300, 0), true, pool) == fifo_flaw::no_memory);  // 5 chunks, 2 in the pool
    CHECK(f.push(call(3), pattern(100, 0), true, pool) == fifo_flaw::none);
    CHECK(f.flaw() == fifo_flaw::request_too_large);  // the oldest flawed one
    f.answer(reply(1), pool);
    CHECK(f.flaw() == fifo_flaw::no_memory);
    f.answer(reply(2), pool);
    CHECK(f.flaw() == fifo_flaw::none);
    CHECK(std::string(fifo_flaw_name(fifo_flaw::no_memory)) == "no_memory");
}
