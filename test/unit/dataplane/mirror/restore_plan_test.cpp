// The restore plan of a followed connection: what a spare's TCP_REPAIR
// socket takes from the mirror (sequence numbers, handshake options, the
// latest TSval, windows) and which bytes it replays (the unanswered
// requests, oldest first: RPC calls each as one last fragment, HTTP requests
// as they went), for sessions built by hand; and a table of the connections that cannot be restored, each with
// its reason.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string_view>
#include <vector>

#include "dataplane/mirror/mirror_conn.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/restore_plan.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/mirror_session.hpp"

using namespace cg::dp::mirror;
using namespace cg::test::mirror;
namespace wire = cg::dp::wire;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;
const bytes fh = {0x43, 0, 0, 1, 0x12, 0x44, 0xd2, 0x4c};

struct rig {
    conn_spec spec;
    chunk_pool pool{64, 512};
    std::vector<std::uint8_t> storage;
    mirror_conn conn;

    explicit rig(port_proto speaks = port_proto::nfs)
        : storage(mirror_conn::storage_bytes(mirror_conn_config{})), conn(mirror_conn_config{}, storage, pool) {
        spec.server_port = speaks == port_proto::smb ? 445 : speaks == port_proto::tcp ? 80 : speaks == port_proto::http ? 8080 : 2049;
        conn.start({spec.client, spec.server, spec.client_port, spec.server_port}, speaks, 1, nullptr, nullptr);
    }
    void feed(const std::vector<seg>& segs) {
        for (const seg& s : segs) conn.follow(to_segment(spec, s));
    }
    restore_plan plan(std::size_t room = 64 * 1024, std::uint32_t age = 7) {
        replay.assign(room, 0);
        restore_plan p = plan_restore(conn, pool, age, replay);
        replay.resize(p.replay_len);
        return p;
    }
    bytes replay;
};

bytes call(std::uint32_t xid, std::uint32_t proc, const bytes& args) {
    return rpc_marked(rpc_call(xid, rpc_prog_nfs, 3, proc, args));
}
bytes reply(std::uint32_t xid, const bytes& res) { return rpc_marked(rpc_reply(xid, res)); }

std::uint32_t total(std::initializer_list<bytes> parts) {
    std::uint32_t n = 0;
    for (const bytes& b : parts) n += static_cast<std::uint32_t>(b.size());
    return n;
}

bytes text(std::string_view s) { return bytes(s.begin(), s.end()); }

/// The server's bare ACK of the client's first `acked` bytes, after it sent
/// `sent` of its own, with a timestamp option carrying `tsval`.
seg server_ack(std::uint32_t sent, std::uint32_t acked, std::uint32_t tsval) {
    bytes ts = {1, 1, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0};
    wire::store32(&ts[4], tsval);
    return {S, sent, ACK, acked, {}, ts};
}

/// The client's bare ACK of the server's first `acked` bytes.
seg client_ack(std::uint32_t sent, std::uint32_t acked) { return {C, sent, ACK, acked, {}, {}}; }

}  // namespace

TEST_CASE("restore plan: an answered call and one in flight", "[mirror][restore_plan]") {
    rig r;
    const bytes c1 = call(0x100, nfs3::getattr, nfs3_fh_args(fh)), r1 = reply(0x100, nfs3_getattr_res());
    const bytes c2 = call(0x101, nfs3::read, nfs3_read_args(fh, 8192, 4096));
    r.feed(conversation({{C, c1}, {S, r1}, {C, c2}}, 1448, ending::none));
    r.feed({client_ack(total({c1, c2}), total({r1})), server_ack(total({r1}), total({c1, c2}), 9000)});

    const restore_plan p = r.plan();
    REQUIRE(p.verdict == restore_verdict::restorable);
    CHECK(p.replayed == 1);
    CHECK(r.replay == c2);  // one last fragment already: the same bytes
    const auto& q = p.params;
    CHECK(q.client_addr == r.spec.client);
    CHECK(q.server_addr == r.spec.server);
    CHECK(q.client_port == r.spec.client_port);
    CHECK(q.server_port == 2049);
    CHECK(q.snd_seq == r.spec.server_isn + 1 + total({r1}));
    CHECK(q.rcv_seq == r.spec.client_isn + 1 + total({c1, c2}));
    CHECK(q.mss == 1460);
    CHECK(q.wscale);
    CHECK(q.client_wscale == 7);
    CHECK(q.server_wscale == 7);
    CHECK(q.sack);
    CHECK(q.timestamps);
    CHECK(q.tsval == 9000);  // the latest, not the SYN-ACK's 500
    CHECK(q.ts_age_ms == 7);
    CHECK(q.client_window == 502u << 7);
    CHECK(q.server_window == 502u << 7);
}

