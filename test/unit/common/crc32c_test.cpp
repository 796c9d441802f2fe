// CRC-32C (common/crc32c.cpp)
#include <catch2/catch.hpp>

#include <string>

#include "common/crc32c.hpp"

using cg::common::crc32c;

TEST_CASE("CRC-32C is the Castagnoli CRC", "[crc32c]") {
    const std::string check = "123456789";
    const auto* b = reinterpret_cast<const std::uint8_t*>(check.data());
    CHECK(crc32c({b, check.size()}) == 0xe3069283);  // the catalogue's check value
    CHECK(crc32c({}) == 0);
    // In pieces, the same as at once; 8-byte words and a byte tail alike.
    CHECK(crc32c({b + 4, 5}, crc32c({b, 4})) == 0xe3069283);
    CHECK(crc32c({b + 8, 1}, crc32c({b, 8})) == 0xe3069283);
}
