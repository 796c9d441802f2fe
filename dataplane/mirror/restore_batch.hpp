// The restore plans of one node's connections in one parser table
// (requirements 6.4; restore_plan.hpp): what a failed node's spare would be
// asked to carry on, most recently used first, and how many of the node's
// connections cannot be, by reason. The node is named by its MAC address
// (parser_table::server_mac), since the gateway forwards to nodes by MAC.
//
// The caller sizes `rows` and `replay` (on the control thread); the parser
// lcore fills them between two bursts without allocating. A restorable
// connection that finds no row left, or no room for its replay, is counted
// (`no_room`), not listed.
//
// Called from: the parser lcore (parser_job), tests.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "common/net_types.hpp"
#include "common/tcp_repair_params.hpp"
#include "dataplane/mirror/parser_table.hpp"
#include "dataplane/mirror/restore_plan.hpp"

namespace cg::dp::mirror {

struct restore_row {
    common::tcp_repair_params params;
    std::uint32_t replay_at = 0, replay_len = 0;  ///< in restore_batch::replay
    std::uint8_t replayed = 0;                    ///< requests in it
};

struct restore_batch {
    std::vector<restore_row> rows;      ///< sized by the caller; the first `n_rows` are filled
    std::uint32_t n_rows = 0;
    std::vector<std::uint8_t> replay;   ///< sized by the caller; the first `replay_used` bytes are filled
    std::uint32_t replay_used = 0;
    std::uint32_t conns = 0;            ///< the node's connections looked at
    std::array<std::uint32_t, restore_verdict_count> verdicts{};
    std::array<std::uint32_t, conn_reason_count> incomplete{};  ///< the incomplete ones, by reason
    std::uint32_t no_room = 0;          ///< restorable, not listed: no row or replay room left
};

/// Adds the plans of `node`'s connections in `t` at `now_ms` to `out`.
void take_restore_batch(const parser_table& t, const common::mac_addr& node, std::uint32_t now_ms,
                        restore_batch& out) noexcept;

}  // namespace cg::dp::mirror