TEST_CASE("restore plan: the unanswered calls oldest first, an answered one between them left out",
          "[mirror][restore_plan]") {
    rig r;
    const bytes c1 = call(0x200, nfs3::read, nfs3_read_args(fh, 0, 512));
    const bytes c2 = call(0x201, nfs3::getattr, nfs3_fh_args(fh));
    const bytes c3 = call(0x202, nfs3::write, nfs3_write_args(fh, 0, bytes(700, 0x62)));
    const bytes r2 = reply(0x201, nfs3_getattr_res());  // answered out of order
    r.feed(conversation({{C, c1}, {C, c2}, {S, r2}, {C, c3}}, 100, ending::none));
    r.feed({client_ack(total({c1, c2, c3}), total({r2})), server_ack(total({r2}), total({c1, c2, c3}), 600)});

    const restore_plan p = r.plan();
    REQUIRE(p.verdict == restore_verdict::restorable);
    CHECK(p.replayed == 2);
    CHECK(r.replay == concat({c1, c3}));
    CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + total({c1, c2, c3}));
}

TEST_CASE("restore plan: a call sent in two fragments is replayed as one", "[mirror][restore_plan]") {
    rig r;
    const bytes body = rpc_call(0x300, rpc_prog_nfs, 3, nfs3::getattr, nfs3_fh_args(fh));
    const std::size_t half = 40;
    bytes two(4 + half);
    wire::store32(two.data(), static_cast<std::uint32_t>(half));
    std::copy(body.begin(), body.begin() + half, two.begin() + 4);
    bytes last(4);
    wire::store32(last.data(), 0x80000000u | static_cast<std::uint32_t>(body.size() - half));
    two.insert(two.end(), last.begin(), last.end());
    two.insert(two.end(), body.begin() + half, body.end());
    r.feed(conversation({{C, two}}, 1448, ending::none));
    r.feed({server_ack(0, total({two}), 700)});

    const restore_plan p = r.plan();
    REQUIRE(p.verdict == restore_verdict::restorable);
    CHECK(r.replay == rpc_marked(body));
    CHECK(r.replay.size() == two.size() - 4);
    // The receive queue still ends where the client's stream does.
    CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + two.size());
}

TEST_CASE("restore plan: a call cut by the failure", "[mirror][restore_plan]") {
    const bytes c1 = call(0x400, nfs3::getattr, nfs3_fh_args(fh));
    const bytes c2 = call(0x401, nfs3::write, nfs3_write_args(fh, 0, bytes(300, 0x63)));
    const bytes cut(c2.begin(), c2.begin() + 100);

    SECTION("not acknowledged by the node: the client sends it again, the plan ends before it") {
        rig r;
        r.feed(conversation({{C, c1}, {C, cut}}, 1448, ending::none));
        r.feed({server_ack(0, total({c1}), 700)});
        const restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(r.replay == c1);
        CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + total({c1}));
    }
    SECTION("acknowledged: its first bytes would be lost") {
        rig r;
        r.feed(conversation({{C, c1}, {C, cut}}, 1448, ending::none));
        r.feed({server_ack(0, total({c1, cut}), 700)});
        CHECK(r.plan().verdict == restore_verdict::request_cut_acked);
    }
}

