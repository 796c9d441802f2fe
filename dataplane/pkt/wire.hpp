// Reading and writing header fields in network byte order, without
// alignment assumptions (frames may start at any offset after VLAN tags).
#pragma once

#include <cstdint>
#include <cstring>

namespace cg::dp::wire {

inline std::uint16_t load16(const std::uint8_t* p) noexcept {
    std::uint16_t v;
    std::memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}
inline std::uint32_t load32(const std::uint8_t* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}
inline void store16(std::uint8_t* p, std::uint16_t v) noexcept {
    v = __builtin_bswap16(v);
    std::memcpy(p, &v, 2);
}
inline void store32(std::uint8_t* p, std::uint32_t v) noexcept {
    v = __builtin_bswap32(v);
    std::memcpy(p, &v, 4);
}

/// RFC 1071 one's complement sum, folded and inverted.
inline std::uint16_t inet_checksum(const std::uint8_t* p, std::size_t n) noexcept {
    std::uint32_t sum = 0;
    for (; n > 1; p += 2, n -= 2) sum += load16(p);
    if (n) sum += static_cast<std::uint32_t>(*p) << 8;
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return static_cast<std::uint16_t>(~sum);
}

inline constexpr std::size_t eth_len = 14;
inline constexpr std::size_t vlan_len = 4;
inline constexpr std::size_t ipv4_min_len = 20;
inline constexpr std::size_t tcp_min_len = 20;
inline constexpr std::size_t udp_len = 8;
inline constexpr std::size_t icmp_min_len = 8;
inline constexpr std::size_t arp_len = 28;

inline constexpr std::uint16_t ethertype_ipv4 = 0x0800;
inline constexpr std::uint16_t ethertype_arp = 0x0806;
inline constexpr std::uint16_t ethertype_vlan = 0x8100;
inline constexpr std::uint16_t ethertype_qinq = 0x88a8;

inline constexpr std::uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_ack = 0x10;

}  // namespace cg::dp::wire
