#include "dataplane/ctl/mirror_view.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "dataplane/mirror/msg_names.hpp"

namespace cg::dp {

namespace api = common::api;
using namespace mirror;

namespace {

/// tcp_follower_counters by name, in declaration order.
struct tcp_field {
    std::string_view name;
    std::uint64_t tcp_follower_counters::*member;
};
constexpr tcp_field tcp_fields[] = {
    {"segments", &tcp_follower_counters::segments},
    {"bad_flags", &tcp_follower_counters::bad_flags},
    {"bad_length", &tcp_follower_counters::bad_length},
    {"bad_options", &tcp_follower_counters::bad_options},
    {"bad_handshake", &tcp_follower_counters::bad_handshake},
    {"unexpected_syn", &tcp_follower_counters::unexpected_syn},
    {"out_of_window", &tcp_follower_counters::out_of_window},
    {"ack_out_of_window", &tcp_follower_counters::ack_out_of_window},
    {"rst_out_of_window", &tcp_follower_counters::rst_out_of_window},
    {"retransmits", &tcp_follower_counters::retransmits},
    {"overlaps", &tcp_follower_counters::overlaps},
    {"overlap_mismatch", &tcp_follower_counters::overlap_mismatch},
    {"reordered", &tcp_follower_counters::reordered},
    {"ooo_full", &tcp_follower_counters::ooo_full},
    {"gaps", &tcp_follower_counters::gaps},
    {"gap_bytes", &tcp_follower_counters::gap_bytes},
    {"bad_fin", &tcp_follower_counters::bad_fin},
    {"data_after_fin", &tcp_follower_counters::data_after_fin},
    {"after_close", &tcp_follower_counters::after_close},
};
static_assert(sizeof(tcp_fields) / sizeof(tcp_fields[0]) * sizeof(std::uint64_t) == sizeof(tcp_follower_counters),
              "every TCP follower counter has its name here");

/// Sums values into named counters, in the order names first appear.
class counts {
public:
    void add(std::string name, std::uint64_t v) {
        const auto it = std::find_if(_out.begin(), _out.end(), [&](const api::named_count& c) { return c.name == name; });
        if (it == _out.end())
            _out.push_back({std::move(name), v});
        else
            it->value += v;
    }
    template <std::size_t N>
    void add_all(std::string_view group, const std::array<std::string_view, N>& names,
                 const std::array<std::uint64_t, N>& values) {
        for (std::size_t i = 0; i < N; ++i) add(fmt::format("{}.{}", group, names[i]), values[i]);
    }
    std::vector<api::named_count> take() { return std::move(_out); }

private:
    std::vector<api::named_count> _out;
};

void add_lcore(counts& c, const parser_snapshot& s) {
    c.add_all("frames", frame_verdict_names, s.table.frames);
    c.add_all("dropped", drop_reason_names, s.table.dropped);
    c.add("connections.created", s.table.created);
    c.add("connections.created_mid_stream", s.table.created_mid_stream);
    c.add_all("released", release_reason_names, s.table.released);
    for (const tcp_field& f : tcp_fields) c.add(fmt::format("tcp.{}", f.name), s.totals.tcp.*f.member);
    const char* side[] = {"client", "server"};
    for (std::size_t d = 0; d < 2; ++d) {
        const framer_counters& f = s.totals.framer[d];
        const std::string g = fmt::format("framer.{}", side[d]);
        c.add(g + ".records_whole", f.records_whole);
        c.add(g + ".records_prefix", f.records_prefix);
        c.add(g + ".resyncs", f.resyncs);
        c.add(g + ".resync_skipped_bytes", f.resync_skipped_bytes);
        c.add_all(g, framer_error_names, f.errors);
        c.add_all(g + ".http", http1::error_names, f.http);
    }
    const conn_counters& n = s.totals.conn;
    c.add("messages.requests", n.requests);
    c.add("messages.replies", n.replies);
    c.add("messages.replies_unmatched", n.replies_unmatched);
    c.add("messages.interim", n.interim);
    c.add("messages.backchannel", n.backchannel);
    c.add("messages.opaque_records", n.opaque_records);
    c.add_all("rpc", rpc_error_names, n.rpc_errors);
    for (std::size_t i = 0; i < smb2::outcome_count; ++i)
        c.add(fmt::format("smb2.{}", smb2::outcome_name(static_cast<smb2::outcome>(i))), n.smb2_outcomes[i]);
    c.add_all("gaps", gap_effect_names, n.gaps);
    c.add("nodes.untracked", s.nodes_untracked);
    c.add("pool.chunks", s.pool_chunks);
    c.add("pool.free", s.pool_free);
}

constexpr std::string_view half_names[] = {"none", "open", "fin", "reset"};

api::mirror_conn_view conn_view(const parser_conn_row& r, std::uint16_t lcore) {
    api::mirror_conn_view v;
    v.client = r.ep.client_addr;
    v.server = r.ep.server_addr;
    v.client_port = r.ep.client_port;
    v.server_port = r.ep.server_port;
    v.state = std::string(tcp_state_name(r.state));
    v.client_half = std::string(half_names[static_cast<std::size_t>(r.client)]);
    v.server_half = std::string(half_names[static_cast<std::size_t>(r.server)]);
    v.protocol = std::string(port_proto_names[static_cast<std::size_t>(r.speaks)]);
    v.reason = std::string(conn_reason_names[static_cast<std::size_t>(r.reason)]);
    v.pending = r.pending;
    if (r.has_oldest) v.oldest = request_name(r.oldest_proto, r.oldest_procedure, r.speaks);
    v.held_bytes = r.held;
    v.idle_ms = r.idle_ms;
    v.lcore = lcore;
    return v;
}

}  // namespace

std::string request_name(app_proto proto, std::uint32_t procedure, port_proto speaks) {
    const std::string_view name = procedure_name(proto, procedure, speaks);
    return name.empty() ? fmt::format("{} {}", mirror::proto_name(proto), procedure)
                        : fmt::format("{} {}", mirror::proto_name(proto), name);
}

api::mirror_rep mirror_view(std::span<const parser_snapshot* const> lcores,
                            const std::array<std::uint64_t, span_event_count>& span, std::uint32_t max_conns) {
    api::mirror_rep rep;
    rep.lcores = static_cast<std::uint16_t>(lcores.size());
    counts c;
    c.add_all("span", span_event_names, span);
    for (const parser_snapshot* s : lcores) {
        rep.connections += s->size;
        rep.capacity += s->capacity;
        add_lcore(c, *s);
    }
    rep.counters = c.take();
    // Each lcore's rows are most recently used first; merged by idle time.
    for (std::size_t l = 0; l < lcores.size(); ++l)
        for (std::uint32_t i = 0; i < lcores[l]->count; ++i)
            rep.conns.push_back(conn_view(lcores[l]->rows[i], static_cast<std::uint16_t>(l)));
    std::stable_sort(rep.conns.begin(), rep.conns.end(),
                     [](const api::mirror_conn_view& a, const api::mirror_conn_view& b) { return a.idle_ms < b.idle_ms; });
    if (rep.conns.size() > max_conns) rep.conns.resize(max_conns);
    rep.nodes = node_views(lcores);
    return rep;
}

std::vector<api::mirror_node_view> node_views(std::span<const mirror::parser_snapshot* const> lcores) {
    // A node's connections may be on several lcores: heard is the latest of
    // theirs; it waits when an lcore saw a retransmission after that.
    std::map<std::uint64_t, api::mirror_node_view> by;
    const auto view_of = [&](std::uint64_t key) -> api::mirror_node_view& {
        auto [it, fresh] = by.try_emplace(key);
        if (fresh)
            for (int i = 0; i < 6; ++i) it->second.mac.b[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(key >> (40 - 8 * i));
        return it->second;
    };
    for (const mirror::parser_snapshot* s : lcores)
        for (const mirror::node_seen& e : s->nodes)
            if (e.mac != 0 && e.heard) {
                auto& v = view_of(e.mac);
                const std::uint32_t ago = s->now_ms - e.heard_ms;
                if (!v.heard_ms || ago < *v.heard_ms) v.heard_ms = ago;
            }
    for (const mirror::parser_snapshot* s : lcores)
        for (const mirror::node_seen& e : s->nodes) {
            if (e.mac == 0 || !e.waiting) continue;
            auto& v = view_of(e.mac);
            const std::uint32_t ago = s->now_ms - e.waiting_ms;
            if (v.heard_ms && ago > *v.heard_ms) continue;  // heard on another lcore since
            if (!v.waiting_ms || ago > *v.waiting_ms) v.waiting_ms = ago;
            v.retransmits += e.retransmits;
        }
    std::vector<api::mirror_node_view> out;
    for (auto& [key, v] : by) out.push_back(std::move(v));
    return out;
}

}  // namespace cg::dp