TEST_CASE("restore plan: what cannot be restored, and why", "[mirror][restore_plan]") {
    const bytes c1 = call(0x500, nfs3::getattr, nfs3_fh_args(fh)), r1 = reply(0x500, nfs3_getattr_res());
    const bytes c2 = call(0x501, nfs3::getattr, nfs3_fh_args(fh));

    SECTION("joined mid-stream") {
        rig r;
        auto segs = conversation({{C, c1}, {S, r1}, {C, c2}}, 1448, ending::none);
        segs.erase(segs.begin(), segs.begin() + 3);
        r.feed(segs);
        const restore_plan p = r.plan();
        CHECK(p.verdict == restore_verdict::incomplete);
        CHECK(p.reason == conn_reason::joined_mid_stream);
    }
    SECTION("a reply the client has not acknowledged: sent again from the spare's send queue") {
        rig r;
        r.feed(conversation({{C, c1}, {S, r1}}, 1448, ending::none));
        restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.replayed == 0);  // its call was answered
        CHECK(p.params.resend_len == r1.size());
        CHECK(r.replay == r1);  // with its record marker, as it went
        CHECK(p.params.snd_seq == r.spec.server_isn + 1);
        r.feed({client_ack(total({c1}), 10)});  // the client acknowledged its first 10 bytes
        p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.params.resend_len == r1.size() - 10);
        CHECK(r.replay == bytes(r1.begin() + 10, r1.end()));
        CHECK(p.params.snd_seq == r.spec.server_isn + 1 + 10);
        r.feed({client_ack(total({c1}), total({r1}))});
        p = r.plan();
        CHECK(p.verdict == restore_verdict::restorable);
        CHECK(p.params.resend_len == 0);
        CHECK(p.params.snd_seq == r.spec.server_isn + 1 + total({r1}));
    }
    SECTION("unacknowledged bytes older than the last reply are gone") {
        rig r;
        const bytes r2 = reply(0x501, nfs3_getattr_res());
        r.feed(conversation({{C, concat({c1, c2})}, {S, concat({r1, r2})}}, 1448, ending::none));
        CHECK(r.plan().verdict == restore_verdict::reply_unacknowledged);
        r.feed({client_ack(total({c1, c2}), total({r1}) + 2)});  // now only r2's bytes are missing an ACK
        const restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.params.resend_len == r2.size() - 2);
    }
    SECTION("closing") {
        rig r;
        auto segs = conversation({{C, c1}, {S, r1}}, 1448, ending::fin);
        segs.pop_back();
        segs.pop_back();  // the client's FIN only
        r.feed(segs);
        CHECK(r.plan().verdict == restore_verdict::not_established);
    }
    SECTION("TCP only: where a request starts is not known") {
        rig r(port_proto::tcp);
        r.feed(conversation({{C, bytes(50, 'G')}}, 1448, ending::none));
        r.feed({server_ack(0, 50, 700)});
        CHECK(r.plan().verdict == restore_verdict::no_request_framing);
    }
    SECTION("SMB2: the session is the dead server's") {
        rig r(port_proto::smb);
        r.feed(conversation({{C, nbss(smb2_message(0x000d, 0, 1, smb2_echo_body()))}}, 1448, ending::none));
        CHECK(r.plan().verdict == restore_verdict::session_state);
    }
    SECTION("the replay does not fit the buffer") {
        rig r;
        r.feed(conversation({{C, c1}}, 1448, ending::none));
        r.feed({server_ack(0, total({c1}), 700)});
        CHECK(r.plan(c1.size() - 1).verdict == restore_verdict::replay_too_large);
        CHECK(r.plan(c1.size()).verdict == restore_verdict::restorable);
    }
}

