// CRC-32C (Castagnoli), as SSE4.2's crc32 instruction computes it: the
// checksum of clustergate's own files (controld's escalation state and
// backups, connection table files).
#pragma once

#include <cstdint>
#include <span>

namespace cg::common {

/// CRC-32C of `bytes`, continuing from `crc` (0 to start).
std::uint32_t crc32c(std::span<const std::uint8_t> bytes, std::uint32_t crc = 0);

}  // namespace cg::common
