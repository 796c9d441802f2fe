// cg-mirror-read: the mirror parser offline. Reads a pcap file (libpcap),
// gives every frame to a parser_table as a parser lcore would, with the
// capture's time stamps as its clock, and prints JSON lines: one per
// message, then one per connection, then a summary (docs/mirror-json.md).
// For operators who want to know what a capture would give the standby, and
// for comparing the parser with another dissector (tshark).
//
//   cg-mirror-read [--port PORT=PROTO]... [--capacity N] [--stale-ms MS]
//                  [--fin-ms MS] [--no-messages] FILE.pcap
//
// Exit status 0 when the file was read to its end, 1 on a usage error or a
// file libpcap cannot read (or whose link type is not Ethernet).
#include <pcap/pcap.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>

#include "common/net_types.hpp"
#include "dataplane/mirror/msg_names.hpp"
#include "dataplane/mirror/parser_config.hpp"
#include "dataplane/mirror/parser_table.hpp"

using namespace cg::dp::mirror;

namespace {

constexpr std::string_view usage_text =
    "usage: cg-mirror-read [--port PORT=PROTO]... [--capacity N] [--stale-ms MS] [--fin-ms MS] [--no-messages] "
    "FILE.pcap\n"
    "  --port PORT=PROTO  a server port and what it speaks: nfs, mount, portmapper, rpc, smb, tcp\n"
    "                     (added to the defaults 2049=nfs 111=portmapper 445=smb; tcp removes one)\n"
    "  --capacity N       connections followed at once (default 1024)\n"
    "  --stale-ms MS      STALE_TIME_OUT (default 8100000)\n"
    "  --fin-ms MS        FIN_TIME_OUT (default 90000)\n"
    "  --no-messages      connection and summary lines only\n";

std::string hex(std::span<const std::uint8_t> b) {
    std::string s;
    s.reserve(b.size() * 2);
    for (const std::uint8_t x : b) fmt::format_to(std::back_inserter(s), "{:02x}", x);
    return s;
}

std::string endpoint(cg::common::ipv4_addr a, std::uint16_t port) {
    return fmt::format("{}:{}", cg::common::format_ipv4(a), port);
}

bool carries_range(const app_message& m) {
    switch (m.proto) {
    case app_proto::nfs3:
        return m.procedure == nfs3::read || m.procedure == nfs3::write || m.procedure == nfs3::commit;
    case app_proto::smb2:
        return m.procedure == static_cast<std::uint32_t>(smb2::command::read) ||
               m.procedure == static_cast<std::uint32_t>(smb2::command::write);
    case app_proto::nfs4:
        for (std::uint16_t i = 0; i < std::min<std::size_t>(m.n_ops, app_message::max_ops); ++i)
            if (m.ops[i] == nfs4::read || m.ops[i] == nfs4::write || m.ops[i] == nfs4::commit) return true;
        return false;
    default: return false;
    }
}

bool carries_stable(const app_message& m) {
    if (m.proto == app_proto::nfs3) return m.procedure == nfs3::write;
    if (m.proto != app_proto::nfs4) return false;
    for (std::uint16_t i = 0; i < std::min<std::size_t>(m.n_ops, app_message::max_ops); ++i)
        if (m.ops[i] == nfs4::write) return true;
    return false;
}

/// The fields every message line has: where, which way, what.
std::string message_fields(const mirror_conn& c, const app_message& m, std::uint64_t frame, const msg_note& note) {
    const conn_endpoints& ep = c.endpoints();
    const bool request = m.kind == msg_kind::call;
    std::string s = fmt::format(
        R"({{"type":"message","frame":{},"conn":{},"client":"{}","server":"{}","dir":"{}","kind":"{}","proto":"{}")",
        frame, c.serial(), endpoint(ep.client_addr, ep.client_port), endpoint(ep.server_addr, ep.server_port),
        request ? "to_server" : "to_client", request ? "call" : "reply", proto_name(m.proto));
    fmt::format_to(std::back_inserter(s), R"(,"id":{})", m.id);
    if (m.proto != app_proto::smb2) fmt::format_to(std::back_inserter(s), R"(,"xid":"0x{:08x}")", m.id);
    const std::string_view name = procedure_name(m.proto, m.procedure, c.speaks());
    if (name.empty())
        fmt::format_to(std::back_inserter(s), R"(,"procedure":null)");
    else
        fmt::format_to(std::back_inserter(s), R"(,"procedure":"{}")", name);
    fmt::format_to(std::back_inserter(s), R"(,"procedure_num":{})", m.procedure);
    if (!request) fmt::format_to(std::back_inserter(s), R"(,"status":{})", m.status);
    if (!m.fh.empty()) fmt::format_to(std::back_inserter(s), R"(,"fh":"{}")", hex(m.fh.bytes()));
    if (carries_range(m)) {  // a reply has no offset of its own: only the count it read or wrote
        if (request) fmt::format_to(std::back_inserter(s), R"(,"offset":{})", m.offset);
        fmt::format_to(std::back_inserter(s), R"(,"count":{})", m.count);
    }
    if (carries_stable(m)) fmt::format_to(std::back_inserter(s), R"(,"stable":{})", m.stable);
    if (m.proto == app_proto::nfs4 && m.procedure == nfs4::compound) {
        s += R"(,"ops":[)";
        for (std::uint16_t i = 0; i < std::min<std::size_t>(m.n_ops, app_message::max_ops); ++i) {
            const std::string_view op = nfs4_op_name(m.ops[i]);
            if (i) s += ',';
            if (op.empty())
                fmt::format_to(std::back_inserter(s), "{}", m.ops[i]);
            else
                fmt::format_to(std::back_inserter(s), R"("{}")", op);
        }
        fmt::format_to(std::back_inserter(s), R"(],"n_ops":{})", m.n_ops);
    }
    if (m.proto == app_proto::smb2) {
        fmt::format_to(std::back_inserter(s), R"(,"session_id":"0x{:016x}","flags":"0x{:08x}","credits":{})",
                       m.session_id, m.flags, m.credits);
        if (m.flags & smb2::flag_async_command)
            fmt::format_to(std::back_inserter(s), R"(,"async_id":{})", m.async_id);
        else
            fmt::format_to(std::back_inserter(s), R"(,"tree_id":"0x{:08x}")", m.tree_id);
    }
    fmt::format_to(std::back_inserter(s), R"(,"bytes":{},"whole":{})", note.bytes, note.whole);
    return s;
}

/// Writes the JSON lines. A request's line waits for its fate: written when
/// its final reply comes (answered), or when its connection leaves the
/// table (not answered), so that it says which, and carries what later
/// messages added (an SMB2 interim response's AsyncId, a CREATE's FileId).
class json_lines final : public conn_observer {
public:
    explicit json_lines(bool messages) : _messages(messages) {}

