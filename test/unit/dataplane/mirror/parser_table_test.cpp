// The parser lcore's table of followed connections: frames in, connections
// and their messages out. A table of frames and verdicts; roles and
// direction; release, reuse, eviction order and the timers against a fake
// clock; then the properties over hand-built sessions (any segmentation,
// duplicates and bounded reordering give the same messages; a segment lost
// anywhere gives no wrong message and the right reason); then the fixture
// captures of real traffic compared with tshark's account of them.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "dataplane/mirror/msg_names.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/parser_table.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/frames.hpp"
#include "support/mirror_session.hpp"
#include "support/pcap_file.hpp"

#ifndef CG_SOURCE_DIR
#error "CG_SOURCE_DIR must name the source tree (test/unit/meson.build sets it)"
#endif

using namespace cg::dp::mirror;
using namespace cg::test::mirror;
namespace wire = cg::dp::wire;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;
const bytes fh = {0x43, 0, 0, 1, 0x12, 0x44, 0xd2, 0x4c, 0x7b, 0xb1, 0xd5, 0x8b};
const bytes fid = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};

std::string hex(std::span<const std::uint8_t> b) {
    static const char* digits = "0123456789abcdef";
    std::string s;
    for (const std::uint8_t x : b) {
        s += digits[x >> 4];
        s += digits[x & 15];
    }
    return s;
}

/// A message as the tests compare them: what it says, and its fate.
struct msg {
    std::uint64_t conn = 0;  ///< the connection's serial
    std::uint16_t client_port = 0, server_port = 0;
    direction dir = C;
    app_proto proto = app_proto::rpc;
    std::uint64_t id = 0;
    std::uint32_t procedure = 0, status = 0, count = 0;
    std::uint64_t offset = 0;
    std::uint8_t stable = 0;
    std::string fh;
    std::vector<std::uint16_t> ops;
    bool interim = false;
    bool matched = false;   ///< replies: answered a request
    bool answered = false;  ///< requests: a final reply came
    std::size_t frame = 0;  ///< the frame that completed it (1 for the first)

    auto fields() const {
        return std::tie(dir, proto, id, procedure, status, count, offset, stable, fh, ops, interim);
    }
};

/// Everything a table told its observer.
struct recorder final : conn_observer {
    std::vector<msg> msgs;
    struct gone {
        std::uint64_t serial;
        conn_endpoints ep;
        release_reason why;
        conn_reason reason;
        tcp_state state;
        std::uint64_t segments;
        std::array<std::uint64_t, 2> bytes;
        std::uint8_t unanswered;
    };
    std::vector<gone> released;
    std::size_t frame = 0;

    msg make(const mirror_conn& c, const app_message& m) const {
        msg x;
        x.conn = c.serial();
        x.client_port = c.endpoints().client_port;
        x.server_port = c.endpoints().server_port;
        x.dir = m.kind == msg_kind::call ? C : S;
        x.proto = m.proto;
        x.id = m.id;
        x.procedure = m.procedure;
        x.status = m.status;
        x.count = m.count;
        x.offset = m.offset;
        x.stable = m.stable;
        x.fh = hex(m.fh.bytes());
        x.ops.assign(m.ops.begin(), m.ops.begin() + std::min<std::size_t>(m.n_ops, app_message::max_ops));
        x.frame = frame;
        return x;
    }
    void on_request(const mirror_conn& c, const app_message& m, const msg_note&) noexcept override {
        msgs.push_back(make(c, m));
    }
    void on_reply(const mirror_conn& c, const app_message& m, const msg_note& n, const app_message* req) noexcept override {
        msg x = make(c, m);
        x.interim = n.interim;
        x.matched = req != nullptr;
        msgs.push_back(x);
        if (!req || n.interim) return;
        for (auto it = msgs.rbegin(); it != msgs.rend(); ++it)
            if (it->conn == x.conn && it->dir == C && it->id == req->id && !it->answered) {
                it->answered = true;
                break;
            }
    }
    void on_release(const mirror_conn& c, release_reason why) noexcept override {
        released.push_back({c.serial(), c.endpoints(), why, c.reason(), c.tcp().state(), c.tcp().counters().segments,
                            {c.tcp().stream(C).bytes_delivered, c.tcp().stream(S).bytes_delivered},
                            c.fifo().unanswered()});
    }
};

parser_table_config small_config(std::uint32_t capacity = 8) {
    parser_table_config cfg;
    cfg.capacity = capacity;
    cfg.pool_chunks = 256;
    cfg.chunk_size = 512;
    cfg.stale_timeout_ms = 10'000;
    cfg.fin_timeout_ms = 2'000;
    return cfg;
}

/// A table and its recorder, fed frames.
struct rig {
    parser_table table;
    recorder rec;

    explicit rig(const parser_table_config& cfg = small_config()) : table(cfg) { table.set_observer(&rec); }

    frame_verdict frame(const bytes& f, std::uint32_t now = 0) {
        ++rec.frame;
        return table.frame(f.data(), static_cast<std::uint32_t>(f.size()), now);
    }
    void feed(const conn_spec& c, const std::vector<seg>& segs, std::uint32_t now = 0) {
        for (const seg& s : segs) frame(to_frame(c, s), now);
    }
    /// Every connection's messages, the table cleared first so that each
    /// request says whether it was answered.
    std::vector<msg> finish() {
        table.clear();
        return rec.msgs;
    }
};

