// The frames the gateway writes itself (dataplane/pkt/arp_icmp.cpp): ARP
// requests for node MACs, ARP replies and ICMP echo replies written over the
// request, field by field.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/wire.hpp"
#include "support/frames.hpp"

using namespace cg;
using namespace cg::dp;
using namespace cg::test;

namespace {

const common::mac_addr our_mac{{0x02, 0, 0, 0, 0, 0x01}};
const common::mac_addr peer_mac{{0x02, 0, 0, 0, 0, 0x10}};
const common::mac_addr broadcast{{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}};
constexpr common::ipv4_addr our_ip = 0xc6120002;   // 198.18.0.2
constexpr common::ipv4_addr vip = 0xc6120064;      // 198.18.0.100
constexpr common::ipv4_addr peer_ip = 0xc6120a01;  // 198.18.10.1

common::mac_addr mac_at(const std::uint8_t* p) {
    common::mac_addr m;
    std::memcpy(m.b.data(), p, 6);
    return m;
}

pkt_info classified(const bytes& f) {
    pkt_info info;
    const auto why = classify(f.data(), static_cast<std::uint32_t>(f.size()), info);
    REQUIRE_FALSE(why);
    return info;
}

struct arp_fields {
    common::mac_addr eth_dst, eth_src;
    std::uint16_t op;
    common::mac_addr sender_mac;
    common::ipv4_addr sender_ip;
    common::mac_addr target_mac;
    common::ipv4_addr target_ip;
};

/// Checks every field of the Ethernet/IPv4 ARP frame `f` whose ARP header is at `l3`.
void check_arp(const bytes& f, std::size_t l3, const arp_fields& want) {
    REQUIRE(f.size() >= l3 + wire::arp_len);
    CHECK(mac_at(&f[0]) == want.eth_dst);
    CHECK(mac_at(&f[6]) == want.eth_src);
    CHECK(wire::load16(&f[l3 - 2]) == wire::ethertype_arp);
    const std::uint8_t* a = &f[l3];
    CHECK(wire::load16(a) == 1);                         // hardware type: Ethernet
    CHECK(wire::load16(a + 2) == wire::ethertype_ipv4);  // protocol type
    CHECK(a[4] == 6);                                    // hardware address length
    CHECK(a[5] == 4);                                    // protocol address length
    CHECK(wire::load16(a + 6) == want.op);
    CHECK(mac_at(a + 8) == want.sender_mac);
    CHECK(wire::load32(a + 14) == want.sender_ip);
    CHECK(mac_at(a + 18) == want.target_mac);
    CHECK(wire::load32(a + 24) == want.target_ip);
}

}  // namespace

TEST_CASE("an ARP request for a node MAC: broadcast, every field set, padded to 60 bytes", "[arp]") {
    bytes buf(80, 0xee);
    REQUIRE(build_arp_request(buf.data(), our_mac, our_ip, 0xc612000b) == 60);

    check_arp(buf, 14, {broadcast, our_mac, 1, our_mac, our_ip, {}, 0xc612000b});  // target MAC: unknown, zero
    CHECK(std::all_of(buf.begin() + 42, buf.begin() + 60, [](std::uint8_t b) { return b == 0; }));
    CHECK(std::all_of(buf.begin() + 60, buf.end(), [](std::uint8_t b) { return b == 0xee; }));  // nothing past 60

    // The same frame the test's own builder makes, byte for byte.
    const bytes want = make_arp(1, our_mac, our_ip, {}, 0xc612000b);
    CHECK(bytes(buf.begin(), buf.begin() + 60) == want);
}

TEST_CASE("read_arp reads the operation, the sender and the target address", "[arp]") {
    const bytes reply = make_arp(2, peer_mac, peer_ip, our_mac, our_ip, our_mac);
    const auto a = read_arp(reply.data(), classified(reply));
    CHECK(a.op == 2);
    CHECK(a.sender_mac == peer_mac);
    CHECK(a.sender_ip == peer_ip);
    CHECK(a.target_ip == our_ip);
}

TEST_CASE("an ARP reply written over a request: our MAC has the asked address, sent back to the asker", "[arp]") {
    bytes f = make_arp(1, peer_mac, peer_ip, {}, vip);
    std::fill(f.begin() + 42, f.end(), 0x5a);  // padding, to see that it is left alone
    const bytes request = f;
    make_arp_reply(f.data(), classified(request), our_mac);

    REQUIRE(f.size() == request.size());
    check_arp(f, 14, {peer_mac, our_mac, 2, our_mac, vip, peer_mac, peer_ip});
    CHECK(std::equal(f.begin() + 42, f.end(), request.begin() + 42));

    bytes want = make_arp(2, our_mac, vip, peer_mac, peer_ip, peer_mac);
    std::fill(want.begin() + 42, want.end(), 0x5a);
    CHECK(f == want);
}

