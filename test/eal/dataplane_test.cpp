// The real data plane (eal_dataplane: ports, lcores, RCU, rings) fed with
// frames through ring ports and a pcap vdev; every output frame checked.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/ctl_client.hpp"
#include "common/ctl_server.hpp"
#include "dataplane/ctl/ctl_service.hpp"
#include "dataplane/ctl/local_api.hpp"
#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/pkt/arp_icmp.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/pkt/wire.hpp"
#include "gateway_harness.hpp"
#include "support/pcap_file.hpp"

#include <rte_bus_vdev.h>

using namespace cg;
using namespace cg::test;
namespace api = cg::common::api;
namespace wire = cg::dp::wire;

namespace {

constexpr common::ipv4_addr vip = 0xc6120064;
constexpr common::ipv4_addr client = 0xc6120a01;
common::mac_addr node_mac(int i) { return {{0x02, 0, 0, 0, 0x01, static_cast<std::uint8_t>(i)}}; }
const common::mac_addr client_mac{{0x02, 0, 0, 0, 0, 0x10}};

/// The tests' gateway: `ports` is the YAML list of ports, `extra` more
/// top-level sections.
std::string gateway_config(const std::string& name, const std::string& lcores, const std::string& ports,
                           const std::string& extra = "") {
    return fmt::format(R"(
gateway: {{name: {0}, control_socket: /tmp/cg-{0}.sock, idle_sleep: 20us}}
eal: {{huge: false}}
lcores: {1}
ports: {2}
tables: {{connections: 2000, services: 8, nodes: 16, mbufs: 4095}}
{3}clusters:
  - name: web
    address: 198.18.0.100
    ports:
      - port: 80
        nodes:
          - {{address: 198.18.0.11, mac: "02:00:00:00:01:01", weight: 3}}
          - {{address: 198.18.0.12, mac: "02:00:00:00:01:02", weight: 2}}
          - {{address: 198.18.0.13, mac: "02:00:00:00:01:03", weight: 1}}
)",
                       name, lcores, ports, extra);
}

std::string config(const std::string& name, const std::string& device, const std::string& lcores,
                   const std::string& port_extra = "") {
    return gateway_config(name, lcores,
                          fmt::format(R"([{{name: lan, device: "{}", address: 198.18.0.2{}}}])", device, port_extra));
}

bytes tcp(const common::mac_addr& gw, std::uint16_t sport, std::uint8_t flags, common::ipv4_addr src = client,
          std::uint16_t dport = 80) {
    frame_spec s;
    s.dst_mac = gw;
    s.src_mac = client_mac;
    s.src = src;
    s.sport = sport;
    s.dport = dport;
    s.tcp_flags = flags;
    if (flags & wire::tcp_ack) s.payload = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    return make_ipv4(s);
}

/// The mixed input of the single-worker tests: 6 connections (SYN then
/// data), ARP and ping for the VIP, and 6 frames that must be dropped.
struct mixed_input {
    std::vector<bytes> frames;
    std::vector<int> expected_nodes;  ///< for the first 12 frames
    explicit mixed_input(const common::mac_addr& gw) {
        for (std::uint16_t i = 0; i < 6; ++i) frames.push_back(tcp(gw, 1000 + i, wire::tcp_syn));
        for (std::uint16_t i = 0; i < 6; ++i) frames.push_back(tcp(gw, 1000 + i, wire::tcp_ack));
        expected_nodes = {1, 1, 2, 1, 2, 3, 1, 1, 2, 1, 2, 3};
        frames.push_back(make_arp(1, client_mac, client, {}, vip));
        frame_spec ping;
        ping.dst_mac = gw;
        ping.proto = 1;
        frames.push_back(make_ipv4(ping));
        bytes cut = tcp(gw, 1, wire::tcp_syn);
        cut.resize(20);
        frames.push_back(cut);                                        // truncated
        frames.push_back(tcp(gw, 2, wire::tcp_syn | wire::tcp_fin));  // bad_tcp_flags
        frame_spec frag;
        frag.dst_mac = gw;
        frag.frag = 0x2000;
        frames.push_back(make_ipv4(frag));                   // ip_fragment
        frames.push_back(tcp(gw, 3, wire::tcp_syn, client, 8080));  // no_service
        frames.push_back(tcp(gw, 4, wire::tcp_ack));                 // no_connection
        bytes v6 = tcp(gw, 5, wire::tcp_syn);
        wire::store16(v6.data() + 12, 0x86dd);
        frames.push_back(v6);  // not_ipv4
    }
};