conn_spec nfs_conn(std::uint16_t client_port = 40000) {
    conn_spec c;
    c.client_port = client_port;
    c.server_port = 2049;
    return c;
}

bytes call(std::uint32_t xid, std::uint32_t proc, const bytes& args) {
    return rpc_marked(rpc_call(xid, rpc_prog_nfs, 3, proc, args));
}
bytes reply(std::uint32_t xid, const bytes& res) { return rpc_marked(rpc_reply(xid, res)); }

seg syn_of() { return {C, -1, SYN, 0, {}, {}}; }

}  // namespace

// ---- frames ---------------------------------------------------------------------------

TEST_CASE("parser_table: every frame gets one verdict, counted", "[mirror][parser_table]") {
    rig r;
    const conn_spec c = nfs_conn();
    using cg::test::frame_spec;
    frame_spec udp;
    udp.proto = 17;
    udp.payload = "dns";
    bytes truncated = to_frame(c, syn_of());
    truncated.resize(30);
    bytes not_ipv4 = to_frame(c, syn_of());
    not_ipv4[12] = 0x86;
    not_ipv4[13] = 0xdd;
    const struct {
        const char* what;
        bytes frame;
        frame_verdict want;
    } rows[] = {
        {"UDP", cg::test::make_ipv4(udp), frame_verdict::not_tcp},
        {"ARP", cg::test::make_arp(1, {}, 0xc6120001, {}, 0xc6120002), frame_verdict::not_tcp},
        {"a truncated frame", truncated, frame_verdict::dropped},
        {"IPv6", not_ipv4, frame_verdict::dropped},
        {"a bare ACK of no connection", to_frame(c, {C, 10, ACK, 5, {}, {}}), frame_verdict::no_connection},
        {"a FIN of no connection", to_frame(c, {C, 10, FIN | ACK, 5, {}, {}}), frame_verdict::no_connection},
        {"an RST of no connection, even with bytes", to_frame(c, {C, 10, RST, 0, {1, 2}, {}}), frame_verdict::no_connection},
        {"a SYN", to_frame(c, syn_of()), frame_verdict::followed},
        {"a segment with bytes of another connection", to_frame(nfs_conn(40001), {C, 10, ACK, 5, {1}, {}}),
         frame_verdict::followed},
    };
    for (const auto& row : rows) {
        CAPTURE(row.what);
        CHECK(r.frame(row.frame) == row.want);
    }
    const table_counters& n = r.table.counters();
    CHECK(n.frames[static_cast<std::size_t>(frame_verdict::not_tcp)] == 2);
    CHECK(n.frames[static_cast<std::size_t>(frame_verdict::dropped)] == 2);
    CHECK(n.dropped[static_cast<std::size_t>(cg::dp::drop_reason::truncated)] == 1);
    CHECK(n.dropped[static_cast<std::size_t>(cg::dp::drop_reason::not_ipv4)] == 1);
    CHECK(n.frames[static_cast<std::size_t>(frame_verdict::no_connection)] == 3);
    CHECK(n.frames[static_cast<std::size_t>(frame_verdict::followed)] == 2);
    CHECK(n.created == 2);
    CHECK(n.created_mid_stream == 1);
    CHECK(r.table.size() == 2);
}

TEST_CASE("parser_table: both directions are one connection; who is the client", "[mirror][parser_table]") {
    SECTION("by the SYN, the SYN-ACK, the port map, the lower port") {
        const struct {
            const char* what;
            std::uint16_t client_port, server_port;
            seg first;
            std::uint16_t want_server;
        } rows[] = {
            {"a SYN's sender is the client", 2049, 40000, {C, -1, SYN, 0, {}, {}}, 40000},
            {"a SYN-ACK's sender is the server", 40000, 50000, {S, -1, SYN | ACK, 0, {}, {}}, 50000},
            {"mid-stream: the mapped port is the server's, though higher", 772, 2049, {S, 0, ACK, 0, {1}, {}}, 2049},
            {"mid-stream, no port mapped: the lower port", 47616, 80, {S, 0, ACK, 0, {1}, {}}, 80},
        };
        for (const auto& row : rows) {
            CAPTURE(row.what);
            rig r;
            conn_spec c;
            c.client_port = row.client_port;
            c.server_port = row.server_port;
            CHECK(r.frame(to_frame(c, row.first)) == frame_verdict::followed);
            REQUIRE(r.table.size() == 1);
            r.table.for_each([&](const mirror_conn& m) { CHECK(m.endpoints().server_port == row.want_server); });
        }
    }
    SECTION("the port map decides what it speaks") {
        rig r;
        for (const std::uint16_t port : {2049, 111, 445, 80}) {
            conn_spec c;
            c.server_port = port;
            r.frame(to_frame(c, syn_of()));
        }
        std::map<std::uint16_t, port_proto> got;
        r.table.for_each([&](const mirror_conn& m) { got[m.endpoints().server_port] = m.speaks(); });
        CHECK(got == std::map<std::uint16_t, port_proto>{{80, port_proto::http},
                                                         {111, port_proto::portmapper},
                                                         {445, port_proto::smb},
                                                         {2049, port_proto::nfs}});
    }
    SECTION("a session's frames both ways land in one connection, the right way round") {
        rig r;
        const conn_spec c = nfs_conn();
        r.feed(c, conversation({{C, call(1, nfs3::getattr, nfs3_fh_args(fh))}, {S, reply(1, nfs3_getattr_res())}}, 1448,
                               ending::none));
        REQUIRE(r.table.size() == 1);
        const mirror_conn* m = r.table.find({c.client, c.server, c.client_port, c.server_port});
        REQUIRE(m);
        CHECK(m->complete());
        CHECK(m->counters().requests == 1);
        CHECK(m->counters().replies == 1);
        CHECK(r.table.find({c.server, c.client, c.server_port, c.client_port}) == nullptr);
    }
}

