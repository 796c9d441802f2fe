// The node agents' datagrams: codec, authentication, replay and peer checks.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/net_types.hpp"
#include "control/proto/agent_msg.hpp"

using namespace cg::control::agent;
using cg::common::ipv4_addr;

namespace {

const key the_key(32, 0x5a);
const ipv4_addr node1 = 0xc6120101;  // 198.18.1.1
const ipv4_addr node2 = 0xc6120102;

envelope report(std::uint64_t seq, std::uint64_t sent_ms = 1'000'000) {
    host_report r;
    r.load1 = 0.75;
    r.cpu_busy = 0.5;
    r.mem_used = 0.25;
    r.sock_mem = 0.125;
    r.script = 42.0;
    return envelope{node1, seq, sent_ms, r};
}

/// Signs bytes again after a test changed them on purpose.
void resign(std::vector<std::uint8_t>& d, const key& k) {
    d.resize(d.size() - mac_size);
    unsigned char m[mac_size];
    unsigned int len = 0;
    HMAC(EVP_sha256(), k.data(), static_cast<int>(k.size()), d.data(), d.size(), m, &len);
    d.insert(d.end(), m, m + len);
}

refusal why(const std::variant<envelope, refused>& r) {
    REQUIRE(std::holds_alternative<refused>(r));
    return std::get<refused>(r).why;
}

}  // namespace

TEST_CASE("agent datagrams round-trip every field", "[agent]") {
    const auto d = seal(report(7), the_key);
    CHECK(d.size() <= max_datagram);
    const auto r = open(d, the_key);
    REQUIRE(std::holds_alternative<envelope>(r));
    const envelope& e = std::get<envelope>(r);
    CHECK(e.sender == node1);
    CHECK(e.seq == 7);
    CHECK(e.sent_ms == 1'000'000);
    const auto& h = std::get<host_report>(e.body);
    CHECK(h.load1 == 0.75);
    CHECK(h.cpu_busy == 0.5);
    CHECK(h.mem_used == 0.25);
    CHECK(h.sock_mem == 0.125);
    CHECK(h.script == 42.0);

    const auto q = open(seal(envelope{node2, 1, 5, shadow_query{9, 0xc6120064}}, the_key), the_key);
    REQUIRE(std::holds_alternative<envelope>(q));
    CHECK(std::get<shadow_query>(std::get<envelope>(q).body).query == 9);
}

TEST_CASE("a changed bit anywhere, or another key, is refused", "[agent]") {
    const auto good = seal(report(1), the_key);
    for (std::size_t i = 0; i < good.size(); ++i) {
        auto bad = good;
        bad[i] ^= 0x01;
        const auto r = open(bad, the_key);
        INFO("byte " << i);
        REQUIRE(std::holds_alternative<refused>(r));
        // The magic, version and length are read first; every other byte is the MAC's.
        if (i >= 6 && i != 28 && i != 29) CHECK(std::get<refused>(r).why == refusal::bad_mac);
    }
    CHECK(why(open(good, key(32, 0x5b))) == refusal::bad_mac);
    CHECK(why(open(good, key(31, 0x5a))) == refusal::bad_mac);
}

TEST_CASE("truncated and padded datagrams are refused", "[agent]") {
    const auto good = seal(report(1), the_key);
    for (std::size_t n = 0; n < good.size(); ++n) {
        INFO("length " << n);
        CHECK(why(open(std::span(good).first(n), the_key)) == refusal::truncated);
    }
    auto longer = good;
    longer.push_back(0);
    CHECK(why(open(longer, the_key)) == refusal::truncated);
}

TEST_CASE("authentic but wrong inside: unknown type, bad payload, other version", "[agent]") {
    auto d = seal(report(1), the_key);
    d[6] = 99;  // type
    resign(d, the_key);
    CHECK(why(open(d, the_key)) == refusal::unknown_type);

    d = seal(report(1), the_key);
    d[header_size + 32] = 2;  // the optional's flag of `script`: neither 0 nor 1
    resign(d, the_key);
    const auto r = open(d, the_key);
    CHECK(why(r) == refusal::malformed);
    CHECK_THAT(std::get<refused>(r).detail, Catch::Contains("boolean"));

    d = seal(report(1), the_key);
    d[4] = 2;  // version
    resign(d, the_key);
    CHECK(why(open(d, the_key)) == refusal::bad_version);
}

TEST_CASE("the receiver refuses replays, strangers, spoofed sources and stale clocks, and counts each", "[agent]") {
    receiver rx(the_key, 5'000);
    rx.allow(node1);
    const std::uint64_t now = 1'000'000;
    const auto first = seal(report(10, now), the_key);
    CHECK(std::holds_alternative<envelope>(rx.accept(first, node1, now)));
    CHECK(why(rx.accept(first, node1, now)) == refusal::replayed);  // the same datagram again
    CHECK(why(rx.accept(seal(report(9, now), the_key), node1, now)) == refusal::replayed);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(report(11, now), the_key), node1, now + 100)));

    auto stranger = report(1, now);
    stranger.sender = node2;
    CHECK(why(rx.accept(seal(stranger, the_key), node2, now)) == refusal::unknown_peer);
    CHECK(why(rx.accept(seal(report(12, now), the_key), node2, now)) == refusal::unknown_peer);  // spoofed source

    CHECK(why(rx.accept(seal(report(13, now - 6'000), the_key), node1, now)) == refusal::clock_skew);
    CHECK(why(rx.accept(seal(report(14, now + 6'000), the_key), node1, now)) == refusal::clock_skew);
    CHECK(why(rx.accept(seal(report(15, now), key(32, 1)), node1, now)) == refusal::bad_mac);
    CHECK(std::holds_alternative<envelope>(rx.accept(seal(report(16, now + 4'000), the_key), node1, now)));

    CHECK(rx.accepted() == 3);
    CHECK(rx.count(refusal::replayed) == 2);
    CHECK(rx.count(refusal::unknown_peer) == 2);
    CHECK(rx.count(refusal::clock_skew) == 2);
    CHECK(rx.count(refusal::bad_mac) == 1);

    rx.forget(node1);
    CHECK(why(rx.accept(seal(report(17, now), the_key), node1, now)) == refusal::unknown_peer);
}

TEST_CASE("key files: trimmed, and too short ones refused", "[agent]") {
    const auto path = std::filesystem::temp_directory_path() / "cg-agent-key-test";
    {
        std::ofstream(path) << "  0123456789abcdef0123\n";
    }
    CHECK(load_key(path.string()) == key{'0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e',
                                         'f', '0', '1', '2', '3'});
    {
        std::ofstream(path) << "short\n";
    }
    CHECK_THROWS_WITH(load_key(path.string()), Catch::Contains("at least 16"));
    std::filesystem::remove(path);
    CHECK_THROWS_WITH(load_key(path.string()), Catch::Contains("cannot read"));
}
