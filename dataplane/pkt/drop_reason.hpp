// Why a frame was not forwarded: the classifier's and the router's verdicts
// share one list, and every drop is counted under exactly one reason
// (router/counters.hpp). The names are the ones the console, telemetry and
// Prometheus show.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace cg::dp {

/// Why a packet was not forwarded. Every drop is counted under one reason.
enum class drop_reason : std::uint8_t {
    truncated,             ///< frame shorter than its headers say (zero-length included)
    bad_l2,                ///< more than two VLAN tags
    not_ipv4,              ///< IPv6 or an ethertype other than IPv4/ARP
    bad_ip_header,         ///< version, IHL, total length, or a martian source address
    ip_fragment,           ///< fragments are not reassembled (docs/architecture.md)
    bad_l4_header,         ///< TCP data offset, short UDP/ICMP header
    bad_tcp_flags,         ///< SYN+FIN, SYN+RST, or no flag at all
    bad_arp,               ///< not Ethernet/IPv4 ARP
    not_for_us,            ///< destination MAC neither the port's nor broadcast
    icmp_not_echo,         ///< ICMP other than an echo request to a gateway address
    no_service,            ///< address/port not in the tables (requirements 2.2)
    unsupported_protocol,  ///< an IP protocol other than TCP, UDP, ICMP
    no_connection,         ///< TCP segment without SYN and without an entry (requirements 2.4)
    no_node,               ///< every node of the port has weight 0 (requirements 2.5)
    conn_table_full,       ///< the worker's table is at its configured size
    tx_full,               ///< the TX queue or TX ring did not take the packet
    ring_full,             ///< the dispatch ring to a worker was full
    standby,               ///< a flow's frame while this gateway is the standby: the active forwards
    count_
};
inline constexpr std::size_t drop_reason_count = static_cast<std::size_t>(drop_reason::count_);

inline constexpr std::array<std::string_view, drop_reason_count> drop_reason_names = {
    "truncated",    "bad_l2",        "not_ipv4",      "bad_ip_header", "ip_fragment",
    "bad_l4_header", "bad_tcp_flags", "bad_arp",      "not_for_us",
    "icmp_not_echo", "no_service",    "unsupported_protocol", "no_connection", "no_node",
    "conn_table_full", "tx_full",     "ring_full",     "standby",
};

}  // namespace cg::dp
