// What `show mirror` needs of one parser lcore's table, copied on that
// lcore (parser_table is not thread-safe): the table's counters, the
// connections' totals, and the first connections most recently used first,
// as plain values. The control thread turns it into names
// (dataplane/ctl/mirror_view.hpp); the lcore never formats or allocates.
//
// Ownership: made and sized by the control thread (rows.resize(n) before it
// is posted), filled by take_snapshot on the parser lcore, read by the
// control thread once the request says done.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "dataplane/mirror/parser_table.hpp"

namespace cg::dp::mirror {

/// What one side of a connection sent: nothing known yet, bytes (or its
/// SYN), its FIN, or an RST (either side's).
enum class half_state : std::uint8_t { none, open, fin, reset };

struct parser_conn_row {
    conn_endpoints ep;
    tcp_state state = tcp_state::none;
    half_state client = half_state::none, server = half_state::none;  ///< what each side sent
    port_proto speaks = port_proto::tcp;
    conn_reason reason = conn_reason::complete;
    std::uint8_t pending = 0;                    ///< unanswered requests in the FIFO
    bool has_oldest = false;                     ///< the oldest unanswered request, when pending
    app_proto oldest_proto = app_proto::rpc;
    std::uint32_t oldest_procedure = 0;
    std::uint64_t held = 0;                      ///< bytes held for the unanswered requests
    std::uint32_t idle_ms = 0;
};

struct parser_snapshot {
    table_counters table;
    parser_totals totals;
    std::uint32_t size = 0, capacity = 0;
    std::uint32_t pool_chunks = 0, pool_free = 0;
    std::array<node_seen, node_watch::capacity> nodes{};  ///< the table's node_watch entries
    std::uint64_t nodes_untracked = 0;
    std::uint32_t now_ms = 0;           ///< the lcore's clock when it was taken (nodes' times are on it)
    std::vector<parser_conn_row> rows;  ///< sized by the caller: at most that many are filled
    std::uint32_t count = 0;            ///< rows filled
};

/// Copies `t` into `out` at `now_ms`; fills at most out.rows.size() rows.
/// No allocation. Called from: the table's lcore.
void take_snapshot(const parser_table& t, std::uint32_t now_ms, parser_snapshot& out) noexcept;

/// What the sender of direction `d` has sent (half_state).
half_state half_of(const tcp_follower& f, direction d) noexcept;

}  // namespace cg::dp::mirror
