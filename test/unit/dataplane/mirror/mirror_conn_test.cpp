// One followed connection through the whole stack: segments in (built by
// hand, test/support/mirror_session), messages, the FIFO and the
// connection's completeness out. Tables of sessions per behaviour: NFSv3
// calls and replies however TCP cut them, several in flight, joined
// mid-stream, a gap, the FIFO's limits; SMB2 matched by MessageId, an
// interim response, a related compound's FileId, CANCEL, encryption; a
// TCP-only connection.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "dataplane/mirror/mirror_conn.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/record_framer.hpp"
#include "dataplane/mirror/smb2.hpp"
#include "support/mirror_session.hpp"

using namespace cg::dp::mirror;
using namespace cg::test::mirror;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;
const bytes fh = {0x43, 0, 0, 1, 0x12, 0x44, 0xd2, 0x4c, 0x7b, 0xb1, 0xd5, 0x8b};
const bytes fid = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
const bytes related_fid(16, 0xff);

/// What the observer heard.
struct heard final : conn_observer {
    struct msg {
        app_message m;
        msg_note note;
        std::optional<std::uint64_t> answers;  ///< replies: the id of the request they answered
    };
    std::vector<msg> requests, replies;

    void on_request(const mirror_conn&, const app_message& m, const msg_note& n) noexcept override {
        requests.push_back({m, n, std::nullopt});
    }
    void on_reply(const mirror_conn&, const app_message& m, const msg_note& n, const app_message* req) noexcept override {
        replies.push_back({m, n, req ? std::optional{req->id} : std::nullopt});
    }
};

/// One connection under test, with its own pool and storage.
struct rig {
    conn_spec spec;
    mirror_conn_config cfg;
    chunk_pool pool;
    std::vector<std::uint8_t> storage;
    mirror_conn conn;
    heard obs;

    explicit rig(port_proto speaks = port_proto::nfs, mirror_conn_config c = {}, std::uint32_t chunks = 64)
        : cfg(c), pool(chunks, 512), storage(mirror_conn::storage_bytes(c)), conn(c, storage, pool) {
        spec.server_port = speaks == port_proto::smb ? 445 : 2049;
        conn.start({spec.client, spec.server, spec.client_port, spec.server_port}, speaks, 1, &obs, nullptr);
    }
    void feed(const std::vector<seg>& segs) {
        for (const seg& s : segs) conn.follow(to_segment(spec, s));
    }
};

bytes call(std::uint32_t xid, std::uint32_t proc, const bytes& args) {
    return rpc_marked(rpc_call(xid, rpc_prog_nfs, 3, proc, args));
}
bytes reply(std::uint32_t xid, const bytes& res) { return rpc_marked(rpc_reply(xid, res)); }

/// GETATTR, READ 4 KiB at 8192, WRITE 100 bytes at 0 FILE_SYNC, each answered.
std::vector<turn> nfs_session() {
    return {
        {C, call(0x100, nfs3::getattr, nfs3_fh_args(fh))},
        {S, reply(0x100, nfs3_getattr_res())},
        {C, call(0x101, nfs3::read, nfs3_read_args(fh, 8192, 4096))},
        {S, reply(0x101, nfs3_read_res(bytes(4096, 0x61)))},
        {C, call(0x102, nfs3::write, nfs3_write_args(fh, 0, bytes(100, 0x62)))},
        {S, reply(0x102, nfs3_write_res(100))},
    };
}

}  // namespace

