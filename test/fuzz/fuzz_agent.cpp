// libFuzzer harness for the node agents' datagrams and the gateway pair's
// heartbeats (control/agent_msg.hpp): what controld reads from the network,
// from anybody.
//
// Each input is tried twice: as it is (almost always refused: the MAC), and
// signed by the harness with the receiver's key, so that the payload decoder
// behind the MAC is fuzzed too. For each:
//  - the receiver never crashes, and every refusal has its reason and counts;
//  - an accepted datagram re-seals to exactly the same bytes (one encoding
//    per message: anything else means the decoder took bytes the encoder
//    would never write);
//  - the same datagram again is refused as a replay.
// A violation aborts, which libFuzzer reports as a crash.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <vector>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "control/proto/agent_msg.hpp"

namespace {

using namespace cg::control::agent;

const key the_key(32, 0x42);

[[noreturn]] void fail(const char* what) {
    std::fprintf(stderr, "fuzz_agent: %s\n", what);
    std::abort();
}

std::uint64_t total(const receiver& r) {
    std::uint64_t n = r.accepted();
    for (std::size_t i = 0; i < refusal_count; ++i) n += r.count(static_cast<refusal>(i));
    return n;
}

void check(std::span<const std::uint8_t> d) {
    receiver rx(the_key, ~std::uint64_t{0} >> 1);  // any clock: the sender's time is fuzzed too
    if (d.size() >= 12) {
        // Let the sender it names be a known peer, sending from its address.
        const cg::common::ipv4_addr sender = d[8] | (d[9] << 8) | (d[10] << 16) | (std::uint32_t{d[11]} << 24);
        rx.allow(sender);
        auto r = rx.accept(d, sender, 0);
        if (total(rx) != 1) fail("a datagram was not counted exactly once");
        if (auto* e = std::get_if<envelope>(&r)) {
            const auto again = seal(*e, the_key);
            if (!std::ranges::equal(again, d)) fail("accepted a datagram that does not re-seal to the same bytes");
            auto replay = rx.accept(d, sender, 0);
            auto* refused_again = std::get_if<refused>(&replay);
            if (!refused_again || refused_again->why != refusal::replayed) fail("a replay was not refused as one");
        } else if (std::get<refused>(r).detail.empty()) {
            fail("a refusal without a reason");
        }
    } else if (!std::holds_alternative<refused>(rx.accept(d, 0, 0))) {
        fail("accepted a datagram shorter than its header");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> in(data, size);
    check(in);
    if (size >= header_size && size <= max_datagram) {
        std::vector<std::uint8_t> signed_copy(in.begin(), in.end());
        unsigned char mac[mac_size];
        unsigned int len = 0;
        HMAC(EVP_sha256(), the_key.data(), static_cast<int>(the_key.size()), signed_copy.data(), signed_copy.size(),
             mac, &len);
        signed_copy.insert(signed_copy.end(), mac, mac + len);
        check(signed_copy);
    }
    return 0;
}
