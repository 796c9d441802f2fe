// The pure half of the shadow table: the kernel's filter program (checked
// against the kernel's own rules, re-stated in support/diag_msgs.hpp) and
// the parser of one sock_diag message, with crafted bytes.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "control/nodeagent/sock_diag.hpp"
#include "support/diag_msgs.hpp"

using namespace cg::control;
using namespace cg::control::sockdiag;
using cg::common::ipv4_addr;
using cg::test::diag_spec;
using cg::test::make_diag_msg;

namespace {

using cg::test::bytecode_audit;
using cg::test::bytecode_takes;

cg::test::diag_sock v4(ipv4_addr a) { return cg::test::v4_sock(a); }
cg::test::diag_sock v4_mapped(ipv4_addr a) { return cg::test::v4_mapped_sock(a); }
cg::test::diag_sock v6_any() { return cg::test::v6_sock({}); }
cg::test::diag_sock v6_loopback() { return cg::test::v6_sock({0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}); }

constexpr ipv4_addr vip1 = 0xc6120064, vip2 = 0xc6120065, vip3 = 0xc6120066, other = 0xc6120067;

}  // namespace

TEST_CASE("the filter takes exactly the sockets on the asked addresses, as the kernel runs it", "[sockdiag]") {
    SECTION("one address") {
        const auto bc = bytecode({{vip1}, false}, AF_INET);
        REQUIRE(bytecode_audit(bc));
        CHECK(bc.size() == 16);  // one S_COND: op, hostcond, address
        CHECK(bytecode_takes(bc, v4(vip1)));
        CHECK_FALSE(bytecode_takes(bc, v4(other)));
        CHECK_FALSE(bytecode_takes(bc, v4(0)));
        CHECK_FALSE(bytecode_takes(bc, v4(vip1 ^ 1)));  // a /32, not a prefix
    }
    SECTION("several addresses: S_COND, JMP, S_COND, JMP, S_COND") {
        const auto bc = bytecode({{vip1, vip2, vip3}, false}, AF_INET);
        REQUIRE(bytecode_audit(bc));
        CHECK(bc.size() == 3 * 16 + 2 * 4);
        for (const ipv4_addr a : {vip1, vip2, vip3}) CHECK(bytecode_takes(bc, v4(a)));
        CHECK_FALSE(bytecode_takes(bc, v4(other)));
        CHECK_FALSE(bytecode_takes(bc, v4(0)));
    }
    SECTION("an AF_INET6 dump takes the IPv4-mapped addresses, not IPv6 ones") {
        const auto bc = bytecode({{vip1, vip2}, false}, AF_INET6);
        REQUIRE(bytecode_audit(bc));
        CHECK(bytecode_takes(bc, v4_mapped(vip1)));
        CHECK(bytecode_takes(bc, v4_mapped(vip2)));
        CHECK_FALSE(bytecode_takes(bc, v4_mapped(other)));
        CHECK_FALSE(bytecode_takes(bc, v6_any()));
        CHECK_FALSE(bytecode_takes(bc, v6_loopback()));
    }
    SECTION("the wildcard: 0.0.0.0 in an AF_INET dump, :: in an AF_INET6 one") {
        const auto bc4 = bytecode({{vip1}, true}, AF_INET);
        REQUIRE(bytecode_audit(bc4));
        CHECK(bytecode_takes(bc4, v4(vip1)));
        CHECK(bytecode_takes(bc4, v4(0)));
        CHECK_FALSE(bytecode_takes(bc4, v4(other)));
        const auto bc6 = bytecode({{vip1}, true}, AF_INET6);
        REQUIRE(bytecode_audit(bc6));
        CHECK(bytecode_takes(bc6, v4_mapped(vip1)));
        CHECK(bytecode_takes(bc6, v6_any()));
        CHECK_FALSE(bytecode_takes(bc6, v6_loopback()));
        CHECK_FALSE(bytecode_takes(bc6, v4_mapped(other)));
        const auto only = bytecode({{}, true}, AF_INET);
        REQUIRE(bytecode_audit(only));
        CHECK(bytecode_takes(only, v4(0)));
        CHECK_FALSE(bytecode_takes(only, v4(vip1)));
    }
    SECTION("the largest filter still audits: its jumps reach the end") {
        filter f;
        for (std::size_t i = 0; i < max_locals; ++i) f.locals.push_back(0x0a000000 + static_cast<ipv4_addr>(i));
        f.wildcard = true;
        const auto bc = bytecode(f, AF_INET6);
        REQUIRE(bytecode_audit(bc));
        CHECK(bytecode_takes(bc, v4_mapped(0x0a000000)));
        CHECK(bytecode_takes(bc, v4_mapped(0x0a000000 + max_locals - 1)));
        CHECK(bytecode_takes(bc, v6_any()));
        CHECK_FALSE(bytecode_takes(bc, v4_mapped(0x0a000000 + max_locals)));
    }
    SECTION("nothing to ask, too much to ask, another family: refused") {
        CHECK_THROWS_WITH(bytecode({}, AF_INET), Catch::Contains("no address"));
        filter f;
        f.locals.assign(max_locals + 1, vip1);
        CHECK_THROWS_WITH(bytecode(f, AF_INET), Catch::Contains("at most 1024"));
        CHECK_THROWS_WITH(bytecode({{vip1}, false}, AF_UNIX), Catch::Contains("family"));
    }
}