TEST_CASE("mirror_conn: NFSv3 calls and replies, however TCP cut them", "[mirror][mirror_conn]") {
    for (const std::size_t cut : {std::size_t{0}, std::size_t{1448}, std::size_t{100}, std::size_t{7}, std::size_t{1}}) {
        CAPTURE(cut);
        rig r;
        r.feed(conversation(nfs_session(), cut, ending::none));
        REQUIRE(r.obs.requests.size() == 3);
        REQUIRE(r.obs.replies.size() == 3);
        const auto& q = r.obs.requests;
        CHECK(q[0].m.proto == app_proto::nfs3);
        CHECK(q[0].m.id == 0x100);
        CHECK(q[0].m.procedure == nfs3::getattr);
        CHECK(std::vector<std::uint8_t>(q[0].m.fh.bytes().begin(), q[0].m.fh.bytes().end()) == fh);
        CHECK(q[1].m.procedure == nfs3::read);
        CHECK(q[1].m.offset == 8192);
        CHECK(q[1].m.count == 4096);
        CHECK(q[2].m.procedure == nfs3::write);
        CHECK(q[2].m.count == 100);
        CHECK(q[2].m.stable == 2);
        for (const auto& m : q) {
            CHECK(m.note.flaw == fifo_flaw::none);
            CHECK(m.note.whole);
        }
        for (std::size_t i = 0; i < 3; ++i) {
            CHECK(r.obs.replies[i].answers == q[i].m.id);
            CHECK(r.obs.replies[i].m.proto == app_proto::nfs3);
            CHECK(r.obs.replies[i].m.procedure == q[i].m.procedure);
            CHECK(r.obs.replies[i].m.status == 0);
        }
        CHECK(r.obs.replies[1].m.count == 4096);
        CHECK(r.conn.fifo().unanswered() == 0);
        CHECK(r.conn.fifo().held() == 0);
        CHECK(r.conn.reason() == conn_reason::complete);
        CHECK(r.pool.free_chunks() == r.pool.chunks());
        CHECK(r.conn.counters().records[0] == 3);
        CHECK(r.conn.counters().records[1] == 3);
    }
}

TEST_CASE("mirror_conn: an unanswered call is held whole, its bytes given back by its reply", "[mirror][mirror_conn]") {
    rig r;
    const bytes c1 = call(0x200, nfs3::write, nfs3_write_args(fh, 0, bytes(3000, 0x77)));
    auto segs = conversation({{C, c1}, {S, reply(0x200, nfs3_write_res(3000))}}, 1448, ending::none);
    const auto reply_at = std::find_if(segs.begin(), segs.end(), [](const seg& s) { return s.dir == S && !s.payload.empty(); });
    r.feed({segs.begin(), reply_at});
    CHECK(r.conn.fifo().unanswered() == 1);
    CHECK(r.conn.fifo().held() == c1.size() - 4);  // the record, its marker removed
    CHECK(r.pool.free_chunks() == r.pool.chunks() - r.pool.chunks_for(static_cast<std::uint32_t>(c1.size() - 4)));
    CHECK(r.conn.complete());
    r.feed({reply_at, segs.end()});
    CHECK(r.conn.fifo().unanswered() == 0);
    CHECK(r.pool.free_chunks() == r.pool.chunks());
}

TEST_CASE("mirror_conn: three calls in one segment, answered in another order", "[mirror][mirror_conn]") {
    rig r;
    bytes three;
    for (std::uint32_t x : {0x301u, 0x302u, 0x303u}) {
        const bytes c = call(x, nfs3::read, nfs3_read_args(fh, (x - 0x301) * 4096, 4096));
        three.insert(three.end(), c.begin(), c.end());
    }
    r.feed(conversation({{C, three},
                         {S, reply(0x302, nfs3_read_res(bytes(10, 1)))},
                         {S, reply(0x301, nfs3_read_res(bytes(10, 2)))},
                         {S, reply(0x303, nfs3_read_res(bytes(10, 3)))}},
                        0, ending::none));
    REQUIRE(r.obs.requests.size() == 3);
    REQUIRE(r.obs.replies.size() == 3);
    CHECK(r.obs.replies[0].answers == 0x302u);
    CHECK(r.obs.replies[1].answers == 0x301u);
    CHECK(r.obs.replies[2].answers == 0x303u);
    CHECK(r.obs.requests[2].m.offset == 8192);
    CHECK(r.conn.complete());
}

TEST_CASE("mirror_conn: joined mid-stream, the framer finds the next call; never complete", "[mirror][mirror_conn]") {
    rig r;
    auto segs = conversation(nfs_session(), 50, ending::none);
    // Drop the handshake and the first 3 segments of the first call: the
    // client's stream is joined inside a record.
    segs.erase(segs.begin(), segs.begin() + 6);
    r.feed(segs);
    CHECK(r.conn.reason() == conn_reason::joined_mid_stream);
    // The GETATTR is lost (and its reply, which answers nothing); READ and WRITE are found.
    REQUIRE(r.obs.requests.size() == 2);
    CHECK(r.obs.requests[0].m.id == 0x101);
    CHECK(r.obs.requests[1].m.id == 0x102);
    CHECK(std::count_if(r.obs.replies.begin(), r.obs.replies.end(), [](const auto& x) { return x.answers.has_value(); }) == 2);
    CHECK(r.conn.counters().gaps[static_cast<std::size_t>(gap_effect::joined_mid_stream)] == 2);
}

