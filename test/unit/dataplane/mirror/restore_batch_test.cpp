// The restore plans of one node's connections in a parser table: only the
// connections whose frames name the node's MAC, the restorable ones listed
// most recently used first with their replays side by side, the others
// counted by reason, and a batch that is full counting what it could not
// list.
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
    CHECK(out.conns == 3);
    REQUIRE(out.n_rows == 2);
    CHECK(out.verdicts[static_cast<std::size_t>(restore_verdict::restorable)] == 2);
    CHECK(out.verdicts[static_cast<std::size_t>(restore_verdict::incomplete)] == 1);
    CHECK(out.incomplete[static_cast<std::size_t>(conn_reason::joined_mid_stream)] == 1);
    CHECK(out.no_room == 0);
    // b was seen last: first.
    CHECK(out.rows[0].params.client_port == 40001);
    CHECK(out.rows[0].params.ts_age_ms == 500);
    CHECK(out.rows[1].params.client_port == 40000);
    CHECK(out.rows[1].params.ts_age_ms == 1000);
    const bytes in_b = call(0x201), in_a = call(0x101);
    CHECK(out.rows[0].replay_at == 0);
    CHECK(out.rows[0].replay_len == in_b.size());
    CHECK(out.rows[1].replay_at == in_b.size());
    CHECK(bytes(out.replay.begin(), out.replay.begin() + out.rows[0].replay_len) == in_b);
    CHECK(bytes(out.replay.begin() + out.rows[1].replay_at, out.replay.begin() + out.rows[1].replay_at + out.rows[1].replay_len) == in_a);
    CHECK(out.replay_used == in_a.size() + in_b.size());

    restore_batch c = sized(8, 4096);
    take_restore_batch(t, node_c, 2000, c);
    CHECK(c.conns == 1);
    CHECK(c.n_rows == 1);
    CHECK(c.rows[0].params.client_port == 40003);
}

TEST_CASE("restore batch: a full batch counts what it could not list", "[mirror][restore_batch]") {
    parser_table t(config());
    conn_spec a, b;
    a.client_port = 40000;
    b.client_port = 40001;
    feed(t, a, one_in_flight(0x100), 1000);
    feed(t, b, one_in_flight(0x200), 1000);

    restore_batch rows_full = sized(1, 4096);
    take_restore_batch(t, node_b, 1000, rows_full);
    CHECK(rows_full.n_rows == 1);
    CHECK(rows_full.no_room == 1);

    restore_batch replay_full = sized(8, call(1).size() + 10);  // room for one replay
    take_restore_batch(t, node_b, 1000, replay_full);
    CHECK(replay_full.n_rows == 1);
    CHECK(replay_full.no_room == 1);
    CHECK(replay_full.verdicts[static_cast<std::size_t>(restore_verdict::replay_too_large)] == 0);

    restore_batch none = sized(8, 4);  // not even one fits an empty buffer: too large, not a full batch
    take_restore_batch(t, node_b, 1000, none);
    CHECK(none.n_rows == 0);
    CHECK(none.no_room == 0);
    CHECK(none.verdicts[static_cast<std::size_t>(restore_verdict::replay_too_large)] == 2);
}