/// Checks the 14 frames the mixed input must produce, in order.
void check_mixed_output(const mixed_input& in, const std::vector<bytes>& out, const common::mac_addr& gw) {
    REQUIRE(out.size() == 14);
    for (std::size_t i = 0; i < 12; ++i) {
        INFO("forwarded frame " << i);
        CHECK(std::memcmp(out[i].data(), node_mac(in.expected_nodes[i]).b.data(), 6) == 0);
        CHECK(std::memcmp(out[i].data() + 6, gw.b.data(), 6) == 0);
        CHECK(bytes(out[i].begin() + 12, out[i].end()) == bytes(in.frames[i].begin() + 12, in.frames[i].end()));
    }
    dp::pkt_info info;
    REQUIRE_FALSE(dp::classify(out[12].data(), static_cast<std::uint32_t>(out[12].size()), info));
    const auto arp = dp::read_arp(out[12].data(), info);
    CHECK(arp.op == 2);
    CHECK(arp.sender_ip == vip);
    CHECK(arp.sender_mac == gw);
    REQUIRE_FALSE(dp::classify(out[13].data(), static_cast<std::uint32_t>(out[13].size()), info));
    CHECK(info.kind == dp::pkt_kind::icmp);
    CHECK(info.key.saddr == vip);
    CHECK(out[13][info.l4_off] == 0);
}

void check_mixed_drops(gateway_harness& h) {
    for (const char* reason : {"truncated", "bad_tcp_flags", "ip_fragment", "no_service", "no_connection", "not_ipv4"}) {
        INFO(reason);
        CHECK(h.drops(reason) == 1);
    }
    CHECK(h.stat("connections", "created") == 6);
}

}  // namespace

TEST_CASE("one worker on its own queue: every output frame is what the spec says", "[eal]") {
    ring_port port("ring_a", 1);
    gateway_harness h(config("ealtest-a", "eth:net_ring_ring_a", "{main: 0, workers: [1]}"));
    const auto gw = h.port_mac("lan");
    const mixed_input in(gw);
    h.receive(port, in.frames);
    const auto out = h.sent(port, 14);
    check_mixed_output(in, out, gw);
    CHECK(h.sent(port, 1, std::chrono::milliseconds(300)).empty());  // and nothing else
    check_mixed_drops(h);

    const auto t = h.api().expect<api::tables_rep>(api::show_tables_req{});
    const auto& nodes = t.clusters.at(0).ports.at(0).nodes;
    CHECK(nodes.at(0).new_conns == 3);
    CHECK(nodes.at(1).new_conns == 2);
    CHECK(nodes.at(2).new_conns == 1);
    CHECK(nodes.at(0).pkts == 6);
}

