// Jobs a worker runs for the control thread (dataplane/ctl/worker_job.cpp):
// pages of its real connection table, and "simulate flow", on the router of
// the fixture tables.
#include <catch2/catch.hpp>

#include <set>
#include <vector>

#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/router_fixture.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;
using wire::tcp_ack, wire::tcp_fin, wire::tcp_syn;

namespace {

/// What one dump job gave back.
struct page {
    std::vector<conn_entry> entries;
    std::uint32_t next_cursor = 0, table_size = 0, slot_count = 0, now_ms = 0;
};

page dump(router_fixture& fx, std::uint32_t cursor, std::size_t capacity, std::uint32_t now) {
    worker_job job;
    job.what = worker_job::kind::dump;
    job.cursor = cursor;
    job.page.resize(capacity);
    run_job(job, fx.router, *fx.snap, now);
    REQUIRE(job.done.load(std::memory_order_acquire));
    REQUIRE(job.count <= capacity);
    CHECK(job.page.size() == capacity);  // filled in place: the worker never allocates
    return {{job.page.begin(), job.page.begin() + job.count}, job.next_cursor, job.table_size, job.slot_count,
            job.now_ms};
}

simulation simulate(router_fixture& fx, const common::flow_key& k, std::uint32_t now) {
    worker_job job;
    job.what = worker_job::kind::simulate;
    job.flow = k;
    run_job(job, fx.router, *fx.snap, now);
    REQUIRE(job.done.load(std::memory_order_acquire));
    CHECK(job.now_ms == now);
    CHECK(job.table_size == fx.table.size());
    return job.sim;
}

/// The flow of the fixture's client frames from `sport` (frame_spec's defaults).
common::flow_key client_flow(std::uint16_t sport, std::uint16_t dport = 80) {
    common::flow_key k;
    k.saddr = client_ip;
    k.daddr = vip;
    k.sport = sport;
    k.dport = dport;
    k.proto = 6;
    return k;
}

/// The slots of the table that hold an entry, in slot order.
std::vector<std::uint32_t> occupied_slots(const router_fixture& fx) {
    std::vector<std::uint32_t> out;
    for (std::uint32_t i = 0; i < fx.table_mem.size(); ++i)
        if (fx.table_mem[i].state != conn_state::empty) out.push_back(i);
    return out;
}

/// Which fixture node (1-based) a node slot is, or 0.
int node_at(const router_fixture& fx, std::uint16_t slot) {
    for (int i = 1; i <= 3; ++i)
        if (fx.slot_of(i) == slot) return i;
    return 0;
}

}  // namespace

TEST_CASE("dump jobs page through the table in slot order and end with next_cursor at the end", "[worker_job]") {
    router_fixture fx;
    for (std::uint16_t p = 0; p < 25; ++p) REQUIRE(fx.tcp(static_cast<std::uint16_t>(1000 + p), tcp_syn, 100).act == action::forward);
    const auto slots = occupied_slots(fx);
    REQUIRE(slots.size() == 25);
    const std::uint32_t end = fx.table.slot_count();

    std::vector<page> pages;
    std::uint32_t cursor = 0;
    while (cursor != end && pages.size() < 10) {
        pages.push_back(dump(fx, cursor, 10, 250));
        cursor = pages.back().next_cursor;
    }
    REQUIRE(pages.size() == 3);

    // The first two pages fill inside the table: each stops right after the
    // slot of its last entry, and the next one starts there.
    for (std::size_t i = 0; i < 2; ++i) {
        INFO("page " << i);
        REQUIRE(pages[i].entries.size() == 10);
        CHECK(pages[i].next_cursor == slots[10 * i + 9] + 1);
        CHECK(pages[i].next_cursor < end);
    }
    REQUIRE(pages[2].entries.size() == 5);
    CHECK(pages[2].next_cursor == end);

    // Together the pages are every entry once, in slot order, as they are in the table.
    std::size_t n = 0;
    for (const auto& pg : pages) {
        CHECK(pg.table_size == 25);
        CHECK(pg.slot_count == end);
        CHECK(pg.now_ms == 250);
        for (const auto& e : pg.entries) {
            REQUIRE(n < slots.size());
            const conn_entry& in_table = fx.table_mem[slots[n++]];
            CHECK(e.key == in_table.key);
            CHECK(e.hash == in_table.hash);
            CHECK(e.node == in_table.node);
            CHECK(e.state == conn_state::active);
            CHECK(e.last_seen == 100);
            CHECK(node_at(fx, e.node) != 0);
        }
    }
    CHECK(n == 25);
}