TEST_CASE("parser_table: released by both FINs or an RST; a new SYN on the 4-tuple is a new connection",
          "[mirror][parser_table]") {
    rig r;
    r.feed(nfs_conn(40000), conversation({{C, call(1, nfs3::getattr, nfs3_fh_args(fh))}}, 1448, ending::fin));
    r.feed(nfs_conn(40001), conversation({{C, call(2, nfs3::getattr, nfs3_fh_args(fh))}}, 1448, ending::rst));
    CHECK(r.table.size() == 0);
    REQUIRE(r.rec.released.size() == 2);
    CHECK(r.rec.released[0].why == release_reason::fin);
    CHECK(r.rec.released[0].unanswered == 1);
    CHECK(r.rec.released[1].why == release_reason::reset);
    // The last ACK after the FINs made no ghost connection.
    CHECK(r.table.counters().frames[static_cast<std::size_t>(frame_verdict::no_connection)] == 1);

    conn_spec c = nfs_conn(40002);
    r.feed(c, conversation({}, 1448, ending::none));
    r.frame(to_frame(c, syn_of()));  // a retransmitted SYN: the same connection
    CHECK(r.table.counters().created == 3);
    c.client_isn += 100000;  // the client's next connection on the same ports
    r.frame(to_frame(c, syn_of()));
    CHECK(r.table.counters().created == 4);
    CHECK(r.table.counters().released[static_cast<std::size_t>(release_reason::reused)] == 1);
    CHECK(r.table.size() == 1);
}

TEST_CASE("parser_table: the least recently used goes first; listing is most recently used first",
          "[mirror][parser_table]") {
    rig r(small_config(3));
    const auto open = [&](std::uint16_t port, std::uint32_t now) { r.frame(to_frame(nfs_conn(port), syn_of()), now); };
    const auto order = [&] {
        std::vector<std::uint16_t> v;
        r.table.for_each([&](const mirror_conn& m) { v.push_back(m.endpoints().client_port); });
        return v;
    };
    open(1001, 10);
    open(1002, 20);
    open(1003, 30);
    CHECK(order() == std::vector<std::uint16_t>{1003, 1002, 1001});
    r.frame(to_frame(nfs_conn(1001), {S, -1, SYN | ACK, 0, {}, {}}), 40);  // 1001 used again
    CHECK(order() == std::vector<std::uint16_t>{1001, 1003, 1002});
    open(1004, 50);  // full: 1002 goes
    CHECK(order() == std::vector<std::uint16_t>{1004, 1001, 1003});
    REQUIRE(r.rec.released.size() == 1);
    CHECK(r.rec.released[0].ep.client_port == 1002);
    CHECK(r.rec.released[0].why == release_reason::evicted_full);
    // A connection in FIN state is in the other list, and still in the order.
    r.frame(to_frame(nfs_conn(1003), {C, 0, FIN | ACK, 0, {}, {}}), 60);
    CHECK(order() == std::vector<std::uint16_t>{1003, 1004, 1001});
    open(1005, 70);  // 1001 goes, though it is not in FIN state
    CHECK(order() == std::vector<std::uint16_t>{1005, 1003, 1004});
    CHECK(r.table.last_seen(*r.table.find({nfs_conn().client, nfs_conn().server, 1003, 2049})) == 60);
}

TEST_CASE("parser_table: the chunk pool full, the least recently used holding chunks goes", "[mirror][parser_table]") {
    parser_table_config cfg = small_config(8);
    cfg.pool_chunks = 6;  // 3 KiB for unanswered requests
    rig r(cfg);
    const auto write_call = [](std::uint32_t xid) { return call(xid, nfs3::write, nfs3_write_args(fh, 0, bytes(1200, 1))); };
    r.feed(nfs_conn(2001), conversation({{C, write_call(1)}}, 1448, ending::none), 1);  // 3 chunks
    r.feed(nfs_conn(2002), conversation({}, 1448, ending::none), 2);                    // holds nothing
    r.feed(nfs_conn(2003), conversation({{C, write_call(3)}}, 1448, ending::none), 3);  // 3 chunks: the pool is full
    CHECK(r.table.pool().free_chunks() == 0);
    r.feed(nfs_conn(2004), conversation({{C, write_call(4)}}, 1448, ending::none), 4);
    REQUIRE(r.rec.released.size() == 1);
    CHECK(r.rec.released[0].ep.client_port == 2001);  // the oldest that held chunks; 2002 held none
    CHECK(r.rec.released[0].why == release_reason::evicted_memory);
    const mirror_conn* m = r.table.find({nfs_conn().client, nfs_conn().server, 2004, 2049});
    REQUIRE(m);
    CHECK(m->complete());
    CHECK(m->fifo().held() > 0);
    CHECK(r.table.size() == 3);
    CHECK(r.table.totals().conn.evictions_asked == 1);
}

