// `show mirror`'s reply from what the parser lcores copied of their tables
// (parser_request.hpp) and the SPAN reader's counters: counters summed over
// the lcores under "group.name" names (the tables' own name arrays), and the
// connections of every lcore merged most recently used first, with their
// names from msg_names.
//
// Thread-safety: pure. Called from: the controller (control thread), tests.
#pragma once

#include <cstdint>
#include <span>

#include "common/ctl_msg.hpp"
#include "dataplane/ctl/parser_request.hpp"

namespace cg::dp {

/// The reply for `lcores` (one snapshot per parser lcore, in
/// mirror_parser.lcores order), with at most `max_conns` connections.
common::api::mirror_rep mirror_view(std::span<const mirror::parser_snapshot* const> lcores,
                                    const std::array<std::uint64_t, span_event_count>& span, std::uint32_t max_conns);
/// Each node the parser lcores saw (mirror_rep::nodes), merged by address.
std::vector<common::api::mirror_node_view> node_views(std::span<const mirror::parser_snapshot* const> lcores);

/// "nfs3 READ", "smb2 WRITE", "rpc GETPORT" (or the number when it has no name).
std::string request_name(mirror::app_proto proto, std::uint32_t procedure, mirror::port_proto speaks);

}  // namespace cg::dp