TEST_CASE("mirror_conn: a gap inside a call drops that call, keeps the framing, and says gap", "[mirror][mirror_conn]") {
    rig r;
    auto segs = conversation(nfs_session(), 40, ending::fin);
    // The second segment of the READ call (offset within the client's stream
    // past the GETATTR call) goes missing; later ones come.
    const std::size_t getattr_len = nfs_session()[0].data.size();
    const auto lost = std::find_if(segs.begin(), segs.end(),
                                   [&](const seg& s) { return s.dir == C && s.off == std::int64_t(getattr_len) + 40; });
    REQUIRE(lost != segs.end());
    segs.erase(lost);
    r.feed(segs);
    CHECK(r.conn.reason() == conn_reason::gap_to_server);
    REQUIRE(r.obs.requests.size() == 2);  // GETATTR and WRITE; READ never taken
    CHECK(r.obs.requests[0].m.id == 0x100);
    CHECK(r.obs.requests[1].m.id == 0x102);
    CHECK(r.conn.counters().gaps[static_cast<std::size_t>(gap_effect::inside_record)] == 1);
    CHECK(r.conn.framer(C)->counters().error(framer_error::gap_dropped_record) == 1);
    CHECK(r.conn.counters().replies_unmatched == 1);  // the READ's reply
}

TEST_CASE("mirror_conn: a reply's bytes lost past its kept prefix: the reply still answers its call, and the gap is "
          "forgiven once the client acknowledged them", "[mirror][mirror_conn]") {
    // Replies held whole up to 1 KiB, longer ones by their first 512 bytes:
    // the READ's 4 KiB reply is kept by its prefix.
    mirror_conn_config cfg;
    cfg.reply_cap = 1024;
    cfg.prefix = 512;
    const std::size_t getattr_reply_len = nfs_session()[1].data.size();
    const auto without_server_segment_at = [&](std::size_t into_read_reply) {
        auto segs = conversation(nfs_session(), 200, ending::fin);
        const auto lost = std::find_if(segs.begin(), segs.end(), [&](const seg& x) {
            return x.dir == S && x.off == std::int64_t(getattr_reply_len + into_read_reply);
        });
        REQUIRE(lost != segs.end());
        segs.erase(lost);
        return segs;
    };
    const auto read_answered = [](const rig& r) {
        return std::any_of(r.obs.replies.begin(), r.obs.replies.end(),
                           [](const auto& x) { return x.answers == std::optional<std::uint64_t>{0x101}; });
    };
    SECTION("past the prefix: nothing the parser keeps is lost") {
        rig r(port_proto::nfs, cfg);
        r.feed(without_server_segment_at(1200));
        CHECK(r.conn.tcp().stream(S).gaps == 1);
        CHECK(r.conn.counters().gaps[static_cast<std::size_t>(gap_effect::past_prefix)] == 1);
        CHECK(r.conn.framer(S)->counters().error(framer_error::gap_dropped_record) == 0);
        CHECK(read_answered(r));
        CHECK(r.conn.counters().replies_unmatched == 0);
        CHECK(r.conn.reason() == conn_reason::complete);
    }
    SECTION("inside the prefix: the reply is dropped, its call left unanswered, the gap stays") {
        rig r(port_proto::nfs, cfg);
        r.feed(without_server_segment_at(200));
        CHECK(r.conn.counters().gaps[static_cast<std::size_t>(gap_effect::inside_record)] == 1);
        CHECK(r.conn.framer(S)->counters().error(framer_error::gap_dropped_record) == 1);
        CHECK_FALSE(read_answered(r));
        CHECK(r.conn.reason() == conn_reason::gap_to_client);
    }
    SECTION("the same loss in the client's stream (a WRITE's data) is never forgiven") {
        mirror_conn_config big_writes = cfg;
        big_writes.request_cap = 1024;
        rig r(port_proto::nfs, big_writes);
        std::vector<turn> t = nfs_session();
        t[4].data = call(0x102, nfs3::write, nfs3_write_args(fh, 0, bytes(4000, 0x62)));
        auto segs = conversation(t, 200, ending::fin);
        const std::size_t before_write = t[0].data.size() + t[2].data.size();
        const auto lost = std::find_if(segs.begin(), segs.end(), [&](const seg& x) {
            return x.dir == C && x.off == std::int64_t(before_write + 1200);
        });
        REQUIRE(lost != segs.end());
        segs.erase(lost);
        r.feed(segs);
        CHECK(r.conn.counters().gaps[static_cast<std::size_t>(gap_effect::past_prefix)] == 1);
        CHECK(r.conn.reason() == conn_reason::gap_to_server);
    }
}

