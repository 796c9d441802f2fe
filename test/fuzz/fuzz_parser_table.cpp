// libFuzzer harness for the mirror parser's table (dataplane/mirror/
// parser_table.hpp) and so the whole stack under it: frames of four
// connections (NFS, SMB, portmapper, HTTP ports), both directions, any
// flags, sequence numbers and payloads (format: parser_table_input.hpp),
// into a table of three slots and a chunk pool of twelve 256-byte chunks,
// so that eviction by both limits, port reuse and both timers are reached.
// After every frame it checks, and aborts (a crash to libFuzzer) otherwise:
//  - every frame has one verdict, and the counters add up to the frames;
//  - the table holds at most its capacity, for_each lists size()
//    connections, most recently used first (never older before newer), and
//    find() finds each of them;
//  - a complete connection's follower is complete, its FIFO without flaw,
//    it is not opaque; a connection still in the table has not ended;
//  - the chunk pool's free chunks and those the FIFOs hold add up to all;
//  - a reply given with its request has the request's id (and, for RPC,
//    its program); an interim response is SMB2's, or an HTTP 1xx;
//  - a connection's restore plan, when restorable, is of a complete one;
//    its replay fits the buffer, ends with the reply to send again, and
//    that reply ends where the server's stream does.
// At the end, clear() empties the table and gives every chunk back.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "dataplane/mirror/parser_table.hpp"
#include "dataplane/mirror/restore_plan.hpp"
#include "dataplane/mirror/smb2.hpp"
#include "parser_table_input.hpp"
#include "support/mirror_session.hpp"

namespace {

using namespace cg::dp::mirror;
namespace in = cg::fuzz::table_input;

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_parser_table: invariant violated: %s\n", what);
    std::abort();
}

struct checker final : conn_observer {
    void on_reply(const mirror_conn&, const app_message& m, const msg_note& n, const app_message* req) noexcept override {
        if (n.interim && m.proto != app_proto::smb2 && !(m.proto == app_proto::http1 && m.status >= 100 && m.status < 200))
            fail("an interim response that is neither SMB2's nor an HTTP 1xx");
        if (!req) return;
        if (req->id != m.id) fail("a reply given with a request of another id");
        if (m.proto != app_proto::smb2 && req->proto != m.proto) fail("an RPC reply parsed as another program than its call");
    }
};

parser_table_config config() {
    parser_table_config c;
    c.capacity = 3;
    c.pool_chunks = 12;
    c.chunk_size = 256;
    c.stale_timeout_ms = 30'000;
    c.fin_timeout_ms = 2'000;
    c.conn.follower = {4096, 1u << 20};
    c.conn.request_cap = 2048;
    c.conn.reply_cap = 1024;
    c.conn.prefix = 256;
    return c;
}

std::int64_t get24(const std::uint8_t* p) {
    const std::uint32_t u = p[0] | (p[1] << 8) | (std::uint32_t{p[2]} << 16);
    return static_cast<std::int32_t>(u << 8) >> 8;  // sign-extended
}

void check_plan(const mirror_conn& m, const chunk_pool& pool) {
    static std::uint8_t replay[8192];
    const restore_plan p = plan_restore(m, pool, 0, replay);
    if (p.replay_len > sizeof replay) fail("a replay longer than its buffer");
    if (p.verdict != restore_verdict::restorable) return;
    if (!m.complete()) fail("a plan restorable, but the connection is not complete");
    const auto& q = p.params;
    if (q.resend_len > p.replay_len) fail("more bytes to send again than the replay holds");
    const tcp_stream_info& down = m.tcp().stream(direction::to_client);
    const record_framer& replies = *m.framer(direction::to_client);
    if (replies.settled() != replies.position()) {  // a cut reply, finished by the spare
        if (q.resend_len != 0) fail("a cut reply finished and bytes sent again too");
        if (!down.ack_known || q.snd_seq != down.acked) fail("a cut reply not resumed at the client's acknowledgement");
        if (q.resume_sent == 0 || q.resume_marker == 0) fail("a resumed reply without its bytes sent or its marker");
        if (q.resume_skip > q.resume_sent) fail("more of a cut reply skipped than the node sent");
        if (q.resume_sent >= (q.resume_marker & 0x7fffffffu) + 4) fail("more of a cut reply sent than it holds");
        if (q.snd_seq + (q.resume_sent - q.resume_skip) != down.next_seq)
            fail("a cut reply's bytes sent do not end where the server's stream does");
    } else if (q.snd_seq + q.resend_len != down.next_seq || q.resume_skip != 0 || q.resume_sent != 0) {
        fail("the reply sent again does not end where the server's stream does");
    }
    if (q.resend_len > 1024 + 4) fail("more bytes sent again than the reply buffer holds");
}

