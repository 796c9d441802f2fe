// Which forwarded frames the active copies to the mirror port.
#include <catch2/catch.hpp>

#include "dataplane/pkt/wire.hpp"
#include "dataplane/tables/mirror_policy.hpp"

using namespace cg::dp;
using wire::tcp_ack, wire::tcp_fin, wire::tcp_rst, wire::tcp_syn;

TEST_CASE("every_frame copies every frame", "[mirror][policy]") {
    const mirror_policy p{true, true, 1, 1000};
    CHECK(p.copies(tcp_ack, false, 100, 101, 0));
    CHECK(p.copies(0, false, 100, 100, 12345));
}

TEST_CASE("state_changes copies SYN, FIN, RST, new connections and one refresh per interval", "[mirror][policy]") {
    const mirror_policy p{true, false, 1, 1000};
    CHECK(p.copies(tcp_syn, false, 10, 11, 0));
    CHECK(p.copies(tcp_fin | tcp_ack, false, 10, 11, 0));
    CHECK(p.copies(tcp_rst, false, 10, 11, 0));
    CHECK(p.copies(0, true, 0, 11, 0));  // a UDP flow's first datagram
    CHECK_FALSE(p.copies(tcp_ack, false, 10, 11, 0));

    // A connection sending every 10 ms for 10 s gets one refresh per second.
    for (const std::uint32_t hash : {0u, 1u, 777u, 0xdeadbeefu}) {
        unsigned copies = 0;
        std::uint32_t last_copy = 0;
        bool spaced = true;
        for (std::uint32_t t = 10; t <= 10'000; t += 10) {
            if (!p.copies(tcp_ack, false, t - 10, t, hash)) continue;
            if (copies > 0 && t - last_copy < 1000) spaced = false;
            ++copies;
            last_copy = t;
        }
        INFO("hash " << hash);
        CHECK((copies == 9 || copies == 10));
        CHECK(spaced);
    }
    // A quiet connection's next frame after an interval is copied.
    CHECK(p.copies(tcp_ack, false, 0, 5000, 0));
}

TEST_CASE("refreshes of many connections are spread over the interval by their hash", "[mirror][policy]") {
    const mirror_policy p{true, false, 1, 1000};
    // 1000 connections, each with one frame every millisecond: how many refreshes fall in each 100 ms?
    unsigned per_tenth[10] = {};
    for (std::uint32_t c = 0; c < 1000; ++c) {
        const std::uint32_t hash = c * 2654435761u;  // spread like a flow hash
        for (std::uint32_t t = 1001; t <= 2000; ++t)
            if (p.copies(tcp_ack, false, t - 1, t, hash)) ++per_tenth[(t - 1001) / 100];
    }
    for (const unsigned n : per_tenth) {
        CHECK(n > 50);
        CHECK(n < 150);
    }
}
