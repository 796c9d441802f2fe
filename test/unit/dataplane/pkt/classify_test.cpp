#include <catch2/catch.hpp>

#include <functional>
#include <optional>
#include <string>

#include "dataplane/pkt/classify.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/frames.hpp"

using namespace cg::dp;
using namespace cg::test;

namespace {

constexpr std::size_t ip = 14;  // IPv4 header offset without VLAN tags
const cg::common::mac_addr client{{0x02, 0, 0, 0, 0, 0x10}};

frame_spec tcp(std::uint8_t flags = wire::tcp_syn) {
    frame_spec s;
    s.tcp_flags = flags;
    return s;
}
frame_spec proto(std::uint8_t p) {
    frame_spec s;
    s.proto = p;
    return s;
}

struct row {
    const char* what;
    std::function<bytes()> frame;
    std::optional<drop_reason> drop;  ///< nullopt: accepted
    pkt_kind kind = pkt_kind::tcp;
};

bytes patched(bytes b, std::size_t at, std::uint8_t v) {
    b.at(at) = v;
    return b;
}
bytes patched16(bytes b, std::size_t at, std::uint16_t v) {
    wire::store16(b.data() + at, v);
    return b;
}

}  // namespace

TEST_CASE("classifier verdicts, frame by frame", "[classify]") {
    const std::vector<row> rows = {
        {"TCP SYN", [] { return make_ipv4(tcp()); }, std::nullopt, pkt_kind::tcp},
        {"TCP ACK", [] { return make_ipv4(tcp(wire::tcp_ack)); }, std::nullopt, pkt_kind::tcp},
        {"TCP FIN+ACK", [] { return make_ipv4(tcp(wire::tcp_fin | wire::tcp_ack)); }, std::nullopt},
        {"TCP RST", [] { return make_ipv4(tcp(wire::tcp_rst)); }, std::nullopt},
        {"UDP", [] { return make_ipv4(proto(17)); }, std::nullopt, pkt_kind::udp},
        {"ICMP echo", [] { return make_ipv4(proto(1)); }, std::nullopt, pkt_kind::icmp},
        {"GRE is other IP", [] { return make_ipv4(proto(47)); }, std::nullopt, pkt_kind::other_ip},
        {"ARP request", [] { return make_arp(1, client, 0xc6120a01, {}, 0xc6120064); }, std::nullopt,
         pkt_kind::arp},
        {"IP options", [] { auto s = tcp(); s.ip_options = 8; return make_ipv4(s); }, std::nullopt},
        {"one VLAN tag", [] { auto s = tcp(); s.vlans = {10}; return make_ipv4(s); }, std::nullopt},
        {"QinQ", [] { auto s = tcp(); s.vlans = {10, 20}; return make_ipv4(s); }, std::nullopt},
        {"DF set is not a fragment", [] { auto s = tcp(); s.frag = 0x4000; return make_ipv4(s); }, std::nullopt},
        {"three VLAN tags", [] { auto s = tcp(); s.vlans = {1, 2, 3}; return make_ipv4(s); }, drop_reason::bad_l2},
        {"zero-length frame", [] { return bytes{}; }, drop_reason::truncated},
        {"13 bytes", [] { auto b = make_ipv4(tcp()); b.resize(13); return b; }, drop_reason::truncated},
        {"VLAN tag cut short", [] { auto s = tcp(); s.vlans = {10}; auto b = make_ipv4(s); b.resize(16); return b; },
         drop_reason::truncated},
        {"IPv4 header cut short", [] { auto b = make_ipv4(tcp()); b.resize(ip + 19); return b; },
         drop_reason::truncated},
        {"total length past the frame", [] { return patched16(make_ipv4(tcp()), ip + 2, 1400); },
         drop_reason::truncated},
        {"IHL 4", [] { return patched(make_ipv4(tcp()), ip, 0x44); }, drop_reason::bad_ip_header},
        {"IHL past total length", [] { return patched(make_ipv4(tcp()), ip, 0x4f); }, drop_reason::bad_ip_header},
        {"version 6 in an IPv4 frame", [] { return patched(make_ipv4(tcp()), ip, 0x65); },
         drop_reason::bad_ip_header},
        {"IPv6 ethertype", [] { return patched16(make_ipv4(tcp()), 12, 0x86dd); }, drop_reason::not_ipv4},
        {"loopback source", [] { auto s = tcp(); s.src = 0x7f000001; return make_ipv4(s); },
         drop_reason::bad_ip_header},
        {"zero source", [] { auto s = tcp(); s.src = 0; return make_ipv4(s); }, drop_reason::bad_ip_header},
        {"multicast source", [] { auto s = tcp(); s.src = 0xe0000001; return make_ipv4(s); },
         drop_reason::bad_ip_header},
        {"more fragments", [] { auto s = tcp(); s.frag = 0x2000; return make_ipv4(s); }, drop_reason::ip_fragment},
        {"later fragment", [] { auto s = tcp(); s.frag = 0x0010; return make_ipv4(s); }, drop_reason::ip_fragment},
        {"SYN+FIN", [] { return make_ipv4(tcp(wire::tcp_syn | wire::tcp_fin)); }, drop_reason::bad_tcp_flags},
        {"SYN+RST", [] { return make_ipv4(tcp(wire::tcp_syn | wire::tcp_rst)); }, drop_reason::bad_tcp_flags},
        {"no TCP flags", [] { return make_ipv4(tcp(0)); }, drop_reason::bad_tcp_flags},
        {"PSH only", [] { return make_ipv4(tcp(0x08)); }, drop_reason::bad_tcp_flags},
        {"TCP data offset 4", [] { return patched(make_ipv4(tcp()), ip + 20 + 12, 0x40); },
         drop_reason::bad_l4_header},
        {"TCP data offset past the segment", [] { return patched(make_ipv4(tcp()), ip + 20 + 12, 0xf0); },
         drop_reason::bad_l4_header},
        {"TCP header of 10 bytes", [] { return patched16(make_ipv4(tcp()), ip + 2, 30); },
         drop_reason::bad_l4_header},
        {"UDP length past the datagram", [] { return patched16(make_ipv4(proto(17)), ip + 20 + 4, 200); },
         drop_reason::bad_l4_header},
        {"UDP length under 8", [] { return patched16(make_ipv4(proto(17)), ip + 20 + 4, 4); },
         drop_reason::bad_l4_header},
        {"ICMP of 4 bytes", [] { return patched16(make_ipv4(proto(1)), ip + 2, 24); }, drop_reason::bad_l4_header},
        {"ARP for another hardware type", [] { return patched16(make_arp(1, client, 1, {}, 2), 14, 6); },
         drop_reason::bad_arp},
        {"ARP for another protocol", [] { return patched16(make_arp(1, client, 1, {}, 2), 14 + 2, 0x86dd); },
         drop_reason::bad_arp},
        {"ARP with 8-byte hardware addresses", [] { return patched(make_arp(1, client, 1, {}, 2), 14 + 4, 8); },
         drop_reason::bad_arp},
        {"ARP with 16-byte protocol addresses", [] { return patched(make_arp(1, client, 1, {}, 2), 14 + 5, 16); },
         drop_reason::bad_arp},
        {"ARP cut short", [] { auto b = make_arp(1, client, 1, {}, 2); b.resize(40); return b; },
         drop_reason::truncated},
    };
    for (const auto& r : rows) {
        SECTION(r.what) {
            bytes f = r.frame();
            pkt_info info;
            const auto got = classify(f.data(), static_cast<std::uint32_t>(f.size()), info);
            if (r.drop) {
                REQUIRE(got.has_value());
                CHECK(drop_reason_names[static_cast<std::size_t>(*got)] ==
                      drop_reason_names[static_cast<std::size_t>(*r.drop)]);
            } else {
                REQUIRE_FALSE(got.has_value());
                CHECK(static_cast<int>(info.kind) == static_cast<int>(r.kind));
            }
        }
    }
}

