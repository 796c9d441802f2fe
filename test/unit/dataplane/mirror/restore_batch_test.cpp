// The restore plans of one node's connections in a parser table: only the
// connections whose frames name the node's MAC, the restorable ones listed
// with their replays side by side, the others counted by reason, and a walk
// in pages by slot that lists each connection once: a page stops where its
// rows, its replay room or its slot budget end, and the next goes on there.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/parser_table.hpp"
#include "dataplane/mirror/restore_batch.hpp"
#include "support/mirror_session.hpp"

using namespace cg::dp::mirror;
using namespace cg::test::mirror;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;
const bytes fh = {0x43, 0, 0, 1, 0x12, 0x44, 0xd2, 0x4c};
const cg::common::mac_addr node_b{{0x02, 0, 0, 0, 0, 0x0b}};  // support/mirror_session's server MAC
const cg::common::mac_addr node_c{{0x02, 0, 0, 0, 0, 0x0c}};

bytes call(std::uint32_t xid) { return rpc_marked(rpc_call(xid, rpc_prog_nfs, 3, nfs3::getattr, nfs3_fh_args(fh))); }
bytes reply(std::uint32_t xid) { return rpc_marked(rpc_reply(xid, nfs3_getattr_res())); }

parser_table_config config() {
    parser_table_config cfg;
    cfg.capacity = 8;
    cfg.pool_chunks = 64;
    cfg.chunk_size = 512;
    return cfg;
}

/// A call answered, then one in flight (acknowledged by the node).
std::vector<seg> one_in_flight(std::uint32_t xid) {
    auto segs = conversation({{C, call(xid)}, {S, reply(xid)}, {C, call(xid + 1)}}, 1448, ending::none);
    const auto n = static_cast<std::uint32_t>(call(xid).size());
    segs.push_back({C, 2 * n, ACK, static_cast<std::uint32_t>(reply(xid).size()), {}, {}});
    segs.push_back({S, static_cast<std::uint32_t>(reply(xid).size()), ACK, 2 * n, {}, {}});
    return segs;
}

void feed(parser_table& t, const conn_spec& c, const std::vector<seg>& segs, std::uint32_t now,
          const cg::common::mac_addr& node = node_b) {
    for (const seg& s : segs) {
        bytes f = to_frame(c, s);
        // The node's MAC: the destination of the client's frames, the source of the server's.
        std::copy(node.b.begin(), node.b.end(), f.begin() + (s.dir == C ? 0 : 6));
        t.frame(f.data(), static_cast<std::uint32_t>(f.size()), now);
    }
}

restore_batch sized(std::size_t rows, std::size_t replay) {
    restore_batch b;
    b.rows.resize(rows);
    b.replay.resize(replay);
    return b;
}

}  // namespace

TEST_CASE("restore batch: the node's connections only, restorable ones most recently used first", "[mirror][restore_batch]") {
    parser_table t(config());
    conn_spec a, b, mid, other;
    a.client_port = 40000;
    b.client_port = 40001;
    mid.client_port = 40002;
    other.client_port = 40003;
    feed(t, a, one_in_flight(0x100), 1000);
    feed(t, b, one_in_flight(0x200), 1500);
    auto joined = one_in_flight(0x300);
    joined.erase(joined.begin(), joined.begin() + 3);  // no handshake seen
    feed(t, mid, joined, 1600);
    feed(t, other, one_in_flight(0x400), 1700, node_c);

    restore_batch out = sized(8, 4096);
    take_restore_batch(t, node_b, 2000, out);
    CHECK(out.done);
    CHECK(out.next == t.capacity());
    CHECK(out.conns == 3);
    REQUIRE(out.n_rows == 2);
    CHECK(out.verdicts[static_cast<std::size_t>(restore_verdict::restorable)] == 2);
    CHECK(out.verdicts[static_cast<std::size_t>(restore_verdict::incomplete)] == 1);
    CHECK(out.incomplete[static_cast<std::size_t>(conn_reason::joined_mid_stream)] == 1);
    // In slot order (a was made first), each with the age of its last frame.
    CHECK(out.rows[0].params.client_port == 40000);
    CHECK(out.rows[0].params.ts_age_ms == 1000);
    CHECK(out.rows[1].params.client_port == 40001);
    CHECK(out.rows[1].params.ts_age_ms == 500);
    const bytes in_b = call(0x201), in_a = call(0x101);
    CHECK(out.rows[0].replay_at == 0);
    CHECK(out.rows[0].replay_len == in_a.size());
    CHECK(out.rows[1].replay_at == in_a.size());
    CHECK(bytes(out.replay.begin(), out.replay.begin() + out.rows[0].replay_len) == in_a);
    CHECK(bytes(out.replay.begin() + out.rows[1].replay_at, out.replay.begin() + out.rows[1].replay_at + out.rows[1].replay_len) == in_b);
    CHECK(out.replay_used == in_a.size() + in_b.size());

    restore_batch c = sized(8, 4096);
    take_restore_batch(t, node_c, 2000, c);
    CHECK(c.conns == 1);
    CHECK(c.n_rows == 1);
    CHECK(c.rows[0].params.client_port == 40003);
}