TEST_CASE("a dispatch lcore and two workers: each flow stays on one node, the spread follows the weights", "[eal]") {
    ring_port port("ring_b", 1);
    gateway_harness h(config("ealtest-b", "eth:net_ring_ring_b", "{main: 0, workers: [1, 2], dispatch: 3}"));
    const auto gw = h.port_mac("lan");
    constexpr int flows = 300;
    auto flow_src = [](int i) { return client + static_cast<common::ipv4_addr>(i / 100); };
    auto flow_port = [](int i) { return static_cast<std::uint16_t>(2000 + i); };
    for (std::uint8_t flags : {wire::tcp_syn, wire::tcp_ack, static_cast<std::uint8_t>(wire::tcp_fin | wire::tcp_ack)}) {
        std::vector<bytes> in;
        for (int i = 0; i < flows; ++i) in.push_back(tcp(gw, flow_port(i), flags, flow_src(i)));
        h.receive(port, in);
    }
    const auto out = h.sent(port, 3 * flows);
    REQUIRE(out.size() == 3 * flows);

    std::map<std::pair<common::ipv4_addr, std::uint16_t>, std::set<int>> nodes_of_flow;
    for (const auto& f : out) {
        dp::pkt_info info;
        REQUIRE_FALSE(dp::classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
        nodes_of_flow[{info.key.saddr, info.key.sport}].insert(f[5]);
    }
    REQUIRE(nodes_of_flow.size() == flows);
    std::map<int, int> spread;
    for (const auto& [flow, nodes] : nodes_of_flow) {
        CHECK(nodes.size() == 1);
        ++spread[*nodes.begin()];
    }
    // Each worker runs its own exact 3:2:1 round; two partial rounds are off by a few at most.
    CHECK(std::abs(spread[1] - 150) <= 4);
    CHECK(std::abs(spread[2] - 100) <= 4);
    CHECK(std::abs(spread[3] - 50) <= 4);

    // The control side sees both workers' tables, page by page.
    std::set<std::uint16_t> listed;
    std::set<std::uint16_t> workers;
    std::uint64_t cursor = 0;
    int pages = 0;
    do {
        const auto page = h.api().expect<api::conns_rep>(api::show_conns_req{cursor, 64});
        for (const auto& c : page.conns) {
            listed.insert(c.flow.sport);
            workers.insert(c.worker);
            CHECK(c.state == 2);  // FIN seen
        }
        cursor = page.next_cursor;
    } while (cursor != 0 && ++pages < 50);
    CHECK(listed.size() == flows);
    CHECK(workers.size() == 2);

    common::flow_key k{client, vip, flow_port(7), 80, 6};
    const auto sim = h.api().expect<api::simulate_rep>(api::simulate_req{k});
    CHECK(sim.verdict == "existing");
    CHECK(sim.worker == dp::worker_for_hash(common::flow_hash(k), 2));
}

/// net_pcap cannot change its MAC; it names each port it makes
/// 02:70:63:61:70:<ports made before> (its source says so). A throwaway
/// port tells where the count is, so the next port's MAC is known.
common::mac_addr next_pcap_mac(const std::string& dir) {
    const std::string empty = dir + "/empty.pcap";
    write_pcap(empty, {});
    const std::string args = fmt::format("rx_pcap={},tx_pcap={}/probe-out.pcap", empty, dir);
    REQUIRE(rte_vdev_init("net_pcap_probe", args.c_str()) == 0);
    std::uint16_t id = 0;
    REQUIRE(rte_eth_dev_get_port_by_name("net_pcap_probe", &id) == 0);
    rte_ether_addr mac{};
    rte_eth_macaddr_get(id, &mac);
    rte_eth_dev_close(id);
    rte_vdev_uninit("net_pcap_probe");
    common::mac_addr next;
    std::memcpy(next.b.data(), mac.addr_bytes, 6);
    ++next.b[5];
    return next;
}

TEST_CASE("two workers on their own queues (RSS): each owns its flows", "[eal]") {
    ring_port port("ring_f", 2);
    gateway_harness h(config("ealtest-f", "eth:net_ring_ring_f", "{main: 0, workers: [1, 2]}"));
    const auto gw = h.port_mac("lan");
    // The test plays the NIC: it spreads flows over the two queues by port parity.
    constexpr int flows = 120;
    for (std::uint8_t flags : {wire::tcp_syn, wire::tcp_ack}) {
        std::vector<bytes> q0, q1;
        for (int i = 0; i < flows; ++i) (i % 2 ? q1 : q0).push_back(tcp(gw, static_cast<std::uint16_t>(4000 + i), flags));
        h.receive(port, q0, 0);
        h.receive(port, q1, 1);
    }
    const auto out = h.sent(port, 2 * flows);
    REQUIRE(out.size() == 2 * flows);
    std::map<std::uint16_t, std::set<int>> nodes_of_flow;
    for (const auto& f : out) {
        dp::pkt_info info;
        REQUIRE_FALSE(dp::classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
        nodes_of_flow[info.key.sport].insert(f[5]);
    }
    std::map<int, int> spread;
    for (const auto& [flow, nodes] : nodes_of_flow) {
        CHECK(nodes.size() == 1);
        ++spread[*nodes.begin()];
    }
    // 60 flows per worker, each an exact multiple of a 3:2:1 round of 6.
    CHECK(spread[1] == 60);
    CHECK(spread[2] == 40);
    CHECK(spread[3] == 20);
    for (const auto& l : h.api().expect<api::hello_rep>(api::hello_req{}).lcores)
        if (l.role.starts_with("worker")) CHECK(l.conns == flows / 2);
}

TEST_CASE("a gateway that starts active announces its addresses by gratuitous ARP, three rounds", "[eal][role]") {
    ring_port port("ring_g", 1);
    gateway_harness h(config("ealtest-garp", "eth:net_ring_ring_g", "{main: 0, workers: [1]}"));
    const auto t0 = std::chrono::steady_clock::now();
    const auto garps = h.announced(port, 6);  // the port's address and the cluster address, each round
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(garps.size() == 6);
    std::map<common::ipv4_addr, int> per_address;
    for (const auto& f : garps) {
        dp::pkt_info info;
        REQUIRE_FALSE(dp::classify(f.data(), static_cast<std::uint32_t>(f.size()), info));
        const auto a = dp::read_arp(f.data(), info);
        CHECK(a.sender_mac == h.port_mac("lan"));
        ++per_address[a.sender_ip];
    }
    CHECK(per_address == std::map<common::ipv4_addr, int>{{0xc6120002, 3}, {0xc6120064, 3}});
    CHECK(took >= std::chrono::milliseconds(150));  // rounds 100 ms apart, not one burst
    CHECK(h.announced(port, 1, std::chrono::milliseconds(300)).empty());  // and then quiet
    CHECK(h.stat("control", "gratuitous_arps_sent") == 6);
}

TEST_CASE("each lcore runs the jobs of its role: router workers, one ARP resolver, the dispatcher", "[eal]") {
    using jobs = std::vector<std::string>;
    const jobs router{"route", "control", "age", "tickle", "flush"};
    const jobs resolver{"route", "control", "age", "tickle", "arp_resolver", "garp", "flush"};
    SECTION("workers on their own queues") {
        ring_port port("ring_j", 2);
        gateway_harness h(config("ealtest-j", "eth:net_ring_ring_j", "{main: 0, workers: [1, 2]}"));
        const auto lcores = h.api().expect<api::hello_rep>(api::hello_req{}).lcores;
        REQUIRE(lcores.size() == 3);
        CHECK(lcores[0].role == "main");
        CHECK(lcores[1].jobs == resolver);
        CHECK(lcores[2].jobs == router);
    }
    SECTION("behind a dispatch lcore") {
        ring_port port("ring_k", 1);
        gateway_harness h(config("ealtest-k", "eth:net_ring_ring_k", "{main: 0, workers: [1, 2], dispatch: 3}"));
        const auto lcores = h.api().expect<api::hello_rep>(api::hello_req{}).lcores;
        REQUIRE(lcores.size() == 4);
        CHECK(lcores[1].jobs == resolver);
        CHECK(lcores[2].jobs == router);
        CHECK(lcores[3].role == "dispatch");
        CHECK(lcores[3].jobs == jobs{"dispatch"});
    }
}

TEST_CASE("net_null's garbage: every frame is counted under one reason, nothing leaves", "[eal]") {
    gateway_harness h(config("ealtest-g", "net_null_t0,size=60", "{main: 0, workers: [1]}"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::uint64_t rx = 0;
    while (rx < 100'000) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        rx = h.api().expect<api::hello_rep>(api::hello_req{}).lcores.at(1).rx_pkts;
    }
    h.dataplane().stop();  // counters settle
    const auto& s = h.dataplane().stats(0);
    CHECK(s.rx_pkts.read() >= 100'000);
    CHECK(s.accounted() == s.rx_pkts.read());
    CHECK(s.fwd_pkts.read() == 0);
    // Only its own announcements leave, and the answers to them: net_null
    // hands back recycled mbufs, so a gratuitous ARP sent can come back in.
    CHECK(s.tx_pkts.read() == s.garps_sent.read() + s.arp_replies.read() + s.icmp_replies.read());
}

/// A memif client port in the test, facing the gateway's memif server port.
struct memif_peer {
    std::uint16_t id = 0;
    explicit memif_peer(const std::string& socket, rte_mempool* pool) {
        REQUIRE(rte_vdev_init("net_memif_peer", fmt::format("role=client,socket={},id=0", socket).c_str()) == 0);
        REQUIRE(rte_eth_dev_get_port_by_name("net_memif_peer", &id) == 0);
        rte_eth_conf conf{};
        REQUIRE(rte_eth_dev_configure(id, 1, 1, &conf) == 0);
        REQUIRE(rte_eth_rx_queue_setup(id, 0, 1024, 0, nullptr, pool) == 0);
        REQUIRE(rte_eth_tx_queue_setup(id, 0, 1024, 0, nullptr) == 0);
        REQUIRE(rte_eth_dev_start(id) == 0);
    }
    ~memif_peer() {
        // DPDK 22.11's memif driver races with itself when both ends of a
        // pair in one process disconnect at once (the interrupt thread and
        // the closing thread both free the regions). So only the gateway
        // initiates: wait until this end has seen it leave, then close.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
        while (link_up() && std::chrono::steady_clock::now() < until)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        rte_eth_dev_stop(id);
        rte_eth_dev_close(id);
        rte_vdev_uninit("net_memif_peer");
    }
    bool link_up() {
        rte_eth_link l{};
        return rte_eth_link_get_nowait(id, &l) == 0 && l.link_status == RTE_ETH_LINK_UP;
    }
};

TEST_CASE("net_memif: frames from a memif peer come back rewritten for their nodes", "[eal][memif]") {
    const std::string sock = fmt::format("/tmp/cg-ealtest-memif-{}.sock", getpid());
    std::filesystem::remove(sock);
    struct pool_free {
        void operator()(rte_mempool* p) const noexcept { rte_mempool_free(p); }
    };
    std::unique_ptr<rte_mempool, pool_free> pool(
        rte_pktmbuf_pool_create("memif_peer", 4095, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0));
    REQUIRE(pool);
    // The peer outlives the gateway: DPDK 22.11's memif driver unmaps the
    // shared regions from its interrupt thread when the other side leaves,
    // without waiting for the lcore polling them (docs/operations.md).
    std::optional<memif_peer> live_peer;
    gateway_harness h(config("ealtest-h", fmt::format("net_memif_gw,role=server,socket={},id=0", sock),
                             "{main: 0, workers: [1]}"));
    memif_peer& peer = live_peer.emplace(sock, pool.get());
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (!peer.link_up()) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    const auto gw = h.port_mac("lan");
    std::vector<rte_mbuf*> in;
    for (std::uint16_t i = 0; i < 6; ++i) {
        const bytes f = tcp(gw, static_cast<std::uint16_t>(5000 + i), wire::tcp_syn);
        rte_mbuf* m = rte_pktmbuf_alloc(pool.get());
        std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(), f.size());
        in.push_back(m);
    }
    REQUIRE(rte_eth_tx_burst(peer.id, 0, in.data(), 6) == 6);
    std::string nodes;
    while (nodes.size() < 6) {
        REQUIRE(std::chrono::steady_clock::now() < deadline);
        rte_mbuf* got[8];
        const std::uint16_t n = rte_eth_rx_burst(peer.id, 0, got, 8);
        for (std::uint16_t i = 0; i < n; ++i) {
            const auto* p = rte_pktmbuf_mtod(got[i], const std::uint8_t*);
            CHECK(std::memcmp(p + 6, gw.b.data(), 6) == 0);
            nodes += static_cast<char>('0' + p[5]);
            rte_pktmbuf_free(got[i]);
        }
        if (n == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    CHECK(nodes == "112123");
}

TEST_CASE("net_pcap in and out: the capture of what left is what the spec says", "[eal][pcap]") {
    const auto dir = std::filesystem::temp_directory_path() / fmt::format("cg-eal-pcap-{}", getpid());
    std::filesystem::create_directories(dir);
    const std::string in_pcap = (dir / "in.pcap").string(), out_pcap = (dir / "out.pcap").string();
    const common::mac_addr gw = next_pcap_mac(dir.string());
    const mixed_input in(gw);
    write_pcap(in_pcap, in.frames);
    {
        gateway_harness h(config("ealtest-c", fmt::format("net_pcap_t1,rx_pcap={},tx_pcap={}", in_pcap, out_pcap),
                                 "{main: 0, workers: [1]}"));
        REQUIRE(h.port_mac("lan") == gw);
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        while (h.stat("connections", "created") < 6 || h.drops("not_ipv4") < 1) {
            REQUIRE(std::chrono::steady_clock::now() < deadline);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        check_mixed_drops(h);
    }  // stopping closes the port, which flushes out.pcap
    auto out = read_pcap(out_pcap);
    CHECK(std::erase_if(out, is_gratuitous_arp) >= 2);  // it started active: port and cluster address announced
    check_mixed_output(in, out, gw);
    std::filesystem::remove_all(dir);
}

TEST_CASE("a port MAC the device cannot take stops the start with that reason", "[eal]") {
    ring_port port("ring_e", 1);
    CHECK_THROWS_WITH(gateway_harness(config("ealtest-e", "eth:net_ring_ring_e", "{main: 0, workers: [1]}",
                                             ", mac: '02:00:00:00:00:99'")),
                      Catch::Contains("port lan (eth:net_ring_ring_e): setting the MAC failed"));
    // Nothing was left behind: the same port starts cleanly without the MAC.
    gateway_harness h(config("ealtest-e", "eth:net_ring_ring_e", "{main: 0, workers: [1]}"));
    CHECK(h.dataplane().worker_count() == 1);
}

TEST_CASE("the control socket serves the API and survives bad frames", "[eal][api]") {
    ring_port port("ring_d", 1);
    gateway_harness h(config("ealtest-d", "eth:net_ring_ring_d", "{main: 0, workers: [1]}"));
    const std::string path = fmt::format("/tmp/cg-ealtest-{}.sock", getpid());
    boost::asio::io_context io;
    dp::ctl_service local(io, h.controller());
    auto server = std::make_unique<common::ctl_server>(io, path, local, [&] { h.controller().count_bad_frame(); },
                                                       "gatewayd");
    std::thread loop([&] { io.run(); });

    {
        api::ctl_client c(path);
        c.expect<api::ok_rep>(api::add_node_req{{vip, common::l4_proto::tcp, 80}, 0xc6120000 + 14, node_mac(4), 6, {}, "", false});
        const auto hello = c.expect<api::hello_rep>(api::hello_req{"test"});
        CHECK(hello.gateway == "ealtest-d");
        CHECK(hello.lcores.size() == 2);
        CHECK_THROWS_WITH(c.expect<api::ok_rep>(api::add_cluster_req{"web", vip}), Catch::Contains("exists already"));
    }
    const auto gw = h.port_mac("lan");
    h.receive(port, {tcp(gw, 3000, wire::tcp_syn)});
    const auto out = h.sent(port, 1);
    REQUIRE(out.size() == 1);
    CHECK(out[0][5] == 4);  // weight 6 is the new maximum: the first pick
    {
        api::ctl_client c(path);  // a worker job, answered from the server's poll timer
        const auto page = c.expect<api::conns_rep>(api::show_conns_req{0, 10});
        REQUIRE(page.conns.size() == 1);
        CHECK(page.conns[0].node == 0xc6120000 + 14);
    }

    // Garbage: the server answers with an error, counts it, closes; others go on.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    const char junk[api::header_size] = "GET / HTTP/1.1\n";
    REQUIRE(::write(fd, junk, sizeof junk) == static_cast<ssize_t>(sizeof junk));
    std::uint8_t head[api::header_size];
    REQUIRE(::recv(fd, head, sizeof head, MSG_WAITALL) == static_cast<ssize_t>(sizeof head));
    api::frame_header fh;
    REQUIRE_FALSE(api::decode_header(head, fh));
    CHECK(fh.type == api::type_of<api::error_rep>.id);
    ::close(fd);
    api::ctl_client again(path);
    CHECK(again.expect<api::hello_rep>(api::hello_req{}).gateway == "ealtest-d");
    CHECK(h.stat("control", "bad_frames") == 1);

    io.stop();
    loop.join();
    server.reset();
    CHECK_FALSE(std::filesystem::exists(path));

    // A control_socket path that holds something else is refused, untouched.
    const std::string file = fmt::format("/tmp/cg-ealtest-{}.notasocket", getpid());
    std::ofstream(file) << "precious";
    boost::asio::io_context io2;
    CHECK_THROWS_WITH(common::ctl_server(io2, file, local, [] {}, "gatewayd"), Catch::Contains("exists and is not a socket"));
    std::ifstream kept(file);
    std::string text;
    kept >> text;
    CHECK(text == "precious");
    std::filesystem::remove(file);
}

namespace {

/// A gateway with the mirror on port peer (ring `peer_ring`), every frame.
std::string mirror_config(const std::string& name, const std::string& lan_ring, const std::string& peer_ring,
                          const std::string& lcores) {
    return gateway_config(name, lcores,
                          fmt::format(R"([{{name: lan, device: "eth:net_ring_{}", address: 198.18.0.2}},
        {{name: peer, device: "eth:net_ring_{}"}}])",
                                      lan_ring, peer_ring),
                          "mirror: {port: peer, mode: every_frame}\n");
}

std::map<std::uint16_t, std::pair<std::uint8_t, std::uint8_t>> conns_by_sport(gateway_harness& h) {
    std::map<std::uint16_t, std::pair<std::uint8_t, std::uint8_t>> out;  // sport -> (node's last byte, state)
    std::uint64_t cursor = 0;
    int pages = 0;
    do {
        const auto page = h.api().expect<api::conns_rep>(api::show_conns_req{cursor, 64});
        for (const auto& c : page.conns)
            out[c.flow.sport] = {static_cast<std::uint8_t>(c.node & 0xff), c.state};
        cursor = page.next_cursor;
    } while (cursor != 0 && ++pages < 50);
    return out;
}

}  // namespace

TEST_CASE("the active copies what it forwards to the mirror port; as standby it follows such copies",
          "[eal][mirror]") {
    const auto [label, lcores] = GENERATE(std::pair<std::string, std::string>{"own queue", "{main: 0, workers: [1]}"},
                                          std::pair<std::string, std::string>{
                                              "dispatch", "{main: 0, workers: [1, 2], dispatch: 3}"});
    INFO(label);
    const std::string tag = label == "own queue" ? "q" : "d";
    ring_port lan("ring_ml" + tag, 1), peer("ring_mp" + tag, 1);
    gateway_harness h(mirror_config("ealtest-m" + tag, "ring_ml" + tag, "ring_mp" + tag, lcores));
    const auto gw = h.port_mac("lan");

    // Active: every forwarded frame leaves on lan and, as forwarded, on peer.
    std::vector<bytes> in;
    for (std::uint16_t i = 0; i < 6; ++i) in.push_back(tcp(gw, static_cast<std::uint16_t>(1000 + i), wire::tcp_syn));
    for (std::uint16_t i = 0; i < 6; ++i) in.push_back(tcp(gw, static_cast<std::uint16_t>(1000 + i), wire::tcp_ack));
    in.push_back(tcp(gw, 999, wire::tcp_ack));  // no connection: dropped, not mirrored
    h.receive(lan, in);
    auto forwarded = h.sent(lan, 12);
    auto copies = h.sent(peer, 12);
    REQUIRE(forwarded.size() == 12);
    REQUIRE(copies.size() == 12);
    std::sort(forwarded.begin(), forwarded.end());
    std::sort(copies.begin(), copies.end());
    CHECK(copies == forwarded);
    CHECK(h.sent(peer, 1, std::chrono::milliseconds(200)).empty());
    CHECK(h.stat("control", "mirror_sent") == 12);
    CHECK(h.stat("control", "mirror_dropped") == 0);

    // What arrives on the mirror port of an active is not followed.
    h.receive(peer, {copies.front()});
    for (int i = 0; i < 100 && h.stat("control", "mirror_ignored") == 0; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(h.stat("control", "mirror_ignored") == 1);

    // Standby: another active's copies make and end its connections, on the nodes their MACs name.
    h.api().expect<api::ok_rep>(api::set_role_req{"standby", 0});
    std::vector<bytes> mirrored;
    for (int n = 1; n <= 3; ++n) {
        frame_spec s;
        s.dst_mac = node_mac(n);
        s.src = client;
        s.sport = static_cast<std::uint16_t>(3000 + n);
        mirrored.push_back(make_ipv4(s));  // SYN
    }
    frame_spec fin;
    fin.dst_mac = node_mac(1);
    fin.sport = 3001;
    fin.tcp_flags = wire::tcp_fin | wire::tcp_ack;
    mirrored.push_back(make_ipv4(fin));
    frame_spec rst = fin;
    rst.dst_mac = node_mac(2);  // 1000 went to node 1, 1001 to node 1, 1002 to node 2 (3:2:1)
    rst.sport = 1002;
    rst.tcp_flags = wire::tcp_rst;
    mirrored.push_back(make_ipv4(rst));
    frame_spec stranger = fin;
    stranger.dst_mac = {{0x02, 0, 0, 0, 0x0e, 0x0e}};
    stranger.sport = 3999;
    mirrored.push_back(make_ipv4(stranger));
    h.receive(peer, mirrored);
    for (int i = 0; i < 200 && h.stat("control", "mirror_followed") + h.stat("control", "mirror_unknown_node") < 6; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    CHECK(h.stat("control", "mirror_followed") == 5);
    CHECK(h.stat("control", "mirror_unknown_node") == 1);
    const auto conns = conns_by_sport(h);
    using entry = std::pair<std::uint8_t, std::uint8_t>;
    CHECK(conns.at(3001) == entry{11, 2});  // FIN
    CHECK(conns.at(3002) == entry{12, 1});
    CHECK(conns.at(3003) == entry{13, 1});
    CHECK_FALSE(conns.contains(1002));      // reset
    CHECK_FALSE(conns.contains(3999));
    CHECK(conns.size() == 5 + 3);           // 1000..1005 but 1002, and the three followed
    CHECK(h.sent(lan, 1, std::chrono::milliseconds(200)).empty());  // a standby sends nothing for them
}

TEST_CASE("a full mirror queue drops copies, counted, and never a forwarded frame", "[eal][mirror]") {
    ring_port lan("ring_mlf", 1), peer("ring_mpf", 1, 256);  // nobody drains peer: 255 copies fit
    gateway_harness h(mirror_config("ealtest-mf", "ring_mlf", "ring_mpf", "{main: 0, workers: [1]}"));
    const auto gw = h.port_mac("lan");
    constexpr std::size_t rounds = 4, per_round = 500;
    std::size_t forwarded = 0;
    for (std::size_t r = 0; r < rounds; ++r) {
        std::vector<bytes> in;
        for (std::size_t i = 0; i < per_round; ++i)
            in.push_back(tcp(gw, static_cast<std::uint16_t>(10'000 + r * per_round + i), wire::tcp_syn));
        h.receive(lan, in);
        forwarded += h.sent(lan, per_round).size();
    }
    CHECK(forwarded == rounds * per_round);
    const std::uint64_t sent = h.stat("control", "mirror_sent"), dropped = h.stat("control", "mirror_dropped");
    CHECK(sent == 255);
    CHECK(sent + dropped == rounds * per_round);
    CHECK(h.drops("tx_full") == 0);
}
