// Builds test frames byte by byte: Ethernet (with optional VLAN tags),
// IPv4 (with options, fragments), TCP, UDP, ICMP echo, ARP. Checksums are
// correct so that captures of them open cleanly in tshark.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/net_types.hpp"

namespace cg::test {

using bytes = std::vector<std::uint8_t>;

struct frame_spec {
    common::mac_addr dst_mac{{0x02, 0, 0, 0, 0, 0x01}};
    common::mac_addr src_mac{{0x02, 0, 0, 0, 0, 0x10}};
    std::vector<std::uint16_t> vlans;  ///< VLAN ids, outermost first (0x8100 each)
    common::ipv4_addr src = 0xc6120a01;  // 198.18.10.1
    common::ipv4_addr dst = 0xc6120064;  // 198.18.0.100
    std::uint8_t proto = 6;
    std::uint16_t sport = 40000;
    std::uint16_t dport = 80;
    std::uint8_t tcp_flags = 0x02;  // SYN
    std::uint8_t ip_options = 0;    ///< bytes of IP options (multiple of 4)
    std::uint16_t frag = 0;         ///< flags+offset field (0x2000 = MF)
    std::uint8_t ttl = 64;
    std::string payload;
};

/// TCP (proto 6), UDP (17), ICMP echo request (1), or any other protocol
/// with `payload` as its body.
bytes make_ipv4(const frame_spec& s);

/// ARP request (op 1) or reply (op 2).
bytes make_arp(std::uint16_t op, const common::mac_addr& sender_mac, common::ipv4_addr sender_ip,
               const common::mac_addr& target_mac, common::ipv4_addr target_ip,
               const common::mac_addr& dst_mac = {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}});

}  // namespace cg::test
