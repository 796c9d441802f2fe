// The nodes' shadow tables (their own sockets toward the cluster addresses,
// shadow_query.hpp) turned into the connection entries a gatewayd that lost
// its tables gets back (bulk insert, ctl_msg.hpp). Pure: no I/O.
//
// The rules, in the order they apply to each socket:
//  - only connections: a listener, a socket that only sends (SYN_SENT) or a
//    bound, unconnected UDP socket names no client, and is skipped;
//  - a socket whose local address is not one of the clusters asked about is
//    not the cluster's (skipped);
//  - the state as the router keeps it: ESTABLISHED and SYN_RECV are ACTIVE
//    (the client's next segment is on its way), every closing state is FIN,
//    so the FIN timer ends it; a connected UDP socket is ACTIVE;
//  - a flow two nodes both claim (a node that restarted and still has the
//    old socket in TIME_WAIT, for one) goes to the node where it is ACTIVE,
//    else to the first node that named it; counted as a conflict.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/ctl_msg.hpp"
#include "control/proto/socket_entry.hpp"

namespace cg::control {

/// One node's answer: its address (the node the flows go to) and its sockets.
struct node_sockets {
    common::ipv4_addr node = 0;
    std::vector<shadow::socket_entry> sockets;
};

struct merged_conns {
    std::vector<common::api::conn_record> conns;
    std::uint64_t not_connections = 0;  ///< listeners, SYN_SENT, unconnected UDP
    std::uint64_t other_address = 0;    ///< a local address that is no cluster asked about
    std::uint64_t conflicts = 0;        ///< flows two nodes claimed
};

merged_conns merge_shadow(std::span<const node_sockets> answers, std::span<const common::ipv4_addr> clusters);

}  // namespace cg::control
