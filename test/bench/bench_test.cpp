// The generator's pure parts: flow plan, frames, latency histogram, node
// spread, argument parsing. No EAL.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "dataplane/pkt/classify.hpp"
#include "flow_plan.hpp"
#include "gen_frame.hpp"
#include "latency_hist.hpp"
#include "node_spread.hpp"
#include "pktgen_options.hpp"

using namespace cg;
using namespace cg::bench;

TEST_CASE("tuples map one to one onto slot and generation", "[bench][flow]") {
    std::set<std::pair<std::uint32_t, std::uint16_t>> seen;
    for (std::uint32_t slot : {0u, 1u, 255u, 256u, 65535u, 65536u, 9999999u, max_flows - 1}) {
        for (int g = 1; g <= 255; g += 127) {
            const auto t = tuple_of(slot, static_cast<std::uint8_t>(g));
            CHECK((t.saddr & 0xffff0000u) == client_net);
            CHECK(t.sport != 0);
            CHECK(seen.insert({t.saddr, t.sport}).second);
            const auto back = slot_of_tuple(t.saddr, t.sport);
            REQUIRE(back);
            CHECK(back->slot == slot);
            CHECK(back->gen == g);
        }
    }
    CHECK_FALSE(slot_of_tuple(0xc6120a01u, 1000));         // another network
    CHECK_FALSE(slot_of_tuple(client_net | 0x1234, 0x5600));  // generation 0 is never used
    CHECK(next_gen(255) == 1);
    CHECK(next_gen(1) == 2);
}

TEST_CASE("mix strings", "[bench][flow]") {
    const auto m = parse_mix("1:8:0.5:0.5");
    REQUIRE(m);
    CHECK(m->syn() == 1);
    CHECK(m->data() == 8);
    CHECK(m->fin() == 0.5);
    CHECK(m->rst() == 0.5);
    CHECK(format_mix(*m) == "1:8:0.5:0.5");
    for (const char* bad : {"", "1:2:3", "1:2:3:4:5", "0:0:0:0", "1:-1:0:0", "a:1:0:0", "1::0:0", "1:1:0:0:", "nan:1:0:0"})
        CHECK_FALSE(parse_mix(bad));
}

TEST_CASE("smooth weighted round-robin interleaves by share", "[bench][flow]") {
    swrr<4> s(std::array<double, 4>{1, 8, 0, 1});
    std::array<int, 4> n{};
    std::string seq;
    for (int i = 0; i < 10; ++i) {
        const auto k = s.next();
        ++n[k];
        seq += "SDFR"[k];
    }
    CHECK(n == std::array<int, 4>{1, 8, 0, 1});
    CHECK(seq.find("SR") == std::string::npos);  // spread out, not back to back
}

namespace {

/// Replays ops against a model of the gateway's table: the set of open
/// (slot, gen) connections. Returns false on an op that a real TCP client
/// would not send.
struct conn_model {
    std::set<std::pair<std::uint32_t, std::uint8_t>> open;
    std::uint64_t abandoned = 0;
    bool apply(const pkt_op& op, std::uint32_t flows) {
        if (op.slot >= flows || op.gen == 0) return false;
        const auto key = std::make_pair(op.slot, op.gen);
        switch (op.type) {
        case pkt_type::syn: {
            // A slot's previous connection, if still open, is abandoned.
            for (auto it = open.begin(); it != open.end(); ++it)
                if (it->first == op.slot) {
                    open.erase(it);
                    ++abandoned;
                    break;
                }
            return open.insert(key).second;
        }
        case pkt_type::data: return open.count(key) == 1;
        case pkt_type::fin:
        case pkt_type::rst: return open.erase(key) == 1;
        default: return false;
        }
    }
};

std::vector<flow_slot> zeroed(std::size_t n) { return std::vector<flow_slot>(n); }

/// The IPv4 header checksum of a frame verifies (sums to 0xffff).
bool wire_ok_checksum(const std::uint8_t* frame) {
    std::uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += static_cast<std::uint32_t>(frame[14 + i] << 8 | frame[15 + i]);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return sum == 0xffff;
}

}  // namespace

