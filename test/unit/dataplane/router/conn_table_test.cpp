#include <catch2/catch.hpp>

#include <random>
#include <set>
#include <vector>

#include "dataplane/router/conn_table.hpp"

using namespace cg::dp;
using cg::common::flow_key;
using cg::common::flow_hash;

namespace {

flow_key key(std::uint32_t i) {
    flow_key k;
    k.saddr = 0xc6120000 + (i >> 16);
    k.daddr = 0xc6120064;
    k.sport = static_cast<std::uint16_t>(i);
    k.dport = 80;
    k.proto = 6;
    return k;
}

conn_entry* add(conn_table& t, std::uint32_t i) {
    const auto k = key(i);
    const auto h = flow_hash(k);
    auto p = t.lookup(k, h);
    REQUIRE_FALSE(p.hit);
    conn_entry* e = t.insert(p, k, h);
    if (e) {
        e->state = conn_state::active;
        e->node = static_cast<std::uint16_t>(i);
    }
    return e;
}

bool has(conn_table& t, std::uint32_t i) {
    const auto k = key(i);
    return t.lookup(k, flow_hash(k)).hit;
}

}  // namespace

TEST_CASE("slots_for keeps the load factor at or under 3/4", "[conn_table]") {
    CHECK(conn_table::slots_for(1) == 64);
    CHECK(conn_table::slots_for(48) == 64);
    CHECK(conn_table::slots_for(49) == 128);
    CHECK(conn_table::slots_for(10'000'000) == 16u << 20);  // 512 MiB of 32-byte slots
}

TEST_CASE("insert, find and erase", "[conn_table]") {
    std::vector<conn_entry> mem(conn_table::slots_for(100));
    conn_table t(mem, 100);
    for (std::uint32_t i = 0; i < 100; ++i) REQUIRE(add(t, i));
    CHECK(t.size() == 100);
    for (std::uint32_t i = 0; i < 100; ++i) CHECK(has(t, i));
    CHECK_FALSE(has(t, 100));

    const auto k = key(7);
    t.erase(t.lookup(k, flow_hash(k)).e);
    CHECK_FALSE(has(t, 7));
    CHECK(t.size() == 99);
    for (std::uint32_t i = 0; i < 100; ++i)
        if (i != 7) CHECK(has(t, i));
}

TEST_CASE("a full table refuses inserts and changes nothing", "[conn_table]") {
    std::vector<conn_entry> mem(conn_table::slots_for(10));
    conn_table t(mem, 10);
    for (std::uint32_t i = 0; i < 10; ++i) REQUIRE(add(t, i));
    CHECK(add(t, 10) == nullptr);
    CHECK(t.size() == 10);
    CHECK_FALSE(has(t, 10));
}

TEST_CASE("backward-shift deletion keeps every probe chain intact", "[conn_table]") {
    // Small table at its load limit, random erase and re-insert: every key
    // inserted and not erased must stay findable, whatever moved.
    std::vector<conn_entry> mem(conn_table::slots_for(48));
    conn_table t(mem, 48);
    std::mt19937 rng(42);
    std::set<std::uint32_t> live;
    for (int round = 0; round < 5000; ++round) {
        const std::uint32_t i = rng() % 200;
        const auto k = key(i);
        auto p = t.lookup(k, flow_hash(k));
        if (p.hit) {
            t.erase(p.e);
            live.erase(i);
        } else if (t.insert(p, k, flow_hash(k))) {
            p.e->state = conn_state::active;
            live.insert(i);
        }
        REQUIRE(t.size() == live.size());
    }
    for (std::uint32_t i = 0; i < 200; ++i) CHECK(has(t, i) == live.contains(i));
}

TEST_CASE("sweep visits a bounded slice and removes what the predicate says", "[conn_table]") {
    std::vector<conn_entry> mem(conn_table::slots_for(300));
    conn_table t(mem, 300);
    for (std::uint32_t i = 0; i < 300; ++i) REQUIRE(add(t, i));
    const auto odd = [](const conn_entry& e) { return e.node % 2 == 1; };

    std::uint32_t removed = t.sweep(16, odd);
    CHECK(removed <= 16);
    std::uint32_t passes = 0;
    while (t.size() > 150 && passes++ < 200) removed += t.sweep(16, odd);
    CHECK(removed == 150);
    for (std::uint32_t i = 0; i < 300; ++i) CHECK(has(t, i) == (i % 2 == 0));
}

TEST_CASE("dump pages through every entry once when nothing changes", "[conn_table]") {
    std::vector<conn_entry> mem(conn_table::slots_for(500));
    conn_table t(mem, 500);
    for (std::uint32_t i = 0; i < 500; ++i) REQUIRE(add(t, i));
    std::set<std::uint16_t> seen;
    std::uint32_t cursor = 0;
    std::vector<conn_entry> page(37);
    while (cursor < t.slot_count()) {
        const auto n = t.dump(cursor, page);
        for (std::uint32_t i = 0; i < n; ++i) CHECK(seen.insert(page[i].node).second);
    }
    CHECK(seen.size() == 500);
}