TEST_CASE("restore plan: HTTP keep-alive, answered requests left out, pipelined ones replayed as they went",
          "[mirror][restore_plan][http1]") {
    const bytes q1 = text("GET /one HTTP/1.1\r\nHost: n\r\n\r\n");
    const bytes a1 = text("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none");
    const bytes q2 = text("HEAD /two HTTP/1.1\r\nHost: n\r\n\r\n");
    const bytes a2 = text("HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\n");  // no body: a HEAD's
    const bytes q3 = text("POST /three HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n0\r\n\r\n");
    const bytes q4 = text("GET /four HTTP/1.1\r\n\r\n");

    SECTION("two in flight") {
        rig r(port_proto::http);
        r.feed(conversation({{C, q1}, {S, a1}, {C, q2}, {S, a2}, {C, concat({q3, q4})}}, 20, ending::none));
        const std::uint32_t up = total({q1, q2, q3, q4}), down = total({a1, a2});
        r.feed({client_ack(up, down), server_ack(down, up, 4242)});
        CHECK(r.conn.counters().replies == 2);
        CHECK(r.conn.counters().replies_unmatched == 0);
        const restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.replayed == 2);
        CHECK(r.replay == concat({q3, q4}));
        CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + up);
        CHECK(p.params.snd_seq == r.spec.server_isn + 1 + down);
        CHECK(p.params.server_port == 8080);
        CHECK(p.params.tsval == 4242);
    }
    SECTION("a request in flight and the last response unacknowledged: both in the replay, the response last") {
        rig r(port_proto::http);
        r.feed(conversation({{C, q1}, {S, a1}}, 0, ending::none));
        // The next request, sent before a1 arrived: it acknowledges none of a1.
        r.feed({{C, total({q1}), ACK | PSH, 0, q4, {}}, server_ack(total({a1}), total({q1, q4}), 77)});
        const restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.replayed == 1);
        CHECK(p.params.resend_len == a1.size());
        CHECK(r.replay == concat({q4, a1}));
        CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + total({q1, q4}));
    }
    SECTION("all answered: nothing to replay") {
        rig r(port_proto::http);
        r.feed(conversation({{C, q1}, {S, a1}}, 0, ending::none));
        r.feed({client_ack(total({q1}), total({a1}))});
        const restore_plan p = r.plan();
        REQUIRE(p.verdict == restore_verdict::restorable);
        CHECK(p.replayed == 0);
        CHECK(r.replay.empty());
    }
    SECTION("a response cut by the failure: its first bytes are the client's already") {
        rig r(port_proto::http);
        const bytes part(a1.begin(), a1.end() - 2);
        r.feed(conversation({{C, q1}, {S, part}}, 0, ending::none));
        r.feed({client_ack(total({q1}), total({part}))});
        CHECK(r.plan().verdict == restore_verdict::reply_cut);
        r.feed({{S, total({part}), ACK, total({q1}), bytes(a1.end() - 2, a1.end()), {}}, client_ack(total({q1}), total({a1}))});
        CHECK(r.plan().verdict == restore_verdict::restorable);
    }
    SECTION("a request the node refused to frame is not restored") {
        rig r(port_proto::http);
        r.feed(conversation({{C, text("GET / HTTP/1.1\r\nBad Field: x\r\n\r\n")}}, 0, ending::none));
        const restore_plan p = r.plan();
        CHECK(p.verdict == restore_verdict::incomplete);
        CHECK(p.reason == conn_reason::framing_lost);
    }
    SECTION("a connection that switched protocols") {
        rig r(port_proto::http);
        r.feed(conversation({{C, text("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")},
                             {S, text("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n")},
                             {C, text("GET / HTTP/1.1\r\n\r\n")}},
                            0, ending::none));
        const restore_plan p = r.plan();
        CHECK(p.verdict == restore_verdict::incomplete);
        CHECK(p.reason == conn_reason::opaque);
    }
}

