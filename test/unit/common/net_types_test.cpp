#include <catch2/catch.hpp>

#include "common/net_types.hpp"

using namespace cg::common;

TEST_CASE("parse_ipv4 reads dotted quads in host byte order", "[net_types]") {
    CHECK(parse_ipv4("198.18.0.1") == 0xc6120001U);
    CHECK(parse_ipv4("0.0.0.0") == 0U);
    CHECK(parse_ipv4("255.255.255.255") == 0xffffffffU);
}

TEST_CASE("parse_ipv4 rejects anything but four plain octets", "[net_types]") {
    const auto* text = GENERATE("", "1.2.3", "1.2.3.4.5", "1.2.3.256", "01.2.3.4", "1.2.3.4 ", " 1.2.3.4", "1..3.4",
                                "1.2.3.-4", "1.2.3.+4", "a.b.c.d", "1.2.3.4/24", "1234.1.1.1");
    INFO(text);
    CHECK_FALSE(parse_ipv4(text).has_value());
}

TEST_CASE("format_ipv4 is the inverse of parse_ipv4", "[net_types]") {
    const auto* text = GENERATE("198.18.0.1", "0.0.0.0", "255.255.255.255", "10.0.200.7");
    CHECK(format_ipv4(*parse_ipv4(text)) == text);
}

TEST_CASE("parse_mac reads ':' or '-' separated hex", "[net_types]") {
    const mac_addr expected{{0x02, 0x00, 0x00, 0xab, 0xcd, 0x0f}};
    CHECK(parse_mac("02:00:00:ab:cd:0f") == expected);
    CHECK(parse_mac("02-00-00-AB-CD-0F") == expected);
    CHECK(format_mac(expected) == "02:00:00:ab:cd:0f");
    CHECK(parse_mac("00:00:00:00:00:00")->is_zero());
    CHECK_FALSE(expected.is_zero());
}

TEST_CASE("parse_mac rejects malformed addresses", "[net_types]") {
    const auto* text = GENERATE("", "02:00:00:00:00", "02:00:00:00:00:0", "02:00:00:00:00:000", "02:00-00:00:00:00",
                                "02.00.00.00.00.00", "g2:00:00:00:00:00", "0200:00:00:00:00:");
    INFO(text);
    CHECK_FALSE(parse_mac(text).has_value());
}

TEST_CASE("protocols are spelled tcp and udp", "[net_types]") {
    CHECK(parse_proto("tcp") == l4_proto::tcp);
    CHECK(parse_proto("udp") == l4_proto::udp);
    CHECK_FALSE(parse_proto("TCP").has_value());
    CHECK_FALSE(parse_proto("sctp").has_value());
    CHECK(proto_name(l4_proto::tcp) == "tcp");
    CHECK(proto_name(l4_proto::udp) == "udp");
    // by IP protocol number, as the API carries it: other protocols by number
    CHECK(proto_name(std::uint8_t{6}) == "tcp");
    CHECK(proto_name(std::uint8_t{17}) == "udp");
    CHECK(proto_name(std::uint8_t{1}) == "1");
    CHECK(proto_name(std::uint8_t{132}) == "132");
}
