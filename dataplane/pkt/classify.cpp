#include "dataplane/pkt/classify.hpp"

#include "dataplane/pkt/wire.hpp"

namespace cg::dp {

namespace {

// A source address no host may use: unspecified, loopback, multicast,
// broadcast. Tracking connections from them only fills the table.
bool martian_source(common::ipv4_addr a) noexcept {
    const std::uint8_t first = a >> 24;
    return a == 0 || first == 127 || (first & 0xf0) == 0xe0 || a == 0xffffffffu;
}

bool bad_tcp_flags(std::uint8_t f) noexcept {
    using namespace wire;
    if ((f & (tcp_syn | tcp_fin | tcp_rst | tcp_ack)) == 0) return true;  // null scan
    if ((f & tcp_syn) && (f & (tcp_fin | tcp_rst))) return true;
    return false;
}

}  // namespace

std::optional<drop_reason> classify(const std::uint8_t* p, std::uint32_t len, pkt_info& out) noexcept {
    using namespace wire;
    if (len < eth_len) return drop_reason::truncated;

    std::uint32_t off = 12;
    std::uint16_t type = load16(p + off);
    for (int tags = 0; type == ethertype_vlan || type == ethertype_qinq; ++tags) {
        if (tags == 2) return drop_reason::bad_l2;
        off += vlan_len;
        if (len < off + 2) return drop_reason::truncated;
        type = load16(p + off);
    }
    off += 2;
    out.l3_off = static_cast<std::uint16_t>(off);

    if (type == ethertype_arp) {
        if (len < off + arp_len) return drop_reason::truncated;
        const std::uint8_t* a = p + off;
        if (load16(a) != 1 || load16(a + 2) != ethertype_ipv4 || a[4] != 6 || a[5] != 4)
            return drop_reason::bad_arp;
        out.kind = pkt_kind::arp;
        return std::nullopt;
    }
    if (type != ethertype_ipv4) return drop_reason::not_ipv4;

    if (len < off + ipv4_min_len) return drop_reason::truncated;
    const std::uint8_t* ip = p + off;
    if ((ip[0] >> 4) != 4) return drop_reason::bad_ip_header;
    const std::uint32_t ihl = (ip[0] & 0x0f) * 4u;
    const std::uint32_t total = load16(ip + 2);
    if (ihl < ipv4_min_len || total < ihl) return drop_reason::bad_ip_header;
    if (len < off + total) return drop_reason::truncated;  // covers IHL past the frame too
    if (load16(ip + 6) & 0x3fff) return drop_reason::ip_fragment;  // MF set or offset != 0

    out.ip_len = static_cast<std::uint16_t>(total);
    out.key = {};
    out.key.saddr = load32(ip + 12);
    out.key.daddr = load32(ip + 16);
    out.key.proto = ip[9];
    if (martian_source(out.key.saddr)) return drop_reason::bad_ip_header;

    const std::uint32_t l4 = off + ihl;
    const std::uint32_t l4_len = total - ihl;
    out.l4_off = static_cast<std::uint16_t>(l4);
    switch (ip[9]) {
    case 6: {
        if (l4_len < tcp_min_len) return drop_reason::bad_l4_header;
        const std::uint32_t doff = (p[l4 + 12] >> 4) * 4u;
        if (doff < tcp_min_len || doff > l4_len) return drop_reason::bad_l4_header;
        out.tcp_flags = p[l4 + 13];
        if (bad_tcp_flags(out.tcp_flags)) return drop_reason::bad_tcp_flags;
        out.key.sport = load16(p + l4);
        out.key.dport = load16(p + l4 + 2);
        out.kind = pkt_kind::tcp;
        return std::nullopt;
    }
    case 17: {
        if (l4_len < udp_len) return drop_reason::bad_l4_header;
        const std::uint32_t ulen = load16(p + l4 + 4);
        if (ulen < udp_len || ulen > l4_len) return drop_reason::bad_l4_header;
        out.key.sport = load16(p + l4);
        out.key.dport = load16(p + l4 + 2);
        out.kind = pkt_kind::udp;
        return std::nullopt;
    }
    case 1:
        if (l4_len < icmp_min_len) return drop_reason::bad_l4_header;
        out.kind = pkt_kind::icmp;
        return std::nullopt;
    default:
        out.kind = pkt_kind::other_ip;
        return std::nullopt;
    }
}

}  // namespace cg::dp