TEST_CASE("warm-up opens every slot once, then data visits them round-robin", "[bench][flow]") {
    auto mem = zeroed(5);
    flow_plan p(mem);
    conn_model m;
    for (std::uint32_t i = 0; i < 5; ++i) {
        const auto op = p.open();
        CHECK(op.type == pkt_type::syn);
        CHECK(op.slot == i);
        CHECK(op.gen == 1);
        REQUIRE(m.apply(op, 5));
    }
    CHECK(p.open_count() == 5);
    std::vector<std::uint32_t> slots;
    for (int i = 0; i < 10; ++i) {
        const auto op = p.next();  // default mix: data only
        CHECK(op.type == pkt_type::data);
        REQUIRE(m.apply(op, 5));
        slots.push_back(op.slot);
    }
    CHECK(slots == std::vector<std::uint32_t>{0, 1, 2, 3, 4, 0, 1, 2, 3, 4});
    CHECK(p.abandoned() == 0);
}

TEST_CASE("a mix with as many closes as SYNs keeps the flows open and sends only valid segments", "[bench][flow]") {
    const std::uint32_t flows = 100;
    auto mem = zeroed(flows);
    flow_plan p(mem, *parse_mix("2:6:1:1"));
    conn_model m;
    for (std::uint32_t i = 0; i < flows; ++i) REQUIRE(m.apply(p.open(), flows));
    std::array<std::uint64_t, pkt_type_count> n{};
    for (int i = 0; i < 100000; ++i) {
        const auto op = p.next();
        ++n[static_cast<std::size_t>(op.type)];
        REQUIRE(m.apply(op, flows));
        REQUIRE(p.open_count() >= flows - 2);
    }
    CHECK(n[0] == 20000);
    CHECK(n[1] == 60000);
    CHECK(n[2] == 10000);
    CHECK(n[3] == 10000);
    CHECK(m.abandoned == p.abandoned());
    CHECK(p.abandoned() <= 1);  // only while the first close has not come yet
}

TEST_CASE("SYN-only traffic opens every slot, then abandons the oldest", "[bench][flow]") {
    auto mem = zeroed(3);
    flow_plan p(mem, *parse_mix("1:0:0:0"));
    conn_model m;
    std::vector<std::pair<std::uint32_t, int>> got;
    for (int i = 0; i < 7; ++i) {
        const auto op = p.next();
        CHECK(op.type == pkt_type::syn);
        REQUIRE(m.apply(op, 3));
        got.emplace_back(op.slot, op.gen);
    }
    CHECK(got == std::vector<std::pair<std::uint32_t, int>>{{0, 1}, {1, 1}, {2, 1}, {0, 2}, {1, 2}, {2, 2}, {0, 3}});
    CHECK(p.abandoned() == 4);
    CHECK(m.abandoned == 4);
}

TEST_CASE("churn closes the oldest connection by the FIN:RST shares, then opens one", "[bench][flow]") {
    const std::uint32_t flows = 10;
    auto mem = zeroed(flows);
    flow_plan p(mem, *parse_mix("0:1:1:3"));
    conn_model m;
    for (std::uint32_t i = 0; i < flows; ++i) REQUIRE(m.apply(p.open(), flows));
    int fins = 0, rsts = 0;
    for (int i = 0; i < 40; ++i) {
        pkt_op ops[2];
        const unsigned k = p.churn(ops);
        REQUIRE(k == 2);
        CHECK(ops[1].type == pkt_type::syn);
        CHECK(ops[0].slot == ops[1].slot);  // the slot closed is the one reopened
        CHECK(ops[1].gen == next_gen(ops[0].gen));
        fins += ops[0].type == pkt_type::fin;
        rsts += ops[0].type == pkt_type::rst;
        REQUIRE(m.apply(ops[0], flows));
        REQUIRE(m.apply(ops[1], flows));
        REQUIRE(m.apply(p.data(), flows));
    }
    CHECK(fins == 10);
    CHECK(rsts == 30);
    CHECK(p.abandoned() == 0);

    auto mem2 = zeroed(2);
    flow_plan q(mem2, *parse_mix("0:1:0:0"));  // no FIN or RST share: abandon
    q.open();
    q.open();
    pkt_op ops[2];
    CHECK(q.churn(ops) == 1);
    CHECK(ops[0].type == pkt_type::syn);
    CHECK(q.abandoned() == 1);
}

