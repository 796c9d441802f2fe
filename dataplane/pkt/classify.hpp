// Packet classifier: from frame bytes to what the router needs to know.
// Pure function of the bytes: no tables, no state, no I/O.
#pragma once

#include <cstdint>
#include <optional>

#include "common/flow_key.hpp"
#include "dataplane/pkt/drop_reason.hpp"

namespace cg::dp {

enum class pkt_kind : std::uint8_t { tcp, udp, icmp, other_ip, arp };

struct pkt_info {
    pkt_kind kind = pkt_kind::other_ip;
    std::uint16_t l3_off = 0;      ///< offset of the IPv4 or ARP header (after VLAN tags)
    std::uint16_t l4_off = 0;      ///< offset of the TCP/UDP/ICMP header
    std::uint16_t ip_len = 0;      ///< IPv4 total length
    std::uint8_t tcp_flags = 0;
    common::flow_key key;          ///< 5-tuple for tcp/udp; addresses and proto for icmp/other
};

/// Classifies one frame. On success fills `out` and returns nullopt; on a
/// malformed or unsupported frame returns the drop reason. Never reads
/// past `len`. Thread-safety: reentrant. Called from: worker lcores, fuzzers.
std::optional<drop_reason> classify(const std::uint8_t* frame, std::uint32_t len, pkt_info& out) noexcept;

}  // namespace cg::dp