TEST_CASE("restore plan: a READ reply cut by the failure is finished by the spare, from the client's acknowledgement",
          "[mirror][restore_plan]") {
    const bytes c0 = call(0x600, nfs3::getattr, nfs3_fh_args(fh)), r0 = reply(0x600, nfs3_getattr_res());
    for (const std::size_t size : {3000u, 200000u}) {  // held whole by the framer, or by its prefix only
        INFO("a READ of " << size << " bytes");
        const bytes c1 = call(0x601, nfs3::read, nfs3_read_args(fh, 0, static_cast<std::uint32_t>(size)));
        const bytes r1 = reply(0x601, nfs3_read_res(bytes(size, 0x5a)));
        const bytes part(r1.begin(), r1.begin() + 1800);
        const std::uint32_t before = total({r0});

        SECTION("the client has 1000 bytes of it") {
            rig r;
            r.feed(conversation({{C, c0}, {S, r0}, {C, c1}, {S, part}}, 1448, ending::none));
            r.feed({client_ack(total({c0, c1}), before + 1000), server_ack(before + 1800, total({c0, c1}), 800)});
            const restore_plan p = r.plan();
            REQUIRE(p.verdict == restore_verdict::restorable);
            CHECK(p.replayed == 1);
            CHECK(r.replay == c1);  // the call answered again by the spare's service
            CHECK(p.params.resend_len == 0);  // the reply's rest is the service's to send
            CHECK(p.params.snd_seq == r.spec.server_isn + 1 + before + 1000);
            CHECK(p.params.resume_skip == 1000);
            CHECK(p.params.resume_sent == 1800);  // the node sent 800 bytes more: the client may have them
            CHECK(p.params.resume_marker == wire::load32(r1.data()));
            CHECK(p.params.rcv_seq == r.spec.client_isn + 1 + total({c0, c1}));
        }
        SECTION("the client has none of it: nothing to skip") {
            rig r;
            r.feed(conversation({{C, c0}, {S, r0}, {C, c1}, {S, part}}, 1448, ending::none));
            r.feed({client_ack(total({c0, c1}), before)});
            const restore_plan p = r.plan();
            REQUIRE(p.verdict == restore_verdict::restorable);
            CHECK(p.params.snd_seq == r.spec.server_isn + 1 + before);
            CHECK(p.params.resume_skip == 0);
            CHECK(p.params.resume_sent == 1800);
            CHECK(p.params.resume_marker == wire::load32(r1.data()));  // the service's reply must be the node's
        }
        SECTION("the reply before it not acknowledged: those bytes are gone") {
            rig r;  // both calls sent before r0 came: the client's ACKs are its own
            r.feed(conversation({{C, concat({c0, c1})}, {S, r0}, {S, part}}, 1448, ending::none));
            r.feed({client_ack(total({c0, c1}), before - 1)});
            CHECK(r.plan().verdict == restore_verdict::reply_cut);
        }
        SECTION("another call in flight: which one the spare answers first is not known") {
            rig r;
            const bytes c2 = call(0x602, nfs3::getattr, nfs3_fh_args(fh));
            r.feed(conversation({{C, concat({c0, c1, c2})}, {S, r0}, {S, part}}, 1448, ending::none));
            r.feed({client_ack(total({c0, c1, c2}), before + 1000)});
            CHECK(r.plan().verdict == restore_verdict::reply_cut);
        }
    }
    SECTION("a reply to no call in flight") {
        rig r;
        const bytes c1 = call(0x611, nfs3::getattr, nfs3_fh_args(fh));
        const bytes stray = reply(0x7777, nfs3_read_res(bytes(3000, 0x5a)));
        r.feed(conversation({{C, c1}, {S, bytes(stray.begin(), stray.begin() + 1800)}}, 1448, ending::none));
        r.feed({client_ack(total({c1}), 1000)});
        CHECK(r.plan().verdict == restore_verdict::reply_cut);
    }
    SECTION("a reply in more than one fragment: its length is not known") {
        rig r;
        const bytes c1 = call(0x621, nfs3::getattr, nfs3_fh_args(fh));
        const bytes body = rpc_reply(0x621, nfs3_getattr_res());
        bytes first(4);
        wire::store32(first.data(), 200);  // not the last fragment
        first.insert(first.end(), body.begin(), body.begin() + 60);
        r.feed(conversation({{C, c1}, {S, first}}, 1448, ending::none));
        r.feed({client_ack(total({c1}), 30)});
        CHECK(r.plan().verdict == restore_verdict::reply_cut);
    }
}