TEST_CASE("a page that fills on the last entry ends where it stopped; the next page is empty and ends the table", "[worker_job]") {
    router_fixture fx;
    for (std::uint16_t p = 0; p < 8; ++p) fx.tcp(static_cast<std::uint16_t>(3000 + p), tcp_syn, 0);
    const auto slots = occupied_slots(fx);
    REQUIRE(slots.size() == 8);

    const auto full = dump(fx, 0, 8, 0);
    CHECK(full.entries.size() == 8);
    CHECK(full.next_cursor == slots.back() + 1);  // a full page does not look further
    const auto after = dump(fx, full.next_cursor, 8, 0);
    CHECK(after.entries.empty());
    CHECK(after.next_cursor == fx.table.slot_count());

    const auto from_middle = dump(fx, slots[5], 8, 0);  // a cursor on an entry includes it
    REQUIRE(from_middle.entries.size() == 3);
    CHECK(from_middle.entries[0].key == fx.table_mem[slots[5]].key);
    CHECK(from_middle.next_cursor == fx.table.slot_count());
}

TEST_CASE("a dump of an empty table, or from its end, is one empty last page", "[worker_job]") {
    router_fixture fx;
    const auto empty = dump(fx, 0, 10, 5);
    CHECK(empty.entries.empty());
    CHECK(empty.next_cursor == fx.table.slot_count());
    CHECK(empty.table_size == 0);
    CHECK(empty.slot_count == fx.table.slot_count());

    fx.tcp(4000, tcp_syn, 0);
    const auto at_end = dump(fx, fx.table.slot_count(), 10, 5);
    CHECK(at_end.entries.empty());
    CHECK(at_end.next_cursor == fx.table.slot_count());
    CHECK(at_end.table_size == 1);
}

TEST_CASE("a simulate job names an existing flow's node, state and idle time, and changes nothing", "[worker_job]") {
    router_fixture fx;
    bytes f;
    REQUIRE(fx.tcp(700, tcp_syn, 50, &f).act == action::forward);
    const int node = router_fixture::node_of(f);

    auto sim = simulate(fx, client_flow(700), 80);
    CHECK(sim.what == simulation::outcome::existing);
    CHECK(sim.node == fx.slot_of(node));
    CHECK(sim.state == conn_state::active);
    CHECK(sim.idle_ms == 30);
    CHECK(fx.table.size() == 1);

    REQUIRE(fx.tcp(700, tcp_fin | tcp_ack, 90).act == action::forward);
    sim = simulate(fx, client_flow(700), 100);
    CHECK(sim.what == simulation::outcome::existing);
    CHECK(sim.node == fx.slot_of(node));
    CHECK(sim.state == conn_state::fin);
    CHECK(sim.idle_ms == 10);
}

TEST_CASE("a simulate job for a new flow names the next WRR pick without taking it", "[worker_job]") {
    router_fixture fx;
    REQUIRE(fx.tcp(800, tcp_syn, 0).act == action::forward);  // the walk has moved on once
    const auto first = simulate(fx, client_flow(801), 10);
    CHECK(first.what == simulation::outcome::new_connection);
    const auto again = simulate(fx, client_flow(802), 10);
    CHECK(again.node == first.node);  // the pick was not taken
    CHECK(fx.table.size() == 1);      // nor an entry made

    bytes f;
    REQUIRE(fx.tcp(801, tcp_syn, 20, &f).act == action::forward);
    CHECK(fx.slot_of(router_fixture::node_of(f)) == first.node);  // the prediction holds

    const auto nowhere = simulate(fx, client_flow(803, 81), 20);
    CHECK(nowhere.what == simulation::outcome::dropped);
    CHECK(nowhere.why == drop_reason::no_service);
}