TEST_CASE("mirror_conn: the FIFO's limits make the connection incomplete, with the reason", "[mirror][mirror_conn]") {
    SECTION("a call longer than request_cap: not held, request_too_large until answered") {
        mirror_conn_config cfg;
        cfg.request_cap = 1024;
        rig r(port_proto::nfs, cfg);
        const bytes big = call(0x400, nfs3::write, nfs3_write_args(fh, 0, bytes(3000, 0x55)));
        auto segs = conversation({{C, big}, {S, reply(0x400, nfs3_write_res(3000))}}, 1448, ending::none);
        const auto reply_at =
            std::find_if(segs.begin(), segs.end(), [](const seg& s) { return s.dir == S && !s.payload.empty(); });
        r.feed({segs.begin(), reply_at});
        REQUIRE(r.obs.requests.size() == 1);
        CHECK_FALSE(r.obs.requests[0].note.whole);
        CHECK(r.obs.requests[0].note.flaw == fifo_flaw::request_too_large);
        CHECK(r.obs.requests[0].m.count == 3000);  // read from the prefix
        CHECK(r.conn.reason() == conn_reason::request_too_large);
        r.feed({reply_at, segs.end()});
        CHECK(r.conn.reason() == conn_reason::complete);
    }
    SECTION("the pool has no room and no table to ask: request_not_held") {
        rig r(port_proto::nfs, {}, 2);  // 2 chunks of 512 bytes
        r.feed(conversation({{C, call(0x401, nfs3::write, nfs3_write_args(fh, 0, bytes(2000, 1)))}}, 1448, ending::none));
        CHECK(r.conn.reason() == conn_reason::request_not_held);
        CHECK(r.pool.refused() == 1);
    }
    SECTION("more calls in flight than the FIFO keeps: request_dropped") {
        rig r;
        std::vector<turn> t;
        for (std::uint32_t x = 0; x < msg_fifo::capacity + 1; ++x) t.push_back({C, call(0x500 + x, nfs3::getattr, nfs3_fh_args(fh))});
        r.feed(conversation(t, 1448, ending::none));
        CHECK(r.conn.reason() == conn_reason::request_dropped);
        CHECK(r.conn.fifo().unanswered() == msg_fifo::capacity);
    }
}

TEST_CASE("mirror_conn: a record the parser refuses is not taken: parse_error", "[mirror][mirror_conn]") {
    rig r;
    r.feed(conversation({{C, call(0x600, 99, nfs3_fh_args(fh))},  // no NFSv3 procedure 99
                         {C, call(0x601, nfs3::getattr, nfs3_fh_args(fh))}},
                        1448, ending::none));
    CHECK(r.conn.reason() == conn_reason::parse_error);
    CHECK(r.conn.counters().rpc_errors[static_cast<std::size_t>(rpc_error::unknown_procedure)] == 1);
    REQUIRE(r.obs.requests.size() == 1);  // the framer resynchronised at the next call
    CHECK(r.obs.requests[0].m.id == 0x601);
}

