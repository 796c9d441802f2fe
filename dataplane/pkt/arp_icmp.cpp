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
/// Swaps n bytes at a and b.
void swap_bytes(std::uint8_t* a, std::uint8_t* b, std::size_t n) noexcept {
    std::uint8_t tmp[4];
    std::memcpy(tmp, a, n);
    std::memmove(a, b, n);
    std::memcpy(b, tmp, n);
}
/// The checksum of a TCP header without options or data (RFC 793's
/// pseudo-header: addresses, protocol, TCP length) behind IPv4 header `ip`.
void fill_tcp_checksum(const std::uint8_t* ip, std::uint8_t* tcp) noexcept {
    std::uint8_t pseudo[12 + tcp_min_len];
    std::memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = 6;
    store16(pseudo + 10, static_cast<std::uint16_t>(tcp_min_len));
    store16(tcp + 16, 0);
    std::memcpy(pseudo + 12, tcp, tcp_min_len);
    store16(tcp + 16, inet_checksum(pseudo, sizeof pseudo));
}
/// Source and destination address swapped, TTL 64, header checksum anew.
void return_ipv4(std::uint8_t* ip) noexcept {
    swap_bytes(ip + 12, ip + 16, 4);
    ip[8] = 64;
    store16(ip + 10, 0);
    store16(ip + 10, inet_checksum(ip, (ip[0] & 0x0f) * 4u));
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
    return_ipv4(ip);
    const std::size_t ihl = (ip[0] & 0x0f) * 4u;

    std::uint8_t* icmp = frame + info.l4_off;
    icmp[0] = 0;  // echo reply
    store16(icmp + 2, 0);
    store16(icmp + 2, inet_checksum(icmp, info.ip_len - ihl));
}

std::uint32_t make_tcp_reset(std::uint8_t* frame, const pkt_info& info, const common::mac_addr& our_mac) noexcept {
    std::uint8_t* ip = frame + info.l3_off;
    std::uint8_t* tcp = frame + info.l4_off;
    const std::uint32_t ihl = (ip[0] & 0x0f) * 4u;
    const std::uint32_t doff = (tcp[12] >> 4) * 4u;
    const std::uint8_t flags = tcp[13];
    std::uint32_t seg_len = info.ip_len - ihl - doff;
    if (flags & tcp_syn) ++seg_len;
    if (flags & tcp_fin) ++seg_len;
    const std::uint32_t their_seq = load32(tcp + 4), their_ack = load32(tcp + 8);

    return_to_sender(frame, our_mac);
    // A header without options: the TCP header moves up to right after it.
    ip[0] = 0x45;
    store16(ip + 2, static_cast<std::uint16_t>(ipv4_min_len + tcp_min_len));
    store16(ip + 4, 0);       // id
    store16(ip + 6, 0x4000);  // DF, no fragment offset
    std::uint8_t* out = ip + ipv4_min_len;
    std::memmove(out, tcp, 4);  // ports, swapped below
    swap_bytes(out, out + 2, 2);
    if (flags & tcp_ack) {
        store32(out + 4, their_ack);
        store32(out + 8, 0);
        out[13] = tcp_rst;
    } else {
        store32(out + 4, 0);
        store32(out + 8, their_seq + seg_len);
        out[13] = tcp_rst | tcp_ack;
    }
    out[12] = 5 << 4;
    store16(out + 14, 0);  // window
    store16(out + 16, 0);  // checksum, below
    store16(out + 18, 0);  // urgent pointer
    return_ipv4(ip);
    fill_tcp_checksum(ip, out);
    return static_cast<std::uint32_t>(info.l3_off + ipv4_min_len + tcp_min_len);
}

std::uint32_t build_tcp_tickle(std::uint8_t* buf, const common::mac_addr& to, const common::mac_addr& our_mac,
                               const common::flow_key& k) noexcept {
    std::memset(buf, 0, 60);
    set_mac(buf, to);
    set_mac(buf + 6, our_mac);
    store16(buf + 12, ethertype_ipv4);
    std::uint8_t* ip = buf + eth_len;
    ip[0] = 0x45;
    store16(ip + 2, static_cast<std::uint16_t>(ipv4_min_len + tcp_min_len));
    store16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 6;
    store32(ip + 12, k.daddr);  // from the cluster address
    store32(ip + 16, k.saddr);  // to the client
    store16(ip + 10, inet_checksum(ip, ipv4_min_len));
    std::uint8_t* tcp = ip + ipv4_min_len;
    store16(tcp, k.dport);
    store16(tcp + 2, k.sport);
    // seq 0 and ack 0: out of the client's window, whatever its state.
    tcp[12] = 5 << 4;
    tcp[13] = tcp_ack;
    fill_tcp_checksum(ip, tcp);
    return static_cast<std::uint32_t>(eth_len + ipv4_min_len + tcp_min_len);
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