TEST_CASE("an ARP reply inside a VLAN tag keeps the tag and answers at the tagged offset", "[arp]") {
    bytes f = make_arp(1, peer_mac, peer_ip, {}, our_ip);
    const std::uint8_t tag[] = {0x81, 0x00, 0x00, 0x07};
    f.insert(f.begin() + 12, std::begin(tag), std::end(tag));
    const auto info = classified(f);
    REQUIRE(info.l3_off == 18);
    make_arp_reply(f.data(), info, our_mac);
    check_arp(f, 18, {peer_mac, our_mac, 2, our_mac, our_ip, peer_mac, peer_ip});
    CHECK(std::equal(std::begin(tag), std::end(tag), f.begin() + 12));

    bytes want = make_arp(2, our_mac, our_ip, peer_mac, peer_ip, peer_mac);
    want.insert(want.begin() + 12, std::begin(tag), std::end(tag));
    CHECK(f == want);
}

TEST_CASE("an ICMP echo reply: addresses swapped, TTL 64, type 0, data kept, both checksums valid", "[icmp]") {
    frame_spec odd_data;
    odd_data.payload = "odd";  // an odd ICMP length: the checksum pads the last byte
    frame_spec options;
    options.ip_options = 4;
    options.payload = "ping-payload";
    frame_spec tagged;
    tagged.vlans = {7};
    tagged.payload = std::string(100, 'x');
    for (frame_spec s : {frame_spec{}, odd_data, options, tagged}) {
        s.proto = 1;
        s.ttl = 9;
        s.src_mac = peer_mac;
        s.src = peer_ip;
        s.dst = vip;
        const bytes request = make_ipv4(s);
        const auto info = classified(request);
        INFO("payload " << s.payload.size() << " bytes, " << int(s.ip_options) << " bytes of options, "
                        << s.vlans.size() << " VLAN tags");
        bytes f = request;
        make_icmp_echo_reply(f.data(), info, our_mac);

        REQUIRE(f.size() == request.size());
        CHECK(mac_at(&f[0]) == peer_mac);
        CHECK(mac_at(&f[6]) == our_mac);
        CHECK(std::equal(f.begin() + 12, f.begin() + info.l3_off, request.begin() + 12));  // VLAN tags, ethertype

        const std::uint8_t* ip = &f[info.l3_off];
        const std::uint8_t* old_ip = &request[info.l3_off];
        const std::size_t ihl = (ip[0] & 0x0f) * 4u;
        CHECK(ihl == 20u + s.ip_options);
        CHECK(std::equal(ip, ip + 8, old_ip));  // version, IHL, TOS, length, id, fragment field
        CHECK(ip[8] == 64);
        CHECK(ip[9] == 1);
        CHECK(wire::load32(ip + 12) == vip);
        CHECK(wire::load32(ip + 16) == peer_ip);
        CHECK(std::equal(ip + 20, ip + ihl, old_ip + 20));  // options
        CHECK(wire::inet_checksum(ip, ihl) == 0);

        const std::uint8_t* icmp = &f[info.l4_off];
        const std::uint8_t* old_icmp = &request[info.l4_off];
        const std::size_t icmp_len = info.ip_len - ihl;
        CHECK(icmp[0] == 0);  // echo reply
        CHECK(icmp[1] == 0);
        CHECK(std::equal(icmp + 4, icmp + icmp_len, old_icmp + 4));  // identifier, sequence, data
        CHECK(wire::inet_checksum(icmp, icmp_len) == 0);
        // Ethernet padding after the IP packet is not touched.
        const std::size_t end = info.l3_off + info.ip_len;
        CHECK(std::equal(f.begin() + static_cast<std::ptrdiff_t>(end), f.end(),
                         request.begin() + static_cast<std::ptrdiff_t>(end)));
    }
}

TEST_CASE("the checksum of the replies is RFC 1071's", "[icmp]") {
    const std::uint8_t rfc_example[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};  // RFC 1071 section 3
    CHECK(wire::inet_checksum(rfc_example, sizeof rfc_example) == static_cast<std::uint16_t>(~0xddf2));
    const std::uint8_t odd[] = {0x12, 0x34, 0x56};  // the last byte counts as its high half
    CHECK(wire::inet_checksum(odd, sizeof odd) == static_cast<std::uint16_t>(~(0x1234 + 0x5600)));
    const std::uint8_t carries[] = {0xff, 0xff, 0x00, 0x02};  // 0xffff + 2 folds to 2
    CHECK(wire::inet_checksum(carries, sizeof carries) == static_cast<std::uint16_t>(~0x0002));
}

