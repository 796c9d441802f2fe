// `restore plans`' reply from what one parser lcore found of one node's
// connections in one page of its table (parser_request.hpp,
// mirror/restore_batch.hpp): the plans most recently used first (by the age
// of their last frame), the verdicts each by its name, and the incomplete
// ones by reason ("incomplete.joined_mid_stream").
//
// Thread-safety: pure. Called from: the controller (control thread), tests.
#pragma once

#include <cstdint>

#include "common/ctl_msg.hpp"
#include "dataplane/mirror/restore_batch.hpp"

namespace cg::dp {

/// Replay bytes the controller makes room for per connection asked.
inline constexpr std::size_t restore_replay_per_conn = 8 * 1024;

common::api::restore_plans_rep restore_plans_view(common::ipv4_addr node, const common::mac_addr& mac,
                                                  std::uint16_t lcore, std::uint16_t lcores,
                                                  const mirror::restore_batch& batch);

}  // namespace cg::dp