TEST_CASE("mirror_conn: portmapper and other RPC programs by XID only; backchannel calls not taken", "[mirror][mirror_conn]") {
    rig r(port_proto::portmapper);
    r.feed(conversation({{C, rpc_marked(rpc_call(0x700, 100000, 2, 3, bytes(16, 0)))},
                         {S, rpc_marked(rpc_reply(0x700, bytes(4, 0)))},
                         {S, rpc_marked(rpc_call(0x701, 0x40000000, 1, 1))}},
                        1448, ending::fin));
    REQUIRE(r.obs.requests.size() == 1);
    CHECK(r.obs.requests[0].m.proto == app_proto::rpc);
    CHECK(r.obs.requests[0].m.procedure == 3);
    REQUIRE(r.obs.replies.size() == 1);
    CHECK(r.obs.replies[0].answers == 0x700u);
    CHECK(r.conn.counters().backchannel == 1);
    CHECK(r.conn.ended());
    CHECK(r.conn.complete());
}

TEST_CASE("mirror_conn: SMB2 by MessageId; interim responses do not answer; CANCEL is not kept", "[mirror][mirror_conn]") {
    rig r(port_proto::smb);
    r.feed(conversation(
        {
            {C, nbss(smb2_message(0x0d, 0, 1, smb2_echo_body()))},
            {S, nbss(smb2_message(0x0d, smb2_response, 1, smb2_echo_body()))},
            {C, nbss(smb2_message(0x08, 0, 2, smb2_read_req_body(fid, 4096, 8192)))},
            {S, nbss(smb2_message(0x08, smb2_response | smb2_async, 2, smb2_error_body(), smb2::status_pending, 0x51))},
            {C, nbss(smb2_message(0x0c, smb2_async, 3, smb2_echo_body(), 0, 0x51))},
            {S, nbss(smb2_message(0x08, smb2_response | smb2_async, 2, smb2_read_rsp_body(bytes(64, 9)), 0, 0x51))},
        },
        1448, ending::fin));
    REQUIRE(r.obs.requests.size() == 3);
    CHECK(r.obs.requests[0].m.procedure == 0x0d);
    CHECK(r.obs.requests[1].m.offset == 4096);
    CHECK(r.obs.requests[1].m.count == 8192);
    CHECK_FALSE(r.obs.requests[2].note.expects_reply);  // the CANCEL
    REQUIRE(r.obs.replies.size() == 3);
    CHECK(r.obs.replies[0].answers == 1u);
    CHECK(r.obs.replies[1].note.interim);
    CHECK(r.obs.replies[1].answers == 2u);  // the request it is about, still unanswered
    CHECK(r.obs.replies[2].answers == 2u);
    CHECK_FALSE(r.obs.replies[2].note.interim);
    CHECK(r.conn.counters().interim == 1);
    CHECK(r.conn.counters().cancels == 1);
    CHECK(r.conn.fifo().unanswered() == 0);
    CHECK(r.conn.complete());
}

TEST_CASE("mirror_conn: SMB2 related compound: the CREATE response's FileId for the requests after it", "[mirror][mirror_conn]") {
    rig r(port_proto::smb);
    const bytes chain = smb2_chain({smb2_message(0x05, 0, 10, smb2_create_req_body()),
                                    smb2_message(0x08, smb2_related, 11, smb2_read_req_body(related_fid, 0, 512)),
                                    smb2_message(0x06, smb2_related, 12, smb2_close_req_body(related_fid))});
    auto segs = conversation({{C, nbss(chain)},
                              {S, nbss(smb2_message(0x05, smb2_response, 10, smb2_create_rsp_body(fid)))}},
                             1448, ending::none);
    r.feed(segs);
    REQUIRE(r.obs.requests.size() == 3);
    CHECK(all_of(r.obs.requests[1].m.fh.bytes().begin(), r.obs.requests[1].m.fh.bytes().end(), [](auto x) { return x == 0xff; }));
    CHECK(r.conn.counters().fileids_resolved == 2);
    const app_message* read = r.conn.fifo().find_request(11);
    REQUIRE(read);
    CHECK(std::vector<std::uint8_t>(read->fh.bytes().begin(), read->fh.bytes().end()) == fid);
    CHECK(r.conn.fifo().unanswered() == 2);
    // Each unanswered request's own bytes are held: all of the chain but
    // the CREATE (answered), which took its header, its body, its padding.
    const std::size_t create_len = (64 + smb2_create_req_body().size() + 7) & ~std::size_t{7};
    CHECK(r.conn.fifo().held() == chain.size() - create_len);
}

