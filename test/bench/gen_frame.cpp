#include "gen_frame.hpp"

namespace cg::bench {

namespace {
void put16(std::uint8_t* p, std::uint16_t v) noexcept {
    p[0] = static_cast<std::uint8_t>(v >> 8);
    p[1] = static_cast<std::uint8_t>(v);
}
void put32(std::uint8_t* p, std::uint32_t v) noexcept {
    put16(p, static_cast<std::uint16_t>(v >> 16));
    put16(p + 2, static_cast<std::uint16_t>(v));
}
std::uint16_t get16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t get32(const std::uint8_t* p) noexcept { return std::uint32_t{get16(p)} << 16 | get16(p + 2); }
}  // namespace

std::uint8_t flags_of(pkt_type t) noexcept {
    switch (t) {
    case pkt_type::syn: return tcp_syn;
    case pkt_type::fin: return tcp_fin | tcp_ack;
    case pkt_type::rst: return tcp_rst | tcp_ack;
    case pkt_type::data:
    case pkt_type::malformed:
    case pkt_type::count_: break;
    }
    return tcp_psh | tcp_ack;
}

pkt_type type_of_flags(std::uint8_t f) noexcept {
    if (f & tcp_rst) return pkt_type::rst;
    if (f & tcp_syn) return pkt_type::syn;
    if (f & tcp_fin) return pkt_type::fin;
    return pkt_type::data;
}

frame_template::frame_template(const frame_params& p) noexcept : _size(p.size) {
    std::uint8_t* h = _hdr.data();
    std::memcpy(h, p.dst_mac.b.data(), 6);
    std::memcpy(h + 6, p.src_mac.b.data(), 6);
    put16(h + 12, 0x0800);
    std::uint8_t* ip = h + 14;
    ip[0] = 0x45;
    put16(ip + 2, static_cast<std::uint16_t>(p.size - 14));
    put16(ip + 6, 0x4000);  // DF
    ip[8] = 64;
    ip[9] = 6;
    put32(ip + 16, p.vip);
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += get16(ip + i);  // source and checksum are still 0
    _ip_sum = sum;
    std::uint8_t* tcp = ip + 20;
    put16(tcp + 2, p.dport);
    put32(tcp + 4, 1);  // sequence number
    tcp[12] = 5 << 4;   // data offset: 20 bytes
    put16(tcp + 14, 65535);
}

void make_malformed(std::uint8_t* buf, unsigned kind) noexcept {
    std::uint8_t* ip = buf + 14;
    switch (kind % malformed_kinds) {
    case 0: put16(ip + 2, static_cast<std::uint16_t>(get16(ip + 2) + 100)); break;
    case 1: ip[0] = 0x65; break;
    case 2: put16(ip + 6, 0x2000); break;
    case 3: ip[33] = tcp_syn | tcp_fin; break;
    default: ip[32] = 4 << 4; break;
    }
}

rx_status parse_frame(const std::uint8_t* p, std::uint32_t len, common::ipv4_addr vip, std::uint16_t dport,
                      rx_frame& out) noexcept {
    if (len < min_frame || get16(p + 12) != 0x0800) return rx_status::foreign;
    const std::uint8_t* ip = p + 14;
    const std::uint8_t* tcp = ip + 20;
    if (ip[9] != 6 || get32(ip + 16) != vip || get16(tcp + 2) != dport) return rx_status::foreign;
    out.dst_mac = mac_key(p);
    out.saddr = get32(ip + 12);
    out.sport = get16(tcp);
    out.tcp_flags = tcp[13];
    std::memcpy(&out.tsc, p + ts_off, 8);
    const bool syn_fin = (out.tcp_flags & (tcp_syn | tcp_fin)) == (tcp_syn | tcp_fin);
    if (ip[0] != 0x45 || get16(ip + 2) + 14u > len || (get16(ip + 6) & 0x3fff) || syn_fin || (tcp[12] >> 4) < 5)
        return rx_status::malformed;
    return rx_status::ok;
}

}  // namespace cg::bench
