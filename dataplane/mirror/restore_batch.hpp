// The restore plans of one node's connections in one parser table
// (requirements 6.4; restore_plan.hpp): what a failed node's spare would be
// asked to carry on, and how many of the node's connections cannot be, by
// reason. The node is named by its MAC address (parser_table::server_mac),
// since the gateway forwards to nodes by MAC.
//
// A batch is one page of a walk over the table's slots (for_each_slot): it
// starts at slot `from`, looks at `scan` slots at most (so that one batch
// holds the parser lcore for a bounded time), and stops early at the first
// restorable connection that finds no row or no replay room left; `next` is
// where the next batch starts, `done` says the walk reached the table's end.
// The rows are in slot order: the reader sorts them (most recently used
// first, by ts_age_ms) once it has all the pages.
//
// The caller sizes `rows` (at least 1) and `replay` on the control thread;
// the parser lcore fills them between two bursts without allocating.
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
    std::uint32_t from = 0;             ///< in: the first slot to look at
    std::uint32_t scan = 16384;         ///< in: slots to look at, at most
    std::vector<restore_row> rows;      ///< sized by the caller; the first `n_rows` are filled
    std::uint32_t n_rows = 0;
    std::vector<std::uint8_t> replay;   ///< sized by the caller; the first `replay_used` bytes are filled
    std::uint32_t replay_used = 0;
    std::uint32_t conns = 0;            ///< the node's connections looked at
    std::array<std::uint32_t, restore_verdict_count> verdicts{};
    std::array<std::uint32_t, conn_reason_count> incomplete{};  ///< the incomplete ones, by reason
    std::uint32_t next = 0;             ///< out: where the next batch starts
    bool done = false;                  ///< out: no slot is left after `next`
};

/// Adds the plans of `node`'s connections in `t` at `now_ms` to `out`, from slot out.from on.
void take_restore_batch(const parser_table& t, const common::mac_addr& node, std::uint32_t now_ms,
                        restore_batch& out) noexcept;

}  // namespace cg::dp::mirror