TEST_CASE("assume_open takes every slot as open with generation 1", "[bench][flow]") {
    auto mem = zeroed(3);
    flow_plan p(mem, *parse_mix("0:1:0:1"));
    p.assume_open();
    CHECK(p.open_count() == 3);
    auto op = p.data();
    CHECK(op.type == pkt_type::data);
    CHECK(op.gen == 1);
    op = p.close(pkt_type::rst);
    CHECK(op.slot == 0);
    CHECK(op.gen == 1);
    op = p.open();
    CHECK(op.slot == 0);
    CHECK(op.gen == 2);
    CHECK(p.abandoned() == 0);
}

TEST_CASE("data and closes with nothing open open a connection instead", "[bench][flow]") {
    auto mem = zeroed(4);
    flow_plan p(mem);
    CHECK(p.data().type == pkt_type::syn);
    CHECK(p.close(pkt_type::rst).type == pkt_type::rst);
    CHECK(p.open_count() == 0);
    CHECK(p.close(pkt_type::fin).type == pkt_type::syn);
    CHECK(p.open_count() == 1);
}

TEST_CASE("the RX check follows connections, not slots", "[bench][flow]") {
    flow_slot s{};
    CHECK(rx_check(s, 1, 2) == rx_verdict::new_connection);
    CHECK(rx_check(s, 1, 2) == rx_verdict::same_node);
    CHECK(rx_check(s, 1, 0) == rx_verdict::other_node);
    CHECK(rx_check(s, 2, 0) == rx_verdict::new_connection);  // the slot's next connection may go elsewhere
    CHECK(rx_check(s, 2, 0) == rx_verdict::same_node);
}

TEST_CASE("generator frames are what the gateway's classifier expects", "[bench][frame]") {
    frame_params fp;
    fp.dst_mac = *common::parse_mac("02:00:00:00:00:01");
    fp.src_mac = *common::parse_mac("02:00:00:00:00:10");
    fp.vip = *common::parse_ipv4("198.18.0.100");
    fp.dport = 80;
    for (std::uint16_t size : {std::uint16_t{62}, std::uint16_t{64}, std::uint16_t{512}, std::uint16_t{1514}}) {
        fp.size = size;
        frame_template t(fp);
        std::vector<std::uint8_t> buf(size, 0xee);
        for (pkt_type type : {pkt_type::syn, pkt_type::data, pkt_type::fin, pkt_type::rst}) {
            const flow_tuple ft = tuple_of(123456, 7);
            t.write(buf.data(), ft, flags_of(type), 0x1122334455667788ull);
            dp::pkt_info info;
            REQUIRE_FALSE(dp::classify(buf.data(), size, info));
            CHECK(info.kind == dp::pkt_kind::tcp);
            CHECK(info.key.saddr == ft.saddr);
            CHECK(info.key.sport == ft.sport);
            CHECK(info.key.daddr == fp.vip);
            CHECK(info.key.dport == 80);
            CHECK(info.tcp_flags == flags_of(type));
            CHECK(wire_ok_checksum(buf.data()));

            rx_frame f;
            REQUIRE(parse_frame(buf.data(), size, fp.vip, 80, f) == rx_status::ok);
            CHECK(f.saddr == ft.saddr);
            CHECK(f.sport == ft.sport);
            CHECK(f.tsc == 0x1122334455667788ull);
            CHECK(f.dst_mac == mac_key(fp.dst_mac));
            CHECK(type_of_flags(f.tcp_flags) == type);
        }
    }
}

