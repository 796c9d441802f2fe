// The connection table file (common/conn_file.cpp): what is written reads
// back the same, and every kind of damaged file is refused with its reason.
#include <catch2/catch.hpp>

#include <string>
#include <variant>
#include <vector>

#include "common/conn_file.hpp"
#include "common/crc32c.hpp"

using namespace cg::common;

namespace {

std::vector<api::conn_record> sample(std::size_t n) {
    std::vector<api::conn_record> v;
    for (std::size_t i = 0; i < n; ++i) {
        flow_key k;
        k.saddr = 0x0a000001 + static_cast<ipv4_addr>(i);
        k.daddr = 0xc6120064;
        k.sport = static_cast<std::uint16_t>(40000 + i);
        k.dport = i % 2 ? 53 : 80;
        k.proto = i % 2 ? 17 : 6;
        v.push_back({k, 0xc612000b + static_cast<ipv4_addr>(i % 3), static_cast<std::uint8_t>(1 + i % 2)});
    }
    return v;
}

std::string refusal(const std::vector<std::uint8_t>& file) {
    const auto d = decode_conn_file(file);
    REQUIRE(std::holds_alternative<std::string>(d));
    return std::get<std::string>(d);
}

/// The checksum made right again after an edit of the records.
void reseal(std::vector<std::uint8_t>& f) {
    const std::uint32_t crc = crc32c(std::span(f).subspan(conn_file_header));
    for (int i = 0; i < 4; ++i) f[12 + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

}  // namespace

TEST_CASE("a connection file reads back the records it was written with", "[conn_file]") {
    for (std::size_t n : {0, 1, 7, 1000}) {
        const auto conns = sample(n);
        const auto file = encode_conn_file(conns);
        CHECK(file.size() == conn_file_header + n * conn_file_record);
        CHECK(std::string(file.begin(), file.begin() + 4) == "CGCT");
        const auto d = decode_conn_file(file);
        REQUIRE(std::holds_alternative<std::vector<api::conn_record>>(d));
        CHECK(std::get<std::vector<api::conn_record>>(d) == conns);
    }
}

TEST_CASE("a damaged connection file is refused whole, with its reason", "[conn_file]") {
    const auto good = encode_conn_file(sample(5));
    auto f = good;
    CHECK(refusal({f.begin(), f.begin() + 10}) == "torn: 10 bytes, not even the 16-byte header");
    CHECK(refusal({f.begin(), f.end() - 1}) == "torn: 105 of the 106 bytes its 5 records take");
    f.push_back(0);
    CHECK(refusal(f) == "trailing bytes: 107 of the 106 bytes its 5 records take");
    f = good;
    f[0] = 'X';
    CHECK(refusal(f) == "not a connection table file (no CGCT magic)");
    f = good;
    f[4] = 2;
    CHECK(refusal(f) == "version 2: this build reads version 1");
    f = good;
    f[7] = 1;
    CHECK(refusal(f) == "reserved header bytes are not 0");
    f = good;
    f[conn_file_header + 3] ^= 0x40;  // one bit of the first client address
    CHECK(refusal(f).rfind("checksum mismatch (stored ", 0) == 0);
    // A record that passes the checksum but is not one.
    f = good;
    f[conn_file_header + conn_file_record - 1] = 3;
    reseal(f);
    CHECK(refusal(f) == "record 0: state 3 is neither 1 (ACTIVE) nor 2 (FIN)");
}