    std::uint64_t frame = 0;  ///< the frame being read, 1 for the first

    void on_request(const mirror_conn& c, const app_message& m, const msg_note& note) noexcept override {
        if (!_messages) return;
        if (!note.expects_reply) {  // a CANCEL: its fate is known now
            std::puts((message_fields(c, m, frame, note) + R"(,"held":false,"answered":null})").c_str());
            return;
        }
        _pending[c.serial()].push_back({m, note, frame});
    }

    void on_reply(const mirror_conn& c, const app_message& m, const msg_note& note,
                  const app_message* request) noexcept override {
        if (!_messages) return;
        if (request && !note.interim) flush(c, request->id, request, true);
        std::string s = message_fields(c, m, frame, note);
        fmt::format_to(std::back_inserter(s), R"(,"matched":{},"interim":{}}})", request != nullptr, note.interim);
        std::puts(s.c_str());
    }

    void on_release(const mirror_conn& c, release_reason why) noexcept override {
        if (_messages) {
            // Oldest first; the FIFO's copy where it still has one (it may
            // have dropped a request for want of room).
            auto it = _pending.find(c.serial());
            if (it != _pending.end()) {
                std::vector<waiting> left = std::move(it->second);
                _pending.erase(it);
                for (const waiting& w : left) {
                    const app_message* now = nullptr;
                    c.fifo().for_each([&](const fifo_entry& e) {
                        if (!e.answered && e.msg.id == w.msg.id && !now) now = &e.msg;
                    });
                    print_request(c, w, now, false);
                }
            }
        }
        _conns.push_back({c.serial(), connection_line(c, why)});
    }

