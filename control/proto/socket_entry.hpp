// One socket of a node toward a cluster address, as the node's kernel has
// it: the unit of the shadow connection table (requirements 5.3). nodeagent reads
// them (control/nodeagent/shadow_table.hpp) and sends them to a gateway's
// controld (shadow_msg.hpp), which puts the connections back into a
// gatewayd that lost its table.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <string_view>

#include "common/net_types.hpp"
#include "common/wire_fields.hpp"

namespace cg::control::shadow {

/// The kernel's socket states (include/net/tcp_states.h), as sock_diag
/// reports them. TCP uses all but `close`; a UDP socket is `close` when it is
/// only bound and `established` when it is connected.
enum class sock_state : std::uint8_t {
    established = 1,
    syn_sent = 2,
    syn_recv = 3,
    fin_wait1 = 4,
    fin_wait2 = 5,
    time_wait = 6,
    close = 7,
    close_wait = 8,
    last_ack = 9,
    listen = 10,
    closing = 11,
};

/// "ESTABLISHED", "SYN_RECV", ... as `ss` prints them; "?" for another number.
constexpr std::string_view state_name(std::uint8_t s) {
    constexpr std::string_view names[] = {"?",         "ESTABLISHED", "SYN_SENT",   "SYN_RECV",
                                          "FIN_WAIT1", "FIN_WAIT2",   "TIME_WAIT",  "CLOSE",
                                          "CLOSE_WAIT", "LAST_ACK",   "LISTEN",     "CLOSING"};
    return s < std::size(names) ? names[s] : names[0];
}

struct socket_entry {
    std::uint8_t proto = 0;  ///< 6 (TCP) or 17 (UDP)
    std::uint8_t state = 0;  ///< a sock_state number
    common::ipv4_addr local = 0;   ///< a cluster address, or 0.0.0.0 for a socket bound to every address
    std::uint16_t local_port = 0;
    common::ipv4_addr remote = 0;  ///< 0 for a listener and for an unconnected UDP socket
    std::uint16_t remote_port = 0;
    CG_FIELDS(s.proto, s.state, s.local, s.local_port, s.remote, s.remote_port)
    friend bool operator==(const socket_entry&, const socket_entry&) = default;
    friend auto operator<=>(const socket_entry&, const socket_entry&) = default;
};

/// Bytes one entry takes on the wire (wire_codec.hpp: fixed-width fields).
inline constexpr std::size_t entry_wire_size = 1 + 1 + 4 + 2 + 4 + 2;

}  // namespace cg::control::shadow