void check(const parser_table& t, std::uint64_t frames) {
    const table_counters& c = t.counters();
    std::uint64_t sum = 0;
    for (const std::uint64_t n : c.frames) sum += n;
    if (sum != frames) fail("frame verdicts do not add up to the frames");
    if (t.size() > t.capacity()) fail("more connections than the capacity");
    std::uint32_t listed = 0, held_chunks = 0;
    std::uint32_t prev_seen = 0;
    bool first = true;
    t.for_each([&](const mirror_conn& m) {
        ++listed;
        if (t.find(m.endpoints()) != &m) fail("find() does not find a listed connection");
        if (m.ended()) fail("an ended connection still in the table");
        const std::uint32_t seen = t.last_seen(m);
        if (!first && static_cast<std::int32_t>(seen - prev_seen) > 0) fail("for_each: an older connection before a newer one");
        first = false;
        prev_seen = seen;
        if (m.complete() && (!m.tcp().complete() || m.fifo().flaw() != fifo_flaw::none || m.opaque()))
            fail("complete, but its follower, FIFO or opacity says otherwise");
        m.fifo().for_each([&](const fifo_entry& e) { held_chunks += t.pool().chunks_for(e.bytes.len); });
        check_plan(m, t.pool());
    });
    if (listed != t.size()) fail("for_each does not list size() connections");
    if (held_chunks + t.pool().free_chunks() != t.pool().chunks()) fail("chunks lost or held twice");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    parser_table table(config());
    checker obs;
    table.set_observer(&obs);
    std::uint32_t now = 0;
    std::uint64_t frames = 0;
    for (std::size_t at = 0; at + in::header <= size;) {
        const std::uint8_t* h = data + at;
        const std::size_t n = std::min<std::size_t>(h[8], size - at - in::header);
        const unsigned conn = h[0] & in::ctl_conn_mask;
        const unsigned gen = (h[0] >> in::ctl_gen_shift) & 3;
        const unsigned step = (h[0] >> in::ctl_step_shift) & 3;
        cg::test::mirror::seg s;
        s.dir = (h[0] & in::ctl_from_server) ? direction::to_client : direction::to_server;
        s.flags = h[1];
        s.off = get24(h + 2);
        s.ack = static_cast<std::uint32_t>(get24(h + 5));
        s.payload.assign(h + in::header, h + in::header + n);
        if (h[0] & in::ctl_syn_options) s.options = cg::test::mirror::syn_options(now);
        at += in::header + n;

        if (step) {
            now += in::clock_steps[step];
            table.age(now);
        }
        const cg::test::mirror::bytes f = cg::test::mirror::to_frame(in::spec(conn, gen), s);
        const frame_verdict v = table.frame(f.data(), static_cast<std::uint32_t>(f.size()), now);
        if (static_cast<std::size_t>(v) >= frame_verdict_count) fail("a verdict out of range");
        check(table, ++frames);
    }
    (void)table.totals();
    table.clear();
    if (table.size() != 0) fail("clear() left connections");
    if (table.pool().free_chunks() != table.pool().chunks()) fail("clear() left chunks held");
    return 0;
}