    /// The connection lines, in the order the connections were made.
    void print_connections() {
        std::sort(_conns.begin(), _conns.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
        for (const auto& [serial, line] : _conns) std::puts(line.c_str());
    }

private:
    struct waiting {
        app_message msg;  ///< as the request came
        msg_note note;
        std::uint64_t frame = 0;
    };

    void flush(const mirror_conn& c, std::uint64_t id, const app_message* now, bool answered) {
        auto it = _pending.find(c.serial());
        if (it == _pending.end()) return;
        auto& v = it->second;
        const auto w = std::find_if(v.begin(), v.end(), [&](const waiting& x) { return x.msg.id == id; });
        if (w == v.end()) return;
        print_request(c, *w, now, answered);
        v.erase(w);
    }

    void print_request(const mirror_conn& c, const waiting& w, const app_message* now, bool answered) {
        std::string s = message_fields(c, now ? *now : w.msg, w.frame, w.note);
        fmt::format_to(std::back_inserter(s), R"(,"held":{},"flaw":"{}","answered":{})",
                       w.note.flaw == fifo_flaw::none, fifo_flaw_name(w.note.flaw), answered);
        if (answered) fmt::format_to(std::back_inserter(s), R"(,"reply_frame":{})", frame);
        s += '}';
        std::puts(s.c_str());
    }

    static std::string connection_line(const mirror_conn& c, release_reason why) {
        const conn_endpoints& ep = c.endpoints();
        const tcp_follower& t = c.tcp();
        const tcp_stream_info &cs = t.stream(direction::to_server), &ss = t.stream(direction::to_client);
        const conn_reason r = c.reason();
        const conn_counters& n = c.counters();
        std::string s = fmt::format(
            R"({{"type":"connection","conn":{},"client":"{}","server":"{}","speaks":"{}","state":"{}","complete":{},)"
            R"("reason":"{}","left":"{}","pending":{},"held_bytes":{},"requests":{},"replies":{},)"
            R"("replies_unmatched":{},"interim":{},"segments":{},"bytes_to_server":{},"bytes_to_client":{},)"
            R"("gaps_to_server":{},"gaps_to_client":{},"lost_to_server":{},"lost_to_client":{})",
            c.serial(), endpoint(ep.client_addr, ep.client_port), endpoint(ep.server_addr, ep.server_port),
            port_proto_names[static_cast<std::size_t>(c.speaks())], tcp_state_name(t.state()),
            r == conn_reason::complete, conn_reason_names[static_cast<std::size_t>(r)],
            why == release_reason::cleared ? "end_of_capture" : release_reason_names[static_cast<std::size_t>(why)],
            c.fifo().unanswered(), c.fifo().held(), n.requests, n.replies, n.replies_unmatched, n.interim,
            t.counters().segments, cs.bytes_delivered, ss.bytes_delivered, cs.gaps, ss.gaps, cs.bytes_lost,
            ss.bytes_lost);
        if (cs.syn_seen && ss.syn_seen)
            fmt::format_to(std::back_inserter(s),
                           R"(,"tcp":{{"client_isn":{},"server_isn":{},"mss":[{},{}],"window_scaling":{},)"
                           R"("wscale":[{},{}],"sack":{},"timestamps":{}}})",
                           cs.isn, ss.isn, cs.syn_options.mss, ss.syn_options.mss, t.window_scaling(),
                           cs.syn_options.wscale, ss.syn_options.wscale, t.sack_permitted(), t.timestamps());
        // Every error and every effect of a gap the connection counted.
        std::string errs;
        auto put = [&](std::string_view what, std::string_view name, std::uint64_t v) {
            if (v == 0) return;
            fmt::format_to(std::back_inserter(errs), R"({}"{}.{}":{})", errs.empty() ? "" : ",", what, name, v);
        };
        for (std::size_t i = 0; i < rpc_error_count; ++i) put("rpc", rpc_error_names[i], n.rpc_errors[i]);
        for (std::size_t i = 1; i < smb2::outcome_count; ++i)  // 0 is ok
            put("smb2", smb2::outcome_name(static_cast<smb2::outcome>(i)), n.smb2_outcomes[i]);
        for (const direction d : {direction::to_server, direction::to_client})
            if (const record_framer* f = c.framer(d))
            {
                const char* side = d == direction::to_server ? "framer_to_server" : "framer_to_client";
                for (std::size_t i = 0; i < framer_error_count; ++i) put(side, framer_error_names[i], f->counters().errors[i]);
                for (std::size_t i = 0; i < http1::error_count; ++i)
                    put(side, fmt::format("http.{}", http1::error_names[i]), f->counters().http[i]);
            }
        for (std::size_t i = 0; i < gap_effect_count; ++i) put("gap", gap_effect_names[i], n.gaps[i]);
        put("conn", "backchannel", n.backchannel);
        put("conn", "opaque_records", n.opaque_records);
        put("conn", "cancels", n.cancels);
        put("conn", "notifications", n.notifications);
        fmt::format_to(std::back_inserter(s), R"(,"counts":{{{}}}}})", errs);
        return s;
    }

    bool _messages;
    std::unordered_map<std::uint64_t, std::vector<waiting>> _pending;  ///< by connection serial, oldest first
    std::vector<std::pair<std::uint64_t, std::string>> _conns;
};

std::string summary_line(const parser_table& t, std::uint64_t frames, std::uint64_t snapped) {
    const table_counters& c = t.counters();
    std::string s = fmt::format(R"({{"type":"summary","frames":{},"snapped":{})", frames, snapped);
    for (std::size_t i = 0; i < frame_verdict_count; ++i)
        fmt::format_to(std::back_inserter(s), R"(,"{}":{})", frame_verdict_names[i], c.frames[i]);
    s += R"(,"dropped_by":{)";
    bool first = true;
    for (std::size_t i = 0; i < cg::dp::drop_reason_count; ++i) {
        if (c.dropped[i] == 0) continue;
        fmt::format_to(std::back_inserter(s), R"({}"{}":{})", first ? "" : ",", cg::dp::drop_reason_names[i], c.dropped[i]);
        first = false;
    }
    fmt::format_to(std::back_inserter(s), R"(}},"connections":{},"mid_stream":{},"released":{{)", c.created,
                   c.created_mid_stream);
    for (std::size_t i = 0; i < release_reason_count; ++i)
        fmt::format_to(std::back_inserter(s), R"({}"{}":{})", i ? "," : "",
                       i == static_cast<std::size_t>(release_reason::cleared) ? "end_of_capture" : release_reason_names[i],
                       c.released[i]);
    const parser_totals tot = t.totals();
    fmt::format_to(std::back_inserter(s),
                   R"(}},"requests":{},"replies":{},"replies_unmatched":{},"gaps":{},"gap_bytes":{},)"
                   R"("memory":{{"per_connection":{},"total":{}}}}})",
                   tot.conn.requests, tot.conn.replies, tot.conn.replies_unmatched, tot.tcp.gaps, tot.tcp.gap_bytes,
                   parser_table::bytes_per_connection(t.config()), parser_table::bytes_total(t.config()));
    return s;
}

bool parse_number(std::string_view s, std::uint32_t& out) {
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

bool parse_port(std::string_view s, port_map& ports) {
    const auto eq = s.find('=');
    if (eq == std::string_view::npos) return false;
    std::uint32_t port = 0;
    if (!parse_number(s.substr(0, eq), port) || port == 0 || port > 65535) return false;
    const auto proto = port_proto_of(s.substr(eq + 1));
    return proto && ports.set(static_cast<std::uint16_t>(port), *proto);
}

int usage(std::string_view why) {
    std::fprintf(stderr, "cg-mirror-read: %.*s\n%.*s", static_cast<int>(why.size()), why.data(),
                 static_cast<int>(usage_text.size()), usage_text.data());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    parser_table_config cfg;
    bool messages = true;
    std::string file;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        const bool has_value = i + 1 < argc;
        if (a == "-h" || a == "--help") {
            std::fputs(std::string(usage_text).c_str(), stdout);
            return 0;
        } else if (a == "--port" && has_value) {
            if (!parse_port(argv[++i], cfg.ports)) return usage(fmt::format("bad --port '{}'", argv[i]));
        } else if (a == "--capacity" && has_value) {
            if (!parse_number(argv[++i], cfg.capacity) || cfg.capacity == 0)
                return usage(fmt::format("bad --capacity '{}'", argv[i]));
        } else if (a == "--stale-ms" && has_value) {
            if (!parse_number(argv[++i], cfg.stale_timeout_ms)) return usage(fmt::format("bad --stale-ms '{}'", argv[i]));
        } else if (a == "--fin-ms" && has_value) {
            if (!parse_number(argv[++i], cfg.fin_timeout_ms)) return usage(fmt::format("bad --fin-ms '{}'", argv[i]));
        } else if (a == "--no-messages") {
            messages = false;
        } else if (!a.empty() && a[0] != '-' && file.empty()) {
            file = a;
        } else {
            return usage(fmt::format("unexpected argument '{}'", a));
        }
    }
    if (file.empty()) return usage("no file");

    char err[PCAP_ERRBUF_SIZE] = {};
    pcap_t* pc = pcap_open_offline(file.c_str(), err);
    if (!pc) {
        std::fprintf(stderr, "cg-mirror-read: %s\n", err);
        return 1;
    }
    if (pcap_datalink(pc) != DLT_EN10MB) {
        std::fprintf(stderr, "cg-mirror-read: %s: link type %s, not Ethernet\n", file.c_str(),
                     pcap_datalink_val_to_name(pcap_datalink(pc)));
        pcap_close(pc);
        return 1;
    }

    parser_table table(cfg);
    json_lines out(messages);
    table.set_observer(&out);

    std::uint64_t frames = 0, cut = 0;
    bool have_first = false;
    std::uint64_t first_us = 0;
    pcap_pkthdr* h = nullptr;
    const std::uint8_t* data = nullptr;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        out.frame = ++frames;
        // The parser's clock: milliseconds since the first frame (it wraps
        // after 49 days, as a parser lcore's does).
        const std::uint64_t us = std::uint64_t(h->ts.tv_sec) * 1'000'000 + std::uint64_t(h->ts.tv_usec);
        if (!have_first) {
            first_us = us;
            have_first = true;
        }
        const auto now_ms = static_cast<std::uint32_t>((us >= first_us ? us - first_us : 0) / 1000);
        if (h->caplen < h->len) ++cut;  // snapped: the classifier sees fewer bytes than the IP header says
        table.age(now_ms);
        table.frame(data, h->caplen, now_ms);
    }
    if (rc == PCAP_ERROR) {
        std::fprintf(stderr, "cg-mirror-read: %s: %s (after %llu frames)\n", file.c_str(), pcap_geterr(pc),
                     static_cast<unsigned long long>(frames));
        pcap_close(pc);
        return 1;
    }
    pcap_close(pc);
    out.frame = frames;
    table.clear();
    out.print_connections();
    std::puts(summary_line(table, frames, cut).c_str());
    return 0;
}