TEST_CASE("a gratuitous ARP announces the address with the port's MAC to everyone", "[arp_icmp][role]") {
    bytes f(60, 0xaa);
    REQUIRE(build_gratuitous_arp(f.data(), our_mac, vip) == 60);
    pkt_info info;
    REQUIRE_FALSE(classify(f.data(), 60, info));
    REQUIRE(info.kind == pkt_kind::arp);
    const auto a = read_arp(f.data(), info);
    CHECK(mac_at(f.data()) == broadcast);
    CHECK(mac_at(f.data() + 6) == our_mac);
    CHECK(a.op == 1);
    CHECK(a.sender_mac == our_mac);
    CHECK(a.sender_ip == vip);
    CHECK(a.target_ip == vip);
    CHECK(std::all_of(f.begin() + 14 + 28, f.end(), [](std::uint8_t b) { return b == 0; }));  // padding zeroed
}

TEST_CASE("a TCP reset written over a segment: swapped, no options or data, sequence the receiver accepts", "[tcp_reset]") {
    struct row {
        std::uint8_t flags;
        std::string payload;
        std::uint8_t ip_options;
        std::vector<std::uint16_t> vlans;
        std::uint32_t want_seq, want_ack;
        std::uint8_t want_flags;
    };
    const std::uint8_t ack = wire::tcp_ack, psh = 0x08, fin = wire::tcp_fin, rst = wire::tcp_rst;
    // The test frames carry seq 1000, and ack 2000 when ACK is set.
    const row rows[] = {
        {ack, "", 0, {}, 2000, 0, rst},                                   // a pure ACK: seq = its ack
        {static_cast<std::uint8_t>(ack | psh), "GET / HTTP/1.1\r\n\r\n", 4, {7}, 2000, 0, rst},
        {static_cast<std::uint8_t>(fin | psh), "abc", 0, {}, 0, 1004, static_cast<std::uint8_t>(rst | ack)},  // no ACK: ack = seq + data + FIN
        {fin, "", 0, {3, 4}, 0, 1001, static_cast<std::uint8_t>(rst | ack)},  // FIN counts one
    };
    for (const row& r : rows) {
        frame_spec s;
        s.tcp_flags = r.flags;
        s.payload = r.payload;
        s.ip_options = r.ip_options;
        s.vlans = r.vlans;
        s.src_mac = peer_mac;
        s.src = peer_ip;
        s.dst = vip;
        const bytes seg = make_ipv4(s);
        const auto info = classified(seg);
        INFO("flags " << int(r.flags) << ", " << r.payload.size() << " bytes, " << int(r.ip_options)
                      << " bytes of IP options, " << r.vlans.size() << " VLAN tags");
        bytes f = seg;
        const std::uint32_t n = make_tcp_reset(f.data(), info, our_mac);
        CHECK(n == info.l3_off + 40u);
        f.resize(n);
        CHECK(mac_at(&f[0]) == peer_mac);
        CHECK(mac_at(&f[6]) == our_mac);
        CHECK(std::equal(f.begin() + 12, f.begin() + info.l3_off, seg.begin() + 12));  // VLAN tags, ethertype

        const std::uint8_t* ip = &f[info.l3_off];
        CHECK(ip[0] == 0x45);
        CHECK(wire::load16(ip + 2) == 40);
        CHECK(ip[8] == 64);
        CHECK(ip[9] == 6);
        CHECK(wire::load32(ip + 12) == vip);
        CHECK(wire::load32(ip + 16) == peer_ip);
        CHECK(wire::inet_checksum(ip, 20) == 0);

        const std::uint8_t* tcp = ip + 20;
        CHECK(wire::load16(tcp) == 80);
        CHECK(wire::load16(tcp + 2) == 40000);
        CHECK(wire::load32(tcp + 4) == r.want_seq);
        CHECK(wire::load32(tcp + 8) == r.want_ack);
        CHECK(tcp[12] == 0x50);
        CHECK(tcp[13] == r.want_flags);
        CHECK(wire::load16(tcp + 14) == 0);
        // The checksum over the pseudo-header and the segment comes out 0.
        std::uint8_t pseudo[12 + 20];
        std::memcpy(pseudo, ip + 12, 8);
        pseudo[8] = 0, pseudo[9] = 6, pseudo[10] = 0, pseudo[11] = 20;
        std::memcpy(pseudo + 12, tcp, 20);
        CHECK(wire::inet_checksum(pseudo, sizeof pseudo) == 0);
        // The reset classifies as a well-formed TCP segment of the reversed flow.
        pkt_info back;
        REQUIRE_FALSE(classify(f.data(), n, back));
        CHECK((back.key.saddr == vip && back.key.daddr == peer_ip && back.key.sport == 80 && back.key.dport == 40000));
        CHECK(back.tcp_flags == r.want_flags);
    }
}