TEST_CASE("mirror_conn: SMB2 encrypted: opaque, nothing read after", "[mirror][mirror_conn]") {
    rig r(port_proto::smb);
    const bytes transform = concat({{0xfd, 'S', 'M', 'B'}, bytes(32, 0x66), {80, 0, 0, 0}, {0, 0, 1, 0},
                                    {0x11, 0, 0, 0, 0, 0, 0, 0}, bytes(80, 0x77)});
    r.feed(conversation({{C, nbss(smb2_message(0x0d, 0, 1, smb2_echo_body()))},
                         {S, nbss(smb2_message(0x0d, smb2_response, 1, smb2_echo_body()))},
                         {C, nbss(transform)},
                         {S, nbss(transform)},
                         {C, nbss(smb2_message(0x0d, 0, 2, smb2_echo_body()))}},
                        1448, ending::none));
    CHECK(r.conn.opaque());
    CHECK(r.conn.reason() == conn_reason::opaque);
    CHECK(r.obs.requests.size() == 1);
    CHECK(r.conn.counters().opaque_records == 3);
}

TEST_CASE("mirror_conn: a TCP-only connection knows TCP only", "[mirror][mirror_conn]") {
    rig r(port_proto::tcp);
    r.feed(conversation({{C, bytes(300, 'G')}, {S, bytes(5000, 'H')}}, 1448, ending::fin));
    CHECK(r.conn.framer(C) == nullptr);
    CHECK(r.obs.requests.empty());
    CHECK(r.conn.tcp().stream(C).bytes_delivered == 300);
    CHECK(r.conn.tcp().stream(S).bytes_delivered == 5000);
    CHECK(r.conn.ended());
    CHECK(r.conn.complete());
}

TEST_CASE("mirror_conn: start() forgets the previous connection and its chunks", "[mirror][mirror_conn]") {
    rig r;
    r.feed(conversation({{C, call(0x800, nfs3::getattr, nfs3_fh_args(fh))}}, 1448, ending::none));
    CHECK(r.conn.fifo().unanswered() == 1);
    r.conn.release();
    CHECK(r.pool.free_chunks() == r.pool.chunks());
    r.conn.start({1, 2, 3, 4}, port_proto::smb, 2, nullptr, nullptr);
    CHECK(r.conn.reason() == conn_reason::nothing_seen);
    CHECK(r.conn.counters().requests == 0);
    CHECK(r.conn.serial() == 2);
    CHECK(r.conn.framer(C)->config().kind == framing::nbss);
}

TEST_CASE("record_framer with storage: never allocates, its cap shrinks to the storage",
          "[mirror][mirror_conn][record_framer]") {
    struct sink final : record_sink {
        std::vector<record> got;
        std::vector<bytes> data;
        void on_record(const record& r) noexcept override {
            got.push_back(r);
            data.emplace_back(r.bytes.begin(), r.bytes.end());
        }
    } s;
    std::vector<std::uint8_t> storage(100);
    framer_config cfg;
    cfg.cap = 4096;
    cfg.prefix = 2048;
    record_framer f(cfg, storage);
    CHECK(f.config().cap == 100);
    CHECK(f.config().prefix == 100);
    const bytes small = rpc_marked(bytes(60, 1)), large = rpc_marked(bytes(300, 2));
    f.feed(small, s);
    f.feed(large, s);
    REQUIRE(s.got.size() == 2);
    CHECK(s.got[0].whole());
    CHECK(s.got[0].bytes.data() == storage.data());
    CHECK_FALSE(s.got[1].whole());
    CHECK(s.data[1] == bytes(100, 2));

    record_framer none(cfg, {});
    none.feed(small, s);
    CHECK(s.got.size() == 2);
    CHECK(none.counters().error(framer_error::no_buffer) == 1);
}

TEST_CASE("mirror_conn: memory per connection", "[mirror][mirror_conn]") {
    const mirror_conn_config cfg;
    // The object, and the storage its owner gives: 2 x 16 KiB of follower
    // rings, 64 KiB for the client's records, 16 KiB for the server's.
    CHECK(mirror_conn::storage_bytes(cfg) == 2 * 16 * 1024 + 64 * 1024 + 16 * 1024);
    CHECK(sizeof(mirror_conn) < 8 * 1024);
}
