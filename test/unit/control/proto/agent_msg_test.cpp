// The node agents' datagrams: codec, type ids, authentication, replay and peer checks.
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/net_types.hpp"
#include "control/proto/agent_msg.hpp"
#include "support/type_flaw_text.hpp"

using namespace cg::control::agent;
using cg::common::ipv4_addr;
using cg::common::msg_type;
using cg::test::describe;

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

/// The type field of a sealed datagram's header (little endian, after magic and version).
std::uint16_t wire_type(const std::vector<std::uint8_t>& d) { return static_cast<std::uint16_t>(d[6] | d[7] << 8); }

struct unlisted_msg {  // a message someone forgot to give an id
    CG_FIELDS()
};

std::string flaw_in(const std::vector<msg_type>& types) { return describe(find_flaw(types)); }

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

    const auto u = open(seal(envelope{node2, 2, 5, upstream{node1, 8080, false, 3, 50}}, the_key), the_key);
    REQUIRE(std::holds_alternative<envelope>(u));
    const auto& up = std::get<upstream>(std::get<envelope>(u).body);
    CHECK(up.server == node1);
    CHECK(up.port == 8080);
    CHECK_FALSE(up.reachable);
    CHECK(up.failures == 3);
    CHECK(up.interval_ms == 50);
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
    CHECK_THAT(std::get<refused>(r).detail, Catch::StartsWith("host_report: "));  // the message's name

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

TEST_CASE("the type table gives every agent message an id and a name of its own", "[agent]") {
    // type_table() has an entry for every alternative of `message`, {0, ""}
    // for one missing from the table.
    const auto types = type_table();
    REQUIRE(types.size() == std::variant_size_v<message>);
    const auto flaw = find_flaw(types);
    INFO(describe(flaw));
    CHECK_FALSE(flaw.has_value());
}

TEST_CASE("the agents' type table check finds a message without an id or a name, and two that share one",
          "[agent]") {
    const auto forgot = type_table<std::variant<host_report, unlisted_msg>>();
    REQUIRE(forgot.size() == 2);
    CHECK(forgot[0].id == 1);
    CHECK(forgot[1].id == 0);
    CHECK(describe(find_flaw(forgot)) == "no id: '' 0");

    CHECK(flaw_in({{1, "host_report"}, {2, "shadow_query"}}) == "none");
    CHECK(flaw_in({{1, "host_report"}, {2, ""}}) == "no name: '' 2");
    CHECK(flaw_in({{1, "host_report"}, {1, "shadow_query"}}) ==
          "two messages with one id: 'host_report' 1 and 'shadow_query' 1");
    CHECK(flaw_in({{1, "host_report"}, {2, "host_report"}}) ==
          "two messages with one name: 'host_report' 1 and 'host_report' 2");
}

TEST_CASE("the ids of agent protocol version 1 never change", "[agent]") {
    // Agents and controld of different builds talk by these numbers: they
    // are what agents sent when the type was the variant index + 1. A
    // message may be added (with a new id, and a line here), never
    // renumbered; the takeover query's 2 stays taken though nobody sends it.
    const std::pair<std::uint16_t, std::string_view> released[] = {
        {1, "host_report"}, {2, "shadow_query"}, {3, "heartbeat"}, {4, "alive"}, {5, "upstream"}};
    CHECK(std::size(released) == std::variant_size_v<message>);
    const auto types = type_table();
    for (const auto& [id, name] : released) {
        INFO("id " << id);
        const auto k = cg::common::index_of(types, id);
        REQUIRE(k);
        CHECK(types[*k].name == name);
    }
    CHECK(type_of<host_report>.id == 1);
    CHECK(type_of<shadow_query>.id == 2);
    CHECK(type_of<heartbeat>.id == 3);

    // On the wire, both ways: what seal() writes, and what open() reads as which message.
    const auto r = seal(report(1), the_key);
    const auto q = seal(envelope{node2, 1, 5, shadow_query{9, 0xc6120064}}, the_key);
    const auto h = seal(envelope{node2, 2, 5, heartbeat{4, 3, 1, 100, false, 10}}, the_key);
    CHECK(wire_type(r) == 1);
    CHECK(wire_type(q) == 2);
    CHECK(wire_type(h) == 3);
    CHECK(wire_type(seal(envelope{node2, 3, 5, upstream{}}, the_key)) == 5);
    CHECK(std::holds_alternative<host_report>(std::get<envelope>(open(r, the_key)).body));
    CHECK(std::holds_alternative<shadow_query>(std::get<envelope>(open(q, the_key)).body));
    CHECK(std::holds_alternative<heartbeat>(std::get<envelope>(open(h, the_key)).body));
}