TEST_CASE("the re-stated kernel rules refuse what the kernel refuses", "[sockdiag]") {
    auto bc = bytecode({{vip1, vip2}, false}, AF_INET);
    REQUIRE(bytecode_audit(bc));
    auto misaligned = bc;
    misaligned[1] = 15;  // the first op's `yes`: not a multiple of 4
    CHECK_FALSE(bytecode_audit(misaligned));
    auto too_far = bc;
    const std::uint16_t far = static_cast<std::uint16_t>(bc.size() + 8);
    std::memcpy(too_far.data() + 2, &far, 2);  // `no` beyond the end plus 4
    CHECK_FALSE(bytecode_audit(too_far));
    auto mid_op = bc;
    const std::uint16_t into = 8;  // `no` into the middle of the first hostcond
    std::memcpy(mid_op.data() + 2, &into, 2);
    CHECK_FALSE(bytecode_audit(mid_op));
}

namespace {

sockdiag::error why(const std::variant<shadow::socket_entry, refusal>& r) {
    REQUIRE(std::holds_alternative<refusal>(r));
    return std::get<refusal>(r).why;
}

shadow::socket_entry entry(const std::variant<shadow::socket_entry, refusal>& r) {
    if (auto* f = std::get_if<refusal>(&r)) FAIL(error_name(f->why) << ": " << f->detail);
    return std::get<shadow::socket_entry>(r);
}

std::vector<std::uint8_t> u8(std::uint8_t v) { return {v}; }

/// What a 6.x kernel sends for an established TCP socket with idiag_ext 0.
diag_spec established() {
    diag_spec s;
    s.attrs = {{INET_DIAG_SHUTDOWN, u8(0)}, {INET_DIAG_CGROUP_ID, std::vector<std::uint8_t>(8, 1)},
               {INET_DIAG_SOCKOPT, std::vector<std::uint8_t>(2, 0)}};
    return s;
}

}  // namespace

TEST_CASE("sock_diag messages: every field of a TCP and a UDP socket", "[sockdiag]") {
    const auto e = entry(parse(make_diag_msg(established()), IPPROTO_TCP));
    CHECK(e.proto == IPPROTO_TCP);
    CHECK(e.state == 1);
    CHECK(e.local == 0xc6120064);
    CHECK(e.local_port == 80);
    CHECK(e.remote == 0xc6120a01);
    CHECK(e.remote_port == 40000);

    diag_spec listener;
    listener.state = 10;
    listener.remote = 0, listener.remote_port = 0;
    CHECK(entry(parse(make_diag_msg(listener), IPPROTO_TCP)) ==
          shadow::socket_entry{6, 10, 0xc6120064, 80, 0, 0});

    diag_spec bound;  // an unconnected UDP socket is CLOSE
    bound.state = 7;
    bound.local_port = 53;
    bound.remote = 0, bound.remote_port = 0;
    CHECK(entry(parse(make_diag_msg(bound), IPPROTO_UDP)) == shadow::socket_entry{17, 7, 0xc6120064, 53, 0, 0});

    for (std::uint8_t st : {1, 2, 3, 4, 5, 6, 8, 9, 10, 11}) {
        diag_spec s;
        s.state = st;
        INFO("state " << int(st));
        CHECK(entry(parse(make_diag_msg(s), IPPROTO_TCP)).state == st);
    }
}

TEST_CASE("sock_diag messages: IPv6 sockets count when IPv4-mapped, and only then", "[sockdiag]") {
    diag_spec s = established();
    s.family = AF_INET6;  // a dual-stack server's IPv4 connection
    CHECK(entry(parse(make_diag_msg(s), IPPROTO_TCP)) == shadow::socket_entry{6, 1, 0xc6120064, 80, 0xc6120a01, 40000});

    diag_spec any;  // [::]:80 listening, IPv4 too
    any.family = AF_INET6;
    any.state = 10;
    any.local = any.remote = 0;
    any.remote_port = 0;
    any.attrs = {{INET_DIAG_SKV6ONLY, u8(0)}};
    CHECK(entry(parse(make_diag_msg(any), IPPROTO_TCP)) == shadow::socket_entry{6, 10, 0, 80, 0, 0});

    any.attrs = {{INET_DIAG_SKV6ONLY, u8(1)}};  // IPV6_V6ONLY: serves no IPv4 client
    CHECK(why(parse(make_diag_msg(any), IPPROTO_TCP)) == error::not_ipv4);

    diag_spec v6 = established();
    v6.family = AF_INET6;
    v6.local6 = std::array<std::uint8_t, 16>{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    CHECK(why(parse(make_diag_msg(v6), IPPROTO_TCP)) == error::not_ipv4);
    v6 = established();
    v6.family = AF_INET6;
    v6.remote6 = std::array<std::uint8_t, 16>{0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
    CHECK(why(parse(make_diag_msg(v6), IPPROTO_TCP)) == error::not_ipv4);
}

TEST_CASE("sock_diag messages: other types, families, states and protocols are refused", "[sockdiag]") {
    diag_spec s = established();
    s.type = NLMSG_ERROR;
    CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::not_sock_diag);
    CHECK(why(parse(make_diag_msg(established()), IPPROTO_ICMP)) == error::not_sock_diag);
    s = established();
    s.family = AF_UNIX;
    CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::bad_family);
    s = established();
    s.state = 7;  // a TCP CLOSE socket: not asked for
    CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::bad_state);
    for (std::uint8_t st : {0, 12, 13, 200}) {
        s.state = st;
        INFO("state " << int(st));
        CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::bad_state);
    }
    s.state = 10;  // UDP has no LISTEN
    CHECK(why(parse(make_diag_msg(s), IPPROTO_UDP)) == error::bad_state);
}