TEST_CASE("parser_table: timers against a fake clock", "[mirror][parser_table][timers]") {
    rig r;  // stale 10 s, FIN 2 s
    r.feed(nfs_conn(3001), conversation({}, 1448, ending::none), 1000);
    r.frame(to_frame(nfs_conn(3002), syn_of()), 2000);
    r.frame(to_frame(nfs_conn(3002), {C, 0, FIN | ACK, 0, {}, {}}), 3000);  // half closed: FIN timer
    CHECK(r.table.age(4999) == 0);
    CHECK(r.table.age(5000) == 1);  // 3002: 2 s after its last segment
    REQUIRE(r.rec.released.size() == 1);
    CHECK(r.rec.released[0].why == release_reason::fin_timeout);
    CHECK(r.table.age(10'999) == 0);
    r.frame(to_frame(nfs_conn(3001), {C, 0, ACK, 0, {}, {}}), 6000);  // keeps 3001 alive
    CHECK(r.table.age(15'999) == 0);
    CHECK(r.table.age(16'000) == 1);
    CHECK(r.rec.released.back().why == release_reason::stale_timeout);
    CHECK(r.table.size() == 0);

    SECTION("a frame for an expired connection expires it first, before age() comes to it") {
        r.feed(nfs_conn(3003), conversation({}, 1448, ending::none), 20'000);
        CHECK(r.frame(to_frame(nfs_conn(3003), {C, 0, ACK, 0, {}, {}}), 30'000) == frame_verdict::no_connection);
        CHECK(r.rec.released.back().why == release_reason::stale_timeout);
    }
    SECTION("a budget bounds one call; the clock wraps") {
        for (std::uint16_t p = 0; p < 5; ++p) r.frame(to_frame(nfs_conn(4000 + p), syn_of()), 0xffffff00u);
        CHECK(r.table.age(0xffffff00u + 10'000 - 1) == 0);
        CHECK(r.table.age(0xffffff00u + 10'000, 2) == 2);  // past 2^32: wrapped
        CHECK(r.table.age(0xffffff00u + 10'000) == 3);
    }
}

// ---- properties over hand-built sessions --------------------------------------------------

namespace {

/// NFSv3: three corked calls in one go, their replies, a WRITE; SMB2: an
/// ECHO, a compound, an interim response; both end with FINs.
std::vector<turn> nfs_turns() {
    bytes three;
    for (std::uint32_t x = 1; x <= 3; ++x) {
        const bytes c = call(0x100 + x, nfs3::read, nfs3_read_args(fh, x * 4096, 4096));
        three.insert(three.end(), c.begin(), c.end());
    }
    return {{C, call(0x100, nfs3::getattr, nfs3_fh_args(fh))},
            {S, reply(0x100, nfs3_getattr_res())},
            {C, three},
            {S, reply(0x102, nfs3_read_res(bytes(4096, 2)))},
            {S, reply(0x101, nfs3_read_res(bytes(4096, 1)))},
            {S, reply(0x103, nfs3_read_res(bytes(300, 3)))},
            {C, call(0x104, nfs3::write, nfs3_write_args(fh, 0, bytes(2500, 4)))},
            {S, reply(0x104, nfs3_write_res(2500))}};
}

std::vector<turn> smb_turns() {
    const bytes related(16, 0xff);
    return {
        {C, nbss(smb2_message(0x0d, 0, 1, smb2_echo_body()))},
        {S, nbss(smb2_message(0x0d, smb2_response, 1, smb2_echo_body()))},
        {C, nbss(smb2_chain({smb2_message(0x05, 0, 2, smb2_create_req_body()),
                             smb2_message(0x08, smb2_related, 3, smb2_read_req_body(related, 0, 2000)),
                             smb2_message(0x06, smb2_related, 4, smb2_close_req_body(related))}))},
        {S, nbss(smb2_chain({smb2_message(0x05, smb2_response, 2, smb2_create_rsp_body(fid)),
                             smb2_message(0x08, smb2_response | smb2_async, 3, smb2_error_body(), smb2::status_pending, 9)}))},
        {S, nbss(smb2_message(0x08, smb2_response | smb2_async, 3, smb2_read_rsp_body(bytes(2000, 7)), 0, 9))},
        {S, nbss(smb2_message(0x06, smb2_response, 4, smb2_close_rsp_body()))},
    };
}

struct session {
    const char* name;
    conn_spec conn;
    std::vector<turn> turns;
    std::size_t messages;  ///< requests and replies in it (an interim response too)
};

std::vector<session> sessions() {
    conn_spec smb;
    smb.server_port = 445;
    return {{"nfs3", nfs_conn(), nfs_turns(), 10}, {"smb2", smb, smb_turns(), 9}};
}

/// Cuts every segment with bytes at random points (1 to max_piece bytes a piece).
std::vector<seg> recut(const std::vector<seg>& in, std::mt19937& rng, std::size_t max_piece) {
    std::vector<seg> out;
    std::uniform_int_distribution<std::size_t> piece(1, max_piece);
    for (const seg& s : in) {
        if (s.payload.empty()) {
            out.push_back(s);
            continue;
        }
        for (std::size_t at = 0; at < s.payload.size();) {
            const std::size_t n = std::min(piece(rng), s.payload.size() - at);
            seg p = s;
            p.off = s.off + static_cast<std::int64_t>(at);
            p.payload.assign(s.payload.begin() + static_cast<std::ptrdiff_t>(at),
                             s.payload.begin() + static_cast<std::ptrdiff_t>(at + n));
            out.push_back(std::move(p));
            at += n;
        }
    }
    return out;
}

/// Within each run of segments one way, swaps segments at most `window`
/// apart, and sends some twice (once more, later in the run): what a SPAN
/// port does to one direction without going past the other's ACKs.
std::vector<seg> shuffle_runs(const std::vector<seg>& in, std::mt19937& rng, std::size_t window) {
    std::vector<seg> out;
    std::bernoulli_distribution dup(0.15);
    for (std::size_t i = 0; i < in.size();) {
        std::size_t j = i;
        while (j < in.size() && in[j].dir == in[i].dir && !in[j].payload.empty()) ++j;
        if (j == i) {
            out.push_back(in[i++]);
            continue;
        }
        std::vector<seg> run;
        for (std::size_t k = i; k < j; ++k) {
            run.push_back(in[k]);
            if (dup(rng)) run.push_back(in[k]);
        }
        for (std::size_t k = 0; k + 1 < run.size(); ++k) {
            std::uniform_int_distribution<std::size_t> to(k, std::min(run.size() - 1, k + window));
            std::swap(run[k], run[to(rng)]);
        }
        out.insert(out.end(), run.begin(), run.end());
        i = j;
    }
    return out;
}

std::vector<msg> run_session(const session& s, const std::vector<seg>& segs, std::vector<recorder::gone>* gone = nullptr) {
    rig r;
    r.feed(s.conn, segs);
    std::vector<msg> m = r.finish();
    if (gone) *gone = r.rec.released;
    return m;
}

}  // namespace

TEST_CASE("parser_table: any segmentation, duplicates, bounded reordering: the same messages",
          "[mirror][parser_table]") {
    for (const session& s : sessions()) {
        CAPTURE(s.name);
        std::vector<recorder::gone> gone;
        const std::vector<msg> want = run_session(s, conversation(s.turns, 0), &gone);
        REQUIRE(want.size() == s.messages);
        REQUIRE(gone.size() == 1);
        CHECK(gone[0].why == release_reason::fin);
        CHECK(gone[0].reason == conn_reason::complete);
        for (const msg& m : want)
            if (m.dir == C) CHECK(m.answered);

        for (std::uint32_t seed = 1; seed <= 60; ++seed) {
            CAPTURE(seed);
            std::mt19937 rng(seed);
            const std::size_t max_piece = seed % 3 == 0 ? 3 : seed % 3 == 1 ? 40 : 1500;
            std::vector<seg> segs = recut(conversation(s.turns, 0), rng, max_piece);
            if (seed % 2 == 0) segs = shuffle_runs(segs, rng, 4);
            const std::vector<msg> got = run_session(s, segs, &gone);
            REQUIRE(got.size() == want.size());
            for (std::size_t i = 0; i < want.size(); ++i) {
                CAPTURE(i);
                CHECK(got[i].fields() == want[i].fields());
                CHECK(got[i].answered == want[i].answered);
                CHECK(got[i].matched == want[i].matched);
            }
            REQUIRE(gone.size() == 1);
            CHECK(gone[0].reason == conn_reason::complete);
        }
    }
}

TEST_CASE("parser_table: a segment lost anywhere: never a wrong message, and the reason says where",
          "[mirror][parser_table]") {
    for (const session& s : sessions()) {
        CAPTURE(s.name);
        const std::vector<seg> all = conversation(s.turns, 24);
        const std::vector<msg> want = run_session(s, all);
        for (std::size_t lost = 0; lost < all.size(); ++lost) {
            CAPTURE(lost);
            std::vector<seg> segs = all;
            const seg dropped = segs[lost];
            segs.erase(segs.begin() + static_cast<std::ptrdiff_t>(lost));
            std::vector<recorder::gone> gone;
            const std::vector<msg> got = run_session(s, segs, &gone);

            // Every message seen is one the whole session has, word for word;
            // a request answered here is answered there. An RPC reply whose
            // call was lost says only what its header says (XID, accept_stat),
            // with proto rpc: it names no procedure it cannot know.
            for (const msg& m : got) {
                CAPTURE(m.id, m.dir, m.matched);
                if (m.dir == S && !m.matched && m.proto == app_proto::rpc && s.conn.server_port == 2049) {
                    CHECK(std::any_of(want.begin(), want.end(), [&](const msg& w) {
                        return w.dir == S && w.id == m.id && m.status == 0 && m.procedure == 0 && m.fh.empty();
                    }));
                    continue;
                }
                const auto same = std::find_if(want.begin(), want.end(), [&](const msg& w) { return w.fields() == m.fields(); });
                CHECK(same != want.end());
                if (same != want.end() && m.answered) CHECK(same->answered);
            }
            // Where the loss was, the connection says.
            REQUIRE(!gone.empty());
            const conn_reason why = gone.back().reason;
            if (dropped.flags & SYN) {
                CHECK(why == (dropped.flags & ACK ? conn_reason::handshake_missed : conn_reason::joined_mid_stream));
            } else if (dropped.payload.empty() && !(dropped.flags & FIN)) {
                CHECK(why == conn_reason::complete);  // a bare ACK: nothing lost
                CHECK(got.size() == want.size());
            } else if (dropped.payload.empty()) {
                // A FIN lost, and acknowledged by the peer: the connection never
                // closes. The client's last ACK shows it past its FIN: a gap of
                // one; nothing of the server's comes after its FIN: a hole.
                CHECK(why == (dropped.dir == C ? conn_reason::gap_to_server : conn_reason::hole_to_client));
            } else {
                CHECK(why == (dropped.dir == C ? conn_reason::gap_to_server : conn_reason::gap_to_client));
                CHECK(got.size() < want.size());
            }
        }
    }
}

// ---- the fixture captures against tshark ----------------------------------------------------

namespace {

const std::string fixtures = std::string(CG_SOURCE_DIR) + "/test/fixtures/mirror/";

/// tshark's summary: its connections and its message lines, by column name.
struct tshark_summary {
    struct conn {
        std::uint16_t client_port, server_port;
        std::uint64_t frames;
        std::string fin, rst;
    };
    std::vector<conn> conns;  ///< by tcp.stream
    std::vector<std::map<std::string, std::string>> messages;

    explicit tshark_summary(const std::string& path) {
        std::ifstream in(path);
        REQUIRE(in);
        std::string line, section;
        std::vector<std::string> columns;
        while (std::getline(in, line)) {
            if (line.rfind("== ", 0) == 0) {
                section = line.substr(3, line.find(' ', 3) - 3);
                columns.clear();
                continue;
            }
            std::vector<std::string> f;
            std::stringstream ss(line);
            for (std::string x; std::getline(ss, x, '\t');) f.push_back(x);
            if (section == "connections" && f.size() == 7 && f[0] != "stream") {
                conns.push_back({static_cast<std::uint16_t>(std::stoi(f[1])), static_cast<std::uint16_t>(std::stoi(f[2])),
                                 std::stoull(f[3]), f[5], f[6]});
            } else if (section == "messages" && !line.empty()) {
                if (columns.empty()) {
                    columns = f;
                    continue;
                }
                std::map<std::string, std::string> row;
                for (std::size_t i = 0; i < columns.size(); ++i) row[columns[i]] = i < f.size() ? f[i] : "";
                messages.push_back(row);
            }
        }
    }
};

/// A capture read through a table, as cg-mirror-read reads it.
struct replay {
    recorder rec;
    table_counters counters;
    parser_totals totals;

    explicit replay(const std::string& name, const port_map& ports = port_map::defaults()) {
        parser_table_config cfg = small_config(64);
        cfg.ports = ports;
        cfg.pool_chunks = 1024;
        parser_table t(cfg);
        t.set_observer(&rec);
        std::uint32_t now = 0;
        for (const bytes& f : cg::test::read_pcap(fixtures + name + ".pcap")) {
            ++rec.frame;
            t.frame(f.data(), static_cast<std::uint32_t>(f.size()), ++now);
        }
        t.clear();
        counters = t.counters();
        totals = t.totals();
    }
};

/// Our name of a message's program and procedure, as tshark writes them ("NFS 3 GETATTR").
std::string rpc_name(const msg& m, bool portmapper) {
    switch (m.proto) {
    case app_proto::nfs3: return "NFS 3 " + std::string(procedure_name(m.proto, m.procedure));
    case app_proto::mount3: return "MOUNT 3 " + std::string(procedure_name(m.proto, m.procedure));
    case app_proto::nfs4: return "NFS 4 " + std::string(procedure_name(m.proto, m.procedure));
    default:
        return portmapper ? "PORTMAP 2 " + std::string(procedure_name(m.proto, m.procedure, port_proto::portmapper))
                          : "RPC " + std::to_string(m.procedure);
    }
}

std::uint32_t hex32(const std::string& s) { return static_cast<std::uint32_t>(std::stoul(s, nullptr, 16)); }

/// tshark prints an SMB2 FileId as a GUID: the first 4, 2 and 2 bytes little-endian.
std::string guid(const std::string& fid_hex) {
    if (fid_hex.size() != 32) return fid_hex;
    const auto b = [&](int i) { return fid_hex.substr(2 * i, 2); };
    return b(3) + b(2) + b(1) + b(0) + "-" + b(5) + b(4) + "-" + b(7) + b(6) + "-" + b(8) + b(9) + "-" + b(10) + b(11) +
           b(12) + b(13) + b(14) + b(15);
}

/// The connections: one per tshark stream, the same ports, released as
/// tshark saw them end, the same frames.
void check_connections(const replay& r, const tshark_summary& t) {
    REQUIRE(r.rec.released.size() == t.conns.size());
    auto released = r.rec.released;  // in the order they were made, as tshark numbers its streams
    std::sort(released.begin(), released.end(), [](const auto& a, const auto& b) { return a.serial < b.serial; });
    for (std::size_t i = 0; i < t.conns.size(); ++i) {
        CAPTURE(i);
        const auto& want = t.conns[i];
        const auto& got = released[i];
        CHECK(got.ep.client_port == want.client_port);
        CHECK(got.ep.server_port == want.server_port);
        // tshark counts the last ACK after both FINs; the table let the
        // connection go at the FIN that closed it, so that ACK made none.
        CHECK(got.segments == want.frames - (want.fin == "cs" ? 1 : 0));
        CHECK(got.why == (want.rst != "-" ? release_reason::reset : release_reason::fin));
        CHECK(got.unanswered == 0);
    }
}

/// Our message for tshark's line: same connection (by its stream's ports), direction, id.
const msg* ours(const std::vector<msg>& msgs, const tshark_summary& t, const std::map<std::string, std::string>& row,
                std::uint64_t id) {
    const auto& c = t.conns.at(std::stoul(row.at("stream")));
    const direction d = row.at("dir") == "c>s" ? C : S;
    for (const msg& m : msgs)
        if (m.client_port == c.client_port && m.server_port == c.server_port && m.dir == d && m.id == id && !m.interim)
            return &m;
    return nullptr;
}

/// Compares RPC captures message by message; returns the differences
/// found in the file handles, as "kind procedure" -> count.
std::map<std::string, int> check_rpc(const replay& r, const tshark_summary& t) {
    std::map<std::string, int> fh_differences;
    std::map<std::string, std::pair<int, int>> tshark_counts, our_counts;  // calls, replies
    for (const auto& row : t.messages) {
        const bool call = row.at("kind") == "call";
        const std::string name = row.at("prog") + " " + row.at("vers") + " " + row.at("proc");
        (call ? tshark_counts[name].first : tshark_counts[name].second)++;
        const std::uint32_t xid = hex32(row.at("xid"));
        CAPTURE(row.at("frame"), name, row.at("xid"));
        const msg* m = ours(r.rec.msgs, t, row, xid);
        REQUIRE(m);
        const bool portmapper = m->server_port == 111;
        CHECK(rpc_name(*m, portmapper) == name);
        CHECK(m->frame == std::stoul(row.at("frame")));
        if (call) {
            CHECK(m->answered);
        } else {
            CHECK(m->matched);  // tshark links every reply to its call: so do we
            if (row.at("accept") != "-") CHECK(m->status == (row.at("status") != "-" ? std::stoul(row.at("status")) : std::stoul(row.at("accept"))));
        }
        if (row.at("offset") != "-") CHECK(m->offset == std::stoull(row.at("offset")));
        if (row.at("count") != "-") CHECK(m->count == std::stoul(row.at("count")));
        if (row.at("stable") != "-") CHECK(m->stable == std::stoul(row.at("stable")));
        if (row.at("ops") != "-") {
            std::string ops;
            for (const std::uint16_t op : m->ops) ops += (ops.empty() ? "" : ",") + std::string(nfs4_op_name(op));
            CHECK(ops == row.at("ops"));
        }
        const std::string& tfh = row.at("fh");
        if (tfh != "-" && m->fh != tfh) ++fh_differences[row.at("kind") + " " + name + (m->fh.empty() ? " (none)" : "")];
        if (tfh == "-" && !m->fh.empty()) ++fh_differences[row.at("kind") + " " + name + " (ours only)"];
    }
    for (const msg& m : r.rec.msgs) {
        if (m.interim) continue;
        const std::string name = rpc_name(m, m.server_port == 111);
        (m.dir == C ? our_counts[name].first : our_counts[name].second)++;
    }
    CHECK(our_counts == tshark_counts);
    return fh_differences;
}

}  // namespace

TEST_CASE("parser_table: nfs3.pcap as tshark reads it", "[mirror][parser_table][fixtures]") {
    port_map ports = port_map::defaults();
    ports.set(20048, port_proto::mount);  // nfs-ganesha's MOUNT port (the portmapper told the client)
    const replay r("nfs3", ports);
    const tshark_summary t(fixtures + "nfs3.tshark.txt");
    REQUIRE(t.messages.size() == 226);
    check_connections(r, t);
    const auto differences = check_rpc(r, t);
    // tshark's first handle of a reply is a READDIRPLUS entry's; ours is
    // none: a listing names no one file (nfs.hpp: only LOOKUP, CREATE,
    // MKDIR, SYMLINK, MKNOD and MNT replies carry a handle).
    CHECK(differences == std::map<std::string, int>{{"reply NFS 3 READDIRPLUS (none)", 2}});
    CHECK(r.totals.conn.requests == 113);
    CHECK(r.totals.conn.replies_unmatched == 0);
    CHECK(r.totals.tcp.gaps == 0);
    for (const auto& g : r.rec.released) CHECK(g.reason == conn_reason::complete);
}

TEST_CASE("parser_table: nfs4.pcap as tshark reads it", "[mirror][parser_table][fixtures]") {
    const replay r("nfs4");
    const tshark_summary t(fixtures + "nfs4.tshark.txt");
    REQUIRE(t.messages.size() == 116);
    check_connections(r, t);
    const auto differences = check_rpc(r, t);
    CHECK(differences == std::map<std::string, int>{});
    for (const auto& g : r.rec.released) CHECK(g.reason == conn_reason::complete);
}

TEST_CASE("parser_table: smb2.pcap and smb2_encrypted.pcap as tshark reads them", "[mirror][parser_table][fixtures]") {
    for (const std::string name : {"smb2", "smb2_encrypted"}) {
        CAPTURE(name);
        const replay r(name);
        const tshark_summary t(fixtures + name + ".tshark.txt");
        check_connections(r, t);
        std::map<std::string, std::pair<int, int>> tshark_counts, our_counts;
        std::size_t transforms = 0;
        for (const auto& row : t.messages) {
            if (row.at("kind") == "transform") {
                ++transforms;
                continue;
            }
            const bool request = row.at("kind") == "request";
            (request ? tshark_counts[row.at("cmd")].first : tshark_counts[row.at("cmd")].second)++;
            CAPTURE(row.at("frame"), row.at("cmd"), row.at("msg_id"));
            const msg* m = ours(r.rec.msgs, t, row, std::stoull(row.at("msg_id")));
            REQUIRE(m);
            CHECK(procedure_name(m->proto, m->procedure) == row.at("cmd"));
            CHECK(m->frame == std::stoul(row.at("frame")));
            if (request) {
                CHECK(m->answered);
            } else {
                CHECK(m->matched);
                CHECK(m->status == hex32(row.at("status").substr(0, 10)));
            }
            if (row.at("fid") != "-") CHECK(guid(m->fh) == row.at("fid"));
            if (row.at("offset") != "-") CHECK(m->offset == std::stoull(row.at("offset")));
            if (row.at("length") != "-") CHECK(m->count == std::stoul(row.at("length")));
        }
        for (const msg& m : r.rec.msgs)
            if (!m.interim) (m.dir == C ? our_counts[std::string(procedure_name(m.proto, m.procedure))].first
                                        : our_counts[std::string(procedure_name(m.proto, m.procedure))].second)++;
        CHECK(our_counts == tshark_counts);
        REQUIRE(r.rec.released.size() == 1);
        if (name == "smb2") {
            CHECK(r.rec.released[0].reason == conn_reason::complete);
            CHECK(transforms == 0);
        } else {
            CHECK(r.rec.released[0].reason == conn_reason::opaque);
            CHECK(r.totals.conn.opaque_records == transforms);
        }
    }
}

TEST_CASE("parser_table: http.pcap, message by message as tshark reads it", "[mirror][parser_table][fixtures][http1]") {
    const replay r("http");
    const tshark_summary t(fixtures + "http.tshark.txt");
    check_connections(r, t);
    REQUIRE(t.messages.size() == 18);
    std::map<std::pair<std::string, std::string>, std::uint64_t> next_id;  // (stream, dir) -> the next message's id
    for (const auto& row : t.messages) {
        CAPTURE(row.at("frame"), row.at("what"));
        const std::uint64_t id = next_id[{row.at("stream"), row.at("dir")}]++;
        const msg* m = ours(r.rec.msgs, t, row, id);
        REQUIRE(m);
        CHECK(m->proto == app_proto::http1);
        CHECK(m->frame == std::stoul(row.at("frame")));  // completed by the frame tshark reassembled it at
        const std::string& what = row.at("what");
        if (row.at("kind") == "request") {
            CHECK(what.rfind(std::string(procedure_name(m->proto, m->procedure)) + " /", 0) == 0);
            CHECK(m->answered);
        } else {
            CHECK(std::to_string(m->status) == what);
            CHECK(m->matched);
        }
        if (row.at("length") != "-") CHECK(m->count == std::stoul(row.at("length")));
    }
    CHECK(r.rec.msgs.size() == t.messages.size());
    for (const auto& g : r.rec.released) {
        CHECK(g.reason == conn_reason::complete);
        CHECK(g.state == tcp_state::closed);
    }
    CHECK(r.totals.framer[0].records_whole == 9);
    CHECK(r.totals.framer[1].records_whole + r.totals.framer[1].records_prefix == 9);
}

TEST_CASE("parser_table: http.pcap with port 80 taken out, TCP only", "[mirror][parser_table][fixtures]") {
    port_map ports = port_map::defaults();
    ports.set(80, port_proto::tcp);
    const replay r("http", ports);
    check_connections(r, tshark_summary(fixtures + "http.tshark.txt"));
    CHECK(r.rec.msgs.empty());
}

TEST_CASE("parser_table: memory per connection", "[mirror][parser_table]") {
    const parser_table_config cfg;
    const std::size_t per = parser_table::bytes_per_connection(cfg);
    CHECK(per > mirror_conn::storage_bytes(cfg.conn));
    CHECK(per < mirror_conn::storage_bytes(cfg.conn) + 8 * 1024);
    CHECK(parser_table::bytes_total(cfg) ==
          cfg.capacity * (per - 8) + 2048 * 4 + std::size_t{cfg.pool_chunks} * (cfg.chunk_size + 4));
}
