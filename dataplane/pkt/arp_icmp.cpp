#include "dataplane/pkt/arp_icmp.hpp"

#include <cstring>

#include "dataplane/pkt/wire.hpp"

namespace cg::dp {

using namespace wire;

namespace {
void set_mac(std::uint8_t* p, const common::mac_addr& m) noexcept { std::memcpy(p, m.b.data(), 6); }
common::mac_addr get_mac(const std::uint8_t* p) noexcept {
    common::mac_addr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
}
/// Destination <- old source, source <- ours.
void return_to_sender(std::uint8_t* frame, const common::mac_addr& our_mac) noexcept {
    std::memcpy(frame, frame + 6, 6);
    set_mac(frame + 6, our_mac);
}
}  // namespace

arp_view read_arp(const std::uint8_t* frame, const pkt_info& info) noexcept {
    const std::uint8_t* a = frame + info.l3_off;
    return {load16(a + 6), get_mac(a + 8), load32(a + 14), load32(a + 24)};
}

void make_arp_reply(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept {
    std::uint8_t* a = frame + info.l3_off;
    const std::uint32_t asked = load32(a + 24);
    return_to_sender(frame, our_mac);
    store16(a + 6, 2);
    std::memcpy(a + 18, a + 8, 10);  // target <- requester's MAC and IP
    set_mac(a + 8, our_mac);
    store32(a + 14, asked);
}

void make_icmp_echo_reply(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept {
    return_to_sender(frame, our_mac);
    std::uint8_t* ip = frame + info.l3_off;
    std::uint8_t tmp[4];
    std::memcpy(tmp, ip + 12, 4);
    std::memcpy(ip + 12, ip + 16, 4);
    std::memcpy(ip + 16, tmp, 4);
    ip[8] = 64;
    store16(ip + 10, 0);
    const std::size_t ihl = (ip[0] & 0x0f) * 4u;
    store16(ip + 10, inet_checksum(ip, ihl));

    std::uint8_t* icmp = frame + info.l4_off;
    icmp[0] = 0;  // echo reply
    store16(icmp + 2, 0);
    store16(icmp + 2, inet_checksum(icmp, info.ip_len - ihl));
}

std::uint32_t build_arp_request(std::uint8_t* buf, const common::mac_addr& our_mac, common::ipv4_addr our_ip,
                                common::ipv4_addr target) noexcept {
    std::memset(buf, 0, 60);
    std::memset(buf, 0xff, 6);
    set_mac(buf + 6, our_mac);
    store16(buf + 12, ethertype_arp);
    std::uint8_t* a = buf + eth_len;
    store16(a, 1);
    store16(a + 2, ethertype_ipv4);
    a[4] = 6;
    a[5] = 4;
    store16(a + 6, 1);
    set_mac(a + 8, our_mac);
    store32(a + 14, our_ip);
    store32(a + 24, target);  // target MAC stays zero
    return 60;
}

std::uint32_t build_gratuitous_arp(std::uint8_t* buf, const common::mac_addr& our_mac, common::ipv4_addr ip) noexcept {
    return build_arp_request(buf, our_mac, ip, ip);
}

}  // namespace cg::dp