TEST_CASE("restore batch: a full batch stops where the next one goes on", "[mirror][restore_batch]") {
    parser_table t(config());
    conn_spec a, b, c;
    a.client_port = 40000;
    b.client_port = 40001;
    c.client_port = 40002;
    feed(t, a, one_in_flight(0x100), 1000);
    feed(t, b, one_in_flight(0x200), 1000);
    feed(t, c, one_in_flight(0x300), 1000);

    // One row per page: three pages, each connection in one of them.
    std::vector<std::uint16_t> ports;
    std::uint32_t from = 0, pages = 0;
    for (bool done = false; !done; ++pages) {
        restore_batch page = sized(1, 4096);
        page.from = from;
        take_restore_batch(t, node_b, 1000, page);
        REQUIRE(page.n_rows <= 1);
        if (page.n_rows == 1) ports.push_back(page.rows[0].params.client_port);
        CHECK(page.conns == page.n_rows);  // the one it stopped at is the next page's, not counted twice
        REQUIRE((page.done || page.next > from));
        from = page.next;
        done = page.done;
        REQUIRE(pages < 8);
    }
    CHECK(ports == std::vector<std::uint16_t>{40000, 40001, 40002});

    // Traffic between two pages moves a connection to the front of the
    // table's order; the walk by slot still lists it once.
    restore_batch first = sized(1, 4096);
    take_restore_batch(t, node_b, 1000, first);
    REQUIRE(first.n_rows == 1);
    CHECK(!first.done);
    feed(t, a, {one_in_flight(0x100).back()}, 1100);  // the node's last ACK again
    feed(t, c, {one_in_flight(0x300).back()}, 1200);
    restore_batch rest = sized(8, 4096);
    rest.from = first.next;
    take_restore_batch(t, node_b, 1300, rest);
    CHECK(rest.done);
    REQUIRE(rest.n_rows == 2);
    CHECK(rest.rows[0].params.client_port == 40001);
    CHECK(rest.rows[1].params.client_port == 40002);

    // Room for one replay: the second page starts at the connection that did not fit.
    restore_batch replay_full = sized(8, call(1).size() + 10);
    take_restore_batch(t, node_b, 1000, replay_full);
    CHECK(replay_full.n_rows == 1);
    CHECK(!replay_full.done);
    CHECK(replay_full.verdicts[static_cast<std::size_t>(restore_verdict::replay_too_large)] == 0);
    restore_batch after = sized(8, call(1).size() + 10);
    after.from = replay_full.next;
    take_restore_batch(t, node_b, 1000, after);
    CHECK(after.n_rows == 1);
    CHECK(after.rows[0].params.client_port == 40001);

    // Not even one fits an empty buffer: too large, counted, and the walk goes on.
    restore_batch none = sized(8, 4);
    take_restore_batch(t, node_b, 1000, none);
    CHECK(none.n_rows == 0);
    CHECK(none.done);
    CHECK(none.verdicts[static_cast<std::size_t>(restore_verdict::replay_too_large)] == 3);
}

TEST_CASE("restore batch: a page looks at its slot budget at most", "[mirror][restore_batch]") {
    parser_table t(config());
    conn_spec a, b;
    a.client_port = 40000;
    b.client_port = 40001;
    feed(t, a, one_in_flight(0x100), 1000);
    feed(t, b, one_in_flight(0x200), 1000);
    std::uint32_t from = 0, listed = 0, pages = 0;
    for (bool done = false; !done; ++pages) {
        restore_batch page = sized(8, 4096);
        page.from = from;
        page.scan = 1;
        take_restore_batch(t, node_b, 1000, page);
        CHECK(page.n_rows <= 1);
        CHECK(page.next == from + 1);
        listed += page.n_rows;
        from = page.next;
        done = page.done;
        REQUIRE(pages < 16);
    }
    CHECK(pages == t.capacity());
    CHECK(listed == 2);
}