TEST_CASE("each malformed kind is dropped by the gateway's classifier for its own reason", "[bench][frame]") {
    frame_params fp;
    fp.vip = *common::parse_ipv4("198.18.0.100");
    fp.size = 64;
    frame_template t(fp);
    const dp::drop_reason want[malformed_kinds] = {dp::drop_reason::truncated, dp::drop_reason::bad_ip_header,
                                                   dp::drop_reason::ip_fragment, dp::drop_reason::bad_tcp_flags,
                                                   dp::drop_reason::bad_l4_header};
    for (unsigned k = 0; k < malformed_kinds; ++k) {
        std::vector<std::uint8_t> buf(64);
        t.write(buf.data(), tuple_of(0, 1), flags_of(pkt_type::malformed), 1);
        make_malformed(buf.data(), k);
        dp::pkt_info info;
        const auto r = dp::classify(buf.data(), 64, info);
        REQUIRE(r);
        CHECK(*r == want[k]);
        rx_frame f;
        CHECK(parse_frame(buf.data(), 64, fp.vip, 80, f) != rx_status::ok);
    }
}

TEST_CASE("frames for another address or port are foreign", "[bench][frame]") {
    frame_params fp;
    fp.vip = *common::parse_ipv4("198.18.0.100");
    frame_template t(fp);
    std::vector<std::uint8_t> buf(64);
    t.write(buf.data(), tuple_of(1, 1), tcp_syn, 1);
    rx_frame f;
    CHECK(parse_frame(buf.data(), 64, fp.vip + 1, 80, f) == rx_status::foreign);
    CHECK(parse_frame(buf.data(), 64, fp.vip, 81, f) == rx_status::foreign);
    CHECK(parse_frame(buf.data(), 61, fp.vip, 80, f) == rx_status::foreign);
}

TEST_CASE("histogram buckets cover every value exactly once, 1/32 wide at most", "[bench][latency]") {
    for (std::uint64_t v : {0ull, 1ull, 63ull, 64ull, 65ull, 127ull, 128ull, 1000ull, 123456789ull, ~0ull}) {
        const unsigned i = latency_hist::index_of(v);
        REQUIRE(i < latency_hist::bucket_count);
        CHECK(latency_hist::lower_of(i) <= v);
        CHECK(latency_hist::upper_of(i) >= v);
        CHECK(latency_hist::upper_of(i) - latency_hist::lower_of(i) <= std::max<std::uint64_t>(v / 32, 0));
    }
    for (unsigned i = 1; i < latency_hist::bucket_count; ++i)
        REQUIRE(latency_hist::lower_of(i) == latency_hist::upper_of(i - 1) + 1);
}

TEST_CASE("histogram percentiles are within 1/32 of the exact ones", "[bench][latency]") {
    std::mt19937_64 rng(42);
    std::lognormal_distribution<double> d(8.0, 1.0);  // a long tail, like latencies in cycles
    std::vector<std::uint64_t> v(200000);
    latency_hist h;
    for (auto& x : v) {
        x = static_cast<std::uint64_t>(d(rng));
        h.record(x);
    }
    std::sort(v.begin(), v.end());
    CHECK(h.count() == v.size());
    CHECK(h.max() == v.back());
    CHECK(h.min() == v.front());
    for (double p : {0.5, 0.9, 0.99, 0.999}) {
        const auto exact = static_cast<double>(v[static_cast<std::size_t>(std::ceil(p * v.size())) - 1]);
        const auto got = static_cast<double>(h.percentile(p));
        CHECK(got >= exact);
        CHECK(got <= exact * (1 + 1.0 / 32) + 1);
    }
    CHECK(h.percentile(1.0) == v.back());
}

TEST_CASE("histogram corner cases", "[bench][latency]") {
    latency_hist h;
    CHECK(h.percentile(0.5) == 0);
    CHECK(h.max() == 0);
    h.record(5000);
    CHECK(h.percentile(0.01) == 5000);  // clamped to what was recorded
    CHECK(h.percentile(0.99) == 5000);
    latency_hist g;
    g.record(10);
    g.merge(h);
    CHECK(g.count() == 2);
    CHECK(g.min() == 10);
    CHECK(g.max() == 5000);
    CHECK(g.percentile(0.5) == 10);
}