TEST_CASE("classifier fills the 5-tuple and offsets", "[classify]") {
    auto s = tcp(wire::tcp_syn | wire::tcp_ack);
    s.vlans = {7};
    s.ip_options = 4;
    s.sport = 12345;
    s.dport = 443;
    bytes f = make_ipv4(s);
    pkt_info info;
    REQUIRE_FALSE(classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
    CHECK(info.l3_off == 18);
    CHECK(info.l4_off == 18 + 24);
    CHECK(info.key.saddr == s.src);
    CHECK(info.key.daddr == s.dst);
    CHECK(info.key.sport == 12345);
    CHECK(info.key.dport == 443);
    CHECK(info.key.proto == 6);
    CHECK(info.tcp_flags == (wire::tcp_syn | wire::tcp_ack));
}

TEST_CASE("every cut of a frame short of its headers is dropped", "[classify]") {
    // Each prefix is copied into a buffer of exactly its size, so the ASan
    // build of this suite also catches any read past the given length.
    struct full_frame {
        bytes b;
        std::size_t headers;  ///< Ethernet + IPv4/ARP + L4 header
    };
    for (const auto& [full, headers] : {full_frame{make_ipv4(tcp()), 54}, full_frame{make_ipv4(proto(17)), 42},
                                        full_frame{make_ipv4(proto(1)), 42},
                                        full_frame{make_arp(1, client, 1, {}, 2), 42}}) {
        for (std::size_t n = 0; n <= full.size(); ++n) {
            std::vector<std::uint8_t> prefix(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
            pkt_info info;
            INFO("prefix of " << n << " bytes, headers end at " << headers);
            CHECK(classify(prefix.data(), static_cast<std::uint32_t>(n), info).has_value() == (n < headers));
        }
    }
}
