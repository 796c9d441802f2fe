// A connection table in a file: what the console's `save connections` writes
// and `load connections` reads, so that an operator can carry a gateway's
// connections to another gateway (or to the same one after a restart) by
// hand, and a benchmark can time the bulk requests on their own.
//
//   magic u32 "CGCT" | version u16 | reserved u16 (0) | count u32 | crc u32
//   count records, 18 bytes each: api::conn_record in the control API's codec
//
// All little-endian; crc is the CRC-32C (common/crc32c.hpp) of the records.
// A file that is shorter or longer than its count says, not ours, of
// another version or whose checksum does not match is refused whole.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "ctl_msg.hpp"

namespace cg::common {

inline constexpr std::uint32_t conn_file_magic = 0x54434743;  // "CGCT" read as little-endian u32
inline constexpr std::uint16_t conn_file_version = 1;
inline constexpr std::size_t conn_file_header = 16;
inline constexpr std::size_t conn_file_record = 18;

/// The whole file for these records.
std::vector<std::uint8_t> encode_conn_file(std::span<const api::conn_record> conns);
/// The records of a whole file, or why it cannot be used ("torn: 40 of 52
/// bytes", "checksum mismatch ...", "version 2: this build reads version 1").
/// Never throws.
std::variant<std::vector<api::conn_record>, std::string> decode_conn_file(std::span<const std::uint8_t> file);

}  // namespace cg::common