TEST_CASE("sock_diag messages: truncated or with odd attributes, refused; unknown attributes skipped", "[sockdiag]") {
    const auto good = make_diag_msg(established());
    REQUIRE(good.size() == 16 + 72 + 8 + 12 + 8);

    SECTION("every shorter prefix, as it is: the length field disagrees") {
        for (std::size_t n = 0; n < good.size(); ++n) {
            INFO("length " << n);
            CHECK(why(parse(std::span(good).first(n), IPPROTO_TCP)) == error::truncated);
        }
        auto longer = good;
        longer.push_back(0);
        CHECK(why(parse(longer, IPPROTO_TCP)) == error::truncated);
    }
    SECTION("every shorter prefix with its length field set to it") {
        // Cut where an attribute's payload is whole (its padding may go: the
        // last one's) the message is whole, with fewer attributes; anywhere
        // else inside the attributes it is refused.
        const std::set<std::size_t> whole = {88, 93, 94, 95, 96, 108, 114, 115};
        for (std::size_t n = 16; n < good.size(); ++n) {
            auto cut = std::vector<std::uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
            const std::uint32_t len = static_cast<std::uint32_t>(n);
            std::memcpy(cut.data(), &len, 4);
            INFO("length " << n);
            const auto r = parse(cut, IPPROTO_TCP);
            if (n < 88)
                CHECK(why(r) == error::truncated);
            else if (whole.contains(n))
                CHECK(std::holds_alternative<shadow::socket_entry>(r));
            else
                CHECK(why(r) == error::bad_attribute);
        }
    }
    SECTION("attribute lengths below a header or past the message") {
        for (const std::uint16_t bad_len : {0, 3, 13, 0xffff}) {
            auto d = good;
            std::memcpy(d.data() + 88, &bad_len, 2);  // the first attribute's nla_len
            INFO("nla_len " << bad_len);
            CHECK(why(parse(d, IPPROTO_TCP)) == error::bad_attribute);
        }
    }
    SECTION("u8 attributes of another size, a protocol that is not the dump's") {
        diag_spec s = established();
        s.attrs = {{INET_DIAG_SHUTDOWN, {0, 0}}};
        CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::bad_attribute);
        s.attrs = {{INET_DIAG_SKV6ONLY, {}}};
        CHECK(why(parse(make_diag_msg(s), IPPROTO_TCP)) == error::bad_attribute);
        s.attrs = {{INET_DIAG_PROTOCOL, u8(IPPROTO_UDP)}};
        const auto r = parse(make_diag_msg(s), IPPROTO_TCP);
        CHECK(why(r) == error::bad_attribute);
        CHECK_THAT(std::get<refusal>(r).detail, Catch::Contains("protocol attribute 17"));
        s.attrs = {{INET_DIAG_PROTOCOL, u8(IPPROTO_TCP)}};
        CHECK(std::holds_alternative<shadow::socket_entry>(parse(make_diag_msg(s), IPPROTO_TCP)));
    }
    SECTION("unknown and nested-flagged attributes are skipped, the last one may lack its padding") {
        diag_spec s = established();
        s.attrs = {{99, {1, 2, 3}}, {NLA_F_NESTED | 77, {}}, {INET_DIAG_SHUTDOWN, u8(3)}};
        auto d = make_diag_msg(s);
        CHECK(entry(parse(d, IPPROTO_TCP)).state == 1);
        s.attrs = {{99, {1, 2, 3}}};
        d = make_diag_msg(s);
        d.pop_back();  // 3 payload bytes, no padding
        const std::uint32_t len = static_cast<std::uint32_t>(d.size());
        std::memcpy(d.data(), &len, 4);
        CHECK(entry(parse(d, IPPROTO_TCP)).local_port == 80);
    }
    SECTION("no alignment needed: the same bytes one byte off") {
        std::vector<std::uint8_t> shifted(good.size() + 1);
        std::memcpy(shifted.data() + 1, good.data(), good.size());
        CHECK(entry(parse(std::span(shifted).subspan(1), IPPROTO_TCP)) == entry(parse(good, IPPROTO_TCP)));
    }
}