TEST_CASE("node spread against weights", "[bench][spread]") {
    const std::vector<std::uint32_t> w{3, 2, 1};
    const std::vector<std::uint64_t> exact{300, 200, 100};
    auto r = judge_spread(w, exact);
    CHECK(r.total == 600);
    CHECK(r.max_abs_dev_pct == Approx(0));
    CHECK(r.nodes[0].expected_pct == Approx(50));

    const std::vector<std::uint64_t> skew{330, 180, 90};
    r = judge_spread(w, skew);
    CHECK(r.nodes[0].dev_pct == Approx(10));
    CHECK(r.nodes[1].dev_pct == Approx(-10));
    CHECK(r.nodes[2].dev_pct == Approx(-10));
    CHECK(r.max_abs_dev_pct == Approx(10));

    const std::vector<std::uint32_t> w0{1, 0};
    r = judge_spread(w0, std::vector<std::uint64_t>{10, 2});
    CHECK(r.zero_weight_hits == 2);
    CHECK(r.nodes[1].dev_pct == 0);

    r = judge_spread(w, std::vector<std::uint64_t>{0, 0, 0});
    CHECK(r.total == 0);
    CHECK(r.max_abs_dev_pct == 0);
}

TEST_CASE("counts, nodes and the command line", "[bench][options]") {
    CHECK(parse_count("1000") == 1000);
    CHECK(parse_count("100k") == 100000);
    CHECK(parse_count("2.5M") == 2500000);
    CHECK(parse_count("1G") == 1e9);
    for (const char* bad : {"", "k", "-1", "+1", "1x", "1kk", "inf"}) CHECK_FALSE(parse_count(bad));

    const auto n = parse_node("02:00:00:00:01:01=3");
    REQUIRE(n);
    CHECK(n->weight == 3);
    CHECK(parse_node("02:00:00:00:01:01")->weight == 1);
    for (const char* bad : {"02:00:00:00:01", "02:00:00:00:01:01=", "02:00:00:00:01:01=x", "00:00:00:00:00:00=1",
                            "02:00:00:00:01:01=70000"})
        CHECK_FALSE(parse_node(bad));

    std::vector<std::string> words{"cg-pktgen", "--flows", "10M", "--mix", "1:0:0:1", "--rate", "2M",
                                   "--node",    "02:00:00:00:01:01=2", "--backup-device", "net_memif1,role=client",
                                   "--", "--log-level=8"};
    std::vector<char*> argv;
    for (auto& w : words) argv.push_back(w.data());
    const auto out = parse_pktgen_args(static_cast<int>(argv.size()), argv.data());
    REQUIRE(out.cfg);
    CHECK(out.cfg->flows == 10000000);
    CHECK(out.cfg->rate == 2e6);
    CHECK(out.cfg->traffic_mix.rst() == 1);
    REQUIRE(out.cfg->nodes.size() == 1);
    CHECK(out.cfg->nodes[0].weight == 2);
    CHECK(out.cfg->eal_extra == std::vector<std::string>{"--log-level=8"});
    CHECK(out.cfg->backup_device == "net_memif1,role=client");

    std::vector<std::string> bad{"cg-pktgen", "--flows", "20M"};
    std::vector<char*> argv2;
    for (auto& w : bad) argv2.push_back(w.data());
    const auto out2 = parse_pktgen_args(static_cast<int>(argv2.size()), argv2.data());
    CHECK_FALSE(out2.cfg);
    CHECK(out2.exit_code == 2);
    // No backup port unless asked.
    std::vector<std::string> plain{"cg-pktgen"};
    char* argv3[] = {plain[0].data()};
    const auto out3 = parse_pktgen_args(1, argv3);
    REQUIRE(out3.cfg);
    CHECK(out3.cfg->backup_device.empty());
}
