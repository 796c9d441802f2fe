// The generator's frames: Ethernet + IPv4 (20 bytes) + TCP (20 bytes) + a
// payload that starts with the TSC time stamp of transmission. Built from a
// template with two stores and an incremental header checksum per packet,
// and parsed back on reception. Pure byte work, no EAL.
//
// The TCP checksum is left 0: nothing on the path checks it (the gateway
// routes on the 5-tuple and flags, testpmd does not look), and computing it
// would make the generator, not the gateway, the bottleneck.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>

#include "common/net_types.hpp"
#include "flow_plan.hpp"

namespace cg::bench {

inline constexpr std::uint32_t hdr_len = 14 + 20 + 20;
inline constexpr std::uint32_t ts_off = hdr_len;                ///< offset of the 8-byte time stamp
inline constexpr std::uint32_t min_frame = hdr_len + 8;         ///< 62
inline constexpr std::uint32_t max_frame = 1514;

inline constexpr std::uint8_t tcp_fin = 0x01, tcp_syn = 0x02, tcp_rst = 0x04, tcp_psh = 0x08, tcp_ack = 0x10;

/// TCP flags the generator sends for each packet type (malformed: a data
/// segment, corrupted afterwards).
std::uint8_t flags_of(pkt_type t) noexcept;
/// The packet type a received frame's TCP flags stand for.
pkt_type type_of_flags(std::uint8_t f) noexcept;

struct frame_params {
    common::mac_addr dst_mac;   ///< the gateway port's MAC
    common::mac_addr src_mac;   ///< the generator port's MAC
    common::ipv4_addr vip = 0;  ///< cluster address
    std::uint16_t dport = 80;
    std::uint16_t size = 64;    ///< frame length without FCS, min_frame .. max_frame
};

class frame_template {
public:
    explicit frame_template(const frame_params& p) noexcept;

    /// Writes a whole frame of size() bytes (headers, time stamp; the rest
    /// of the payload is left as it is) into `buf`.
    void write(std::uint8_t* buf, flow_tuple t, std::uint8_t tcp_flags, std::uint64_t tsc) const noexcept {
        std::memcpy(buf, _hdr.data(), hdr_len);
        const std::uint32_t sa = __builtin_bswap32(t.saddr);
        std::memcpy(buf + 26, &sa, 4);
        std::uint32_t sum = _ip_sum + (t.saddr >> 16) + (t.saddr & 0xffff);
        sum = (sum & 0xffff) + (sum >> 16);
        sum = (sum & 0xffff) + (sum >> 16);
        const auto csum = __builtin_bswap16(static_cast<std::uint16_t>(~sum));
        std::memcpy(buf + 24, &csum, 2);
        const auto sp = __builtin_bswap16(t.sport);
        std::memcpy(buf + 34, &sp, 2);
        buf[47] = tcp_flags;
        std::memcpy(buf + ts_off, &tsc, 8);
    }
    std::uint16_t size() const noexcept { return _size; }

private:
    std::array<std::uint8_t, hdr_len> _hdr{};
    std::uint32_t _ip_sum = 0;  ///< one's complement sum of the IP header without source address and checksum
    std::uint16_t _size;
};

/// Kinds of malformed frames, each dropped by the gateway for its own
/// reason (dataplane/classify.cpp): IP total length past the frame
/// (truncated), IP version 6 (bad_ip_header), a fragment (ip_fragment),
/// SYN+FIN (bad_tcp_flags), TCP data offset below 5 (bad_l4_header).
inline constexpr unsigned malformed_kinds = 5;
/// Corrupts a frame written by frame_template into malformed kind `kind`.
void make_malformed(std::uint8_t* buf, unsigned kind) noexcept;

struct rx_frame {
    std::uint64_t dst_mac = 0;  ///< the 6 MAC bytes in a 64-bit word (mac_key)
    std::uint32_t saddr = 0;
    std::uint16_t sport = 0;
    std::uint8_t tcp_flags = 0;
    std::uint64_t tsc = 0;
};

enum class rx_status : std::uint8_t {
    ok,         ///< a well-formed generator frame
    malformed,  ///< a generator frame whose headers are broken (a malformed frame came back)
    foreign,    ///< not a TCP frame to the cluster address and port
};

/// Reads a received frame. Thread-safety: reentrant.
rx_status parse_frame(const std::uint8_t* p, std::uint32_t len, common::ipv4_addr vip, std::uint16_t dport,
                      rx_frame& out) noexcept;

inline std::uint64_t mac_key(const std::uint8_t* p) noexcept {
    std::uint64_t k = 0;
    std::memcpy(&k, p, 6);
    return k;
}
inline std::uint64_t mac_key(const common::mac_addr& m) noexcept { return mac_key(m.b.data()); }

}  // namespace cg::bench
