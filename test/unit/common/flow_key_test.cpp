// flow_key's hash (common/flow_key.hpp): built from the fields, it must stay
// the CRC of the key's 16 bytes, since dispatch and the tables depend on it.
#include <catch2/catch.hpp>

#include <cstring>
#include <nmmintrin.h>
#include <random>

#include "common/flow_key.hpp"

using cg::common::flow_key;

namespace {

/// The hash as first written: the key's bytes read as two words.
std::uint32_t hash_of_bytes(const flow_key& k) {
    std::uint64_t w[2];
    std::memcpy(w, &k, sizeof w);
    return static_cast<std::uint32_t>(_mm_crc32_u64(_mm_crc32_u64(0x9e3779b9u, w[0]), w[1]));
}

}  // namespace

TEST_CASE("flow_hash is the CRC of the key's bytes, whatever its fields", "[flow_key]") {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t r = rng(), s = rng();
        flow_key k;
        k.saddr = static_cast<std::uint32_t>(r);
        k.daddr = static_cast<std::uint32_t>(r >> 32);
        k.sport = static_cast<std::uint16_t>(s);
        k.dport = static_cast<std::uint16_t>(s >> 16);
        k.proto = static_cast<std::uint8_t>(s >> 32);
        REQUIRE(cg::common::flow_hash(k) == hash_of_bytes(k));
    }
    // Every field moves the hash.
    const flow_key base{0xc612000a, 0xc612000b, 40000, 2049, 6, {}};
    const std::uint32_t h = cg::common::flow_hash(base);
    const auto moved = [&](auto change) {
        flow_key k = base;
        change(k);
        return cg::common::flow_hash(k) != h;
    };
    CHECK(moved([](flow_key& k) { k.saddr ^= 1u << 31; }));
    CHECK(moved([](flow_key& k) { k.daddr ^= 1; }));
    CHECK(moved([](flow_key& k) { k.sport ^= 1u << 15; }));
    CHECK(moved([](flow_key& k) { k.dport ^= 1; }));
    CHECK(moved([](flow_key& k) { k.proto = 17; }));
}