TEST_CASE("worker_for_hash splits the hash space into equal contiguous ranges, one per worker", "[worker_job]") {
    CHECK(worker_for_hash(0, 4) == 0);
    CHECK(worker_for_hash(0x3fffffff, 4) == 0);
    CHECK(worker_for_hash(0x40000000, 4) == 1);
    CHECK(worker_for_hash(0xbfffffff, 4) == 2);
    CHECK(worker_for_hash(0xc0000000, 4) == 3);
    CHECK(worker_for_hash(0xffffffff, 4) == 3);
    // Three workers: the thirds of 2^32 end at 0x55555555 and 0xaaaaaaaa.
    CHECK(worker_for_hash(0x55555555, 3) == 0);
    CHECK(worker_for_hash(0x55555556, 3) == 1);
    CHECK(worker_for_hash(0xaaaaaaaa, 3) == 1);
    CHECK(worker_for_hash(0xaaaaaaab, 3) == 2);
    CHECK(worker_for_hash(0xffffffff, 1) == 0);
}

TEST_CASE("an insert job runs in slices of its budget and counts every entry's outcome", "[worker_job][bulk]") {
    router_fixture fx(100);
    REQUIRE(fx.tcp(7, tcp_syn, 0).act == action::forward);  // one entry there already
    worker_job job;
    job.what = worker_job::kind::insert;
    for (std::uint16_t p = 0; p < 120; ++p) {  // 99 fit beside the one there; sport 7 is that one
        conn_entry e;
        e.key = client_flow(p);
        e.hash = common::flow_hash(e.key);
        e.node = fx.slot_of(2);
        e.node_gen = fx.snap->nodes[e.node].gen;
        e.state = conn_state::active;
        job.page.push_back(e);
    }
    int calls = 0;
    for (;;) {
        std::uint32_t budget = 25;
        ++calls;
        const bool finished = run_job(job, fx.router, *fx.snap, 50, budget);
        CHECK(budget == 25 - std::min(25u, 120 - (calls - 1) * 25u));  // spent what it did
        if (finished) break;
        CHECK_FALSE(job.done.load());
        REQUIRE(calls < 10);
    }
    CHECK(calls == 5);  // 25 + 25 + 25 + 25 + 20
    CHECK(job.done.load());
    using rr = router::restore_result;
    CHECK(job.results[static_cast<std::size_t>(rr::kept)] == 1);
    CHECK(job.results[static_cast<std::size_t>(rr::inserted)] == 99);
    CHECK(job.results[static_cast<std::size_t>(rr::full)] == 20);
    CHECK(job.table_size == 100);
    CHECK(fx.table.size() == 100);
}

TEST_CASE("a dump job in slices gives the same page as one run", "[worker_job][bulk]") {
    router_fixture fx;
    for (std::uint16_t p = 0; p < 40; ++p) REQUIRE(fx.tcp(static_cast<std::uint16_t>(2000 + p), tcp_syn, 0).act == action::forward);
    const auto whole = dump(fx, 0, 30, 0);
    worker_job job;
    job.what = worker_job::kind::dump;
    job.page.resize(30);
    int calls = 0;
    for (bool finished = false; !finished;) {
        std::uint32_t budget = 4;
        finished = run_job(job, fx.router, *fx.snap, 0, budget);
        REQUIRE(++calls < 100);
    }
    CHECK(calls >= 8);  // 30 entries at most 4 a slice
    REQUIRE(job.count == whole.entries.size());
    for (std::uint32_t i = 0; i < job.count; ++i) CHECK(job.page[i].key == whole.entries[i].key);
    CHECK(job.next_cursor == whole.next_cursor);
}
