#include "frames.hpp"

#include "dataplane/pkt/wire.hpp"

namespace cg::test {

using namespace dp::wire;

namespace {

void put16(bytes& b, std::uint16_t v) {
    b.push_back(static_cast<std::uint8_t>(v >> 8));
    b.push_back(static_cast<std::uint8_t>(v));
}
void put32(bytes& b, std::uint32_t v) {
    put16(b, static_cast<std::uint16_t>(v >> 16));
    put16(b, static_cast<std::uint16_t>(v));
}
void put_mac(bytes& b, const common::mac_addr& m) { b.insert(b.end(), m.b.begin(), m.b.end()); }

void eth_header(bytes& b, const common::mac_addr& dst, const common::mac_addr& src,
                const std::vector<std::uint16_t>& vlans, std::uint16_t type) {
    put_mac(b, dst);
    put_mac(b, src);
    for (auto v : vlans) {
        put16(b, ethertype_vlan);
        put16(b, v);
    }
    put16(b, type);
}

/// Checksum of a TCP/UDP segment with its IPv4 pseudo-header.
std::uint16_t l4_checksum(const frame_spec& s, const std::uint8_t* seg, std::size_t len) {
    bytes pseudo;
    put32(pseudo, s.src);
    put32(pseudo, s.dst);
    put16(pseudo, s.proto);
    put16(pseudo, static_cast<std::uint16_t>(len));
    pseudo.insert(pseudo.end(), seg, seg + len);
    return inet_checksum(pseudo.data(), pseudo.size());
}

}  // namespace

bytes make_ipv4(const frame_spec& s) {
    bytes l4;
    switch (s.proto) {
    case 6:
        put16(l4, s.sport);
        put16(l4, s.dport);
        put32(l4, 1000);  // seq
        put32(l4, (s.tcp_flags & tcp_ack) ? 2000 : 0);
        l4.push_back(5 << 4);
        l4.push_back(s.tcp_flags);
        put16(l4, 65535);
        put16(l4, 0);
        put16(l4, 0);
        break;
    case 17:
        put16(l4, s.sport);
        put16(l4, s.dport);
        put16(l4, static_cast<std::uint16_t>(udp_len + s.payload.size()));
        put16(l4, 0);
        break;
    case 1:
        l4 = {8, 0, 0, 0, 0x12, 0x34, 0, 1};
        break;
    default: break;
    }
    l4.insert(l4.end(), s.payload.begin(), s.payload.end());
    if (s.proto == 6) store16(l4.data() + 16, l4_checksum(s, l4.data(), l4.size()));
    if (s.proto == 17) store16(l4.data() + 6, l4_checksum(s, l4.data(), l4.size()));
    if (s.proto == 1) store16(l4.data() + 2, inet_checksum(l4.data(), l4.size()));

    bytes b;
    eth_header(b, s.dst_mac, s.src_mac, s.vlans, ethertype_ipv4);
    const std::size_t ip_off = b.size();
    const std::size_t ihl = ipv4_min_len + s.ip_options;
    b.push_back(static_cast<std::uint8_t>(0x40 | (ihl / 4)));
    b.push_back(0);
    put16(b, static_cast<std::uint16_t>(ihl + l4.size()));
    put16(b, 0x1234);
    put16(b, s.frag);
    b.push_back(s.ttl);
    b.push_back(s.proto);
    put16(b, 0);
    put32(b, s.src);
    put32(b, s.dst);
    for (int i = 0; i < s.ip_options; ++i) b.push_back(1);  // NOP options
    store16(b.data() + ip_off + 10, inet_checksum(b.data() + ip_off, ihl));
    b.insert(b.end(), l4.begin(), l4.end());
    if (b.size() < 60) b.resize(60, 0);  // Ethernet minimum, as a NIC would pad
    return b;
}

bytes make_arp(std::uint16_t op, const common::mac_addr& sender_mac, common::ipv4_addr sender_ip,
               const common::mac_addr& target_mac, common::ipv4_addr target_ip, const common::mac_addr& dst_mac) {
    bytes b;
    eth_header(b, dst_mac, sender_mac, {}, ethertype_arp);
    put16(b, 1);
    put16(b, ethertype_ipv4);
    b.push_back(6);
    b.push_back(4);
    put16(b, op);
    put_mac(b, sender_mac);
    put32(b, sender_ip);
    put_mac(b, target_mac);
    put32(b, target_ip);
    b.resize(60, 0);
    return b;
}

}  // namespace cg::test
