// `restore plans`' reply from what the parser lcores found of one node's
// connections (parser_request.hpp, mirror/restore_batch.hpp): the plans of
// every lcore merged most recently used first (by the age of their last
// frame), at most `max`; the verdicts summed, each by its name, and the
// incomplete ones by reason ("incomplete.joined_mid_stream").
//
// Thread-safety: pure. Called from: the controller (control thread), tests.
#pragma once

#include <cstdint>
#include <span>

#include "common/ctl_msg.hpp"
#include "dataplane/mirror/restore_batch.hpp"

namespace cg::dp {

/// Replay bytes the controller makes room for per connection asked.
inline constexpr std::size_t restore_replay_per_conn = 8 * 1024;

common::api::restore_plans_rep restore_plans_view(common::ipv4_addr node, const common::mac_addr& mac,
                                                  std::span<const mirror::restore_batch* const> lcores,
                                                  std::uint32_t max);

}  // namespace cg::dp
