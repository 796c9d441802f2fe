// The frames the gateway answers with: ARP and ICMP echo for its own
// addresses and its cluster addresses (requirements 2.2), the TCP reset for a
// connection nobody knows, and the ARP requests that resolve node MACs and
// announce the cluster addresses. Replies are written in place over the
// request. Pure functions of bytes.
#pragma once

#include <cstdint>

#include "common/net_types.hpp"
#include "dataplane/pkt/classify.hpp"

namespace cg::dp {

struct arp_view {
    std::uint16_t op;
    common::mac_addr sender_mac;
    common::ipv4_addr sender_ip;
    common::ipv4_addr target_ip;
};

arp_view read_arp(const std::uint8_t* frame, const pkt_info& info) noexcept;

/// Turns an ARP request into the reply that says `our_mac` has the target address.
void make_arp_reply(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept;

/// Turns an ICMP echo request into its reply (TTL 64, checksums recomputed).
void make_icmp_echo_reply(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept;

/// Turns a TCP segment into the reset its receiver sends for a connection it
/// has no record of (RFC 793 "Reset Generation", as Linux's
/// tcp_v4_send_reset): addresses and ports swapped, no options, no data;
/// for a segment with ACK, RST with seq = its ack (the sender's RCV.NXT,
/// which RFC 5961 accepts at once); without ACK, RST|ACK with seq 0 and ack =
/// its seq + its length (SYN and FIN count one). The segment must not be a
/// RST. Returns the reset's frame length (VLAN tags kept).
std::uint32_t make_tcp_reset(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept;

/// Writes into `buf` (at least 60 bytes) a tickle for the client of
/// connection `k` (client -> cluster address): a bare ACK from the cluster
/// address and port, sequence and acknowledgement 0, out of any window, to
/// MAC `to`. The client answers it with an ACK that carries its own
/// sequence numbers (dataplane/router/failed_sweep.hpp). Returns the frame
/// length (54: the NIC pads).
std::uint32_t build_tcp_tickle(std::uint8_t* buf, const common::mac_addr& to, const common::mac_addr& our_mac,
                               const common::flow_key& k) noexcept;

/// Writes a broadcast ARP request "who has `target`" into `buf` (at least
/// 60 bytes, the minimum Ethernet frame). Returns the frame length.
std::uint32_t build_arp_request(std::uint8_t* buf, const common::mac_addr& our_mac, common::ipv4_addr our_ip,
                                common::ipv4_addr target) noexcept;

/// Writes a gratuitous ARP for `ip` (a broadcast request whose sender and
/// target address are both `ip`, RFC 5227's announcement) into `buf` (at
/// least 60 bytes): switches and hosts move `ip` to `our_mac`. Returns the
/// frame length.
std::uint32_t build_gratuitous_arp(std::uint8_t* buf, const common::mac_addr& our_mac, common::ipv4_addr ip) noexcept;

}  // namespace cg::dp
