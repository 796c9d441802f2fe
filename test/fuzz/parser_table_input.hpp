// The input format of fuzz_parser_table, shared with fuzz_seeds so that the
// seed corpus holds whole sessions (handshakes, records, FINs) of a few
// connections and the fuzzer starts deep in the parser, not at the
// classifier's edge.
//
// An input is records, each a 9-byte header and a payload; each record is
// one frame of one of four connections (client 198.18.0.10, port 40000 + i,
// to 198.18.0.11 at an NFS, SMB, portmapper or HTTP port):
//   u8  control: bits 0-1 the connection; bit 2 the server sends it;
//                bit 3 SYN options (MSS, SACK, timestamps, window scale);
//                bits 4-5 the ISN generation (another one: the 4-tuple's
//                next connection); bits 6-7 a clock step before the frame
//                (clock_steps), after which the table is aged
//   u8  TCP flags
//   i24 seq: the first byte's offset from the sender's ISN + 1 (little endian)
//   i24 ack: acknowledged offset of the peer's stream
//   u8  payload length (clamped to what is left of the input)
// then the payload.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "support/mirror_session.hpp"

namespace cg::fuzz::table_input {

inline constexpr std::size_t header = 9;
inline constexpr std::array<std::uint16_t, 4> server_ports = {2049, 445, 111, 80};
/// Around the harness's timers (FIN 2 s, stale 30 s).
inline constexpr std::array<std::uint32_t, 4> clock_steps = {0, 1, 2'500, 40'000};

inline constexpr std::uint8_t ctl_conn_mask = 0x03;
inline constexpr std::uint8_t ctl_from_server = 0x04;
inline constexpr std::uint8_t ctl_syn_options = 0x08;
inline constexpr unsigned ctl_gen_shift = 4, ctl_step_shift = 6;

/// Connection `conn` (0-3) in its generation `gen` (0-3).
inline test::mirror::conn_spec spec(unsigned conn, unsigned gen) {
    test::mirror::conn_spec c;
    c.client_port = static_cast<std::uint16_t>(40000 + conn);
    c.server_port = server_ports[conn & 3];
    c.client_isn = 1000 + (conn << 24) + (gen << 30);
    c.server_isn = 0xfffff000u - (conn << 24) + (gen << 29);
    return c;
}

inline void put24(std::vector<std::uint8_t>& out, std::int64_t v) {
    const auto u = static_cast<std::uint32_t>(v);
    out.push_back(static_cast<std::uint8_t>(u));
    out.push_back(static_cast<std::uint8_t>(u >> 8));
    out.push_back(static_cast<std::uint8_t>(u >> 16));
}

/// Appends segment `s` of connection `conn`, generation `gen`, after clock
/// step `step` (used by fuzz_seeds). A payload longer than 255 bytes
/// becomes several records.
inline void append(std::vector<std::uint8_t>& out, unsigned conn, unsigned gen, unsigned step,
                   const test::mirror::seg& s) {
    std::size_t at = 0;
    do {
        const std::size_t n = std::min<std::size_t>(255, s.payload.size() - at);
        const bool first = at == 0, last = at + n == s.payload.size();
        out.push_back(static_cast<std::uint8_t>((conn & ctl_conn_mask) |
                                                (s.dir == dp::mirror::direction::to_client ? ctl_from_server : 0) |
                                                (first && !s.options.empty() ? ctl_syn_options : 0) |
                                                ((gen & 3) << ctl_gen_shift) | ((first ? step & 3 : 0) << ctl_step_shift)));
        // A SYN on the first piece only, a FIN on the last.
        out.push_back(static_cast<std::uint8_t>(s.flags & ~(first ? 0 : test::mirror::SYN) & ~(last ? 0 : test::mirror::FIN)));
        put24(out, s.off + static_cast<std::int64_t>(at));
        put24(out, s.ack);
        out.push_back(static_cast<std::uint8_t>(n));
        out.insert(out.end(), s.payload.begin() + static_cast<std::ptrdiff_t>(at),
                   s.payload.begin() + static_cast<std::ptrdiff_t>(at + n));
        at += n;
    } while (at < s.payload.size());
}

}  // namespace cg::fuzz::table_input
