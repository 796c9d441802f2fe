// fuzz_seeds DIR: writes the seed corpus of every harness, DIR/router,
// DIR/ctl_msg, DIR/config, DIR/agent and DIR/shadow, one file per seed.
// Seeds are generated rather than checked in so that they follow the frame
// builders, the codecs and the reference configuration as those change.
//
// Router seeds are single frames of every kind the classifier tells apart,
// and bursts in fuzz_router's record format (router_input.hpp) that open,
// close, reset and age connections across snapshots, so that mutation
// starts from states deep in the router instead of from the parser's edge.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/ctl_msg.hpp"
#include "control/proto/agent_msg.hpp"
#include "control/proto/shadow_msg.hpp"
#include "router_input.hpp"
#include "support/diag_msgs.hpp"
#include "support/frames.hpp"
#include "support/router_fixture.hpp"

#ifndef CG_SOURCE_DIR
#error "CG_SOURCE_DIR must name the source tree (test/fuzz/meson.build sets it)"
#endif

namespace fs = std::filesystem;
using namespace cg;
using test::bytes;
using test::frame_spec;

namespace {

int written = 0;

void write(const fs::path& dir, const std::string& name, const std::vector<std::uint8_t>& data) {
    std::ofstream out(dir / name, std::ios::binary);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) throw std::runtime_error("cannot write " + (dir / name).string());
    ++written;
}

// ---- router -------------------------------------------------------------

frame_spec tcp(std::uint16_t sport, std::uint8_t flags) {
    frame_spec s;
    s.sport = sport;
    s.tcp_flags = flags;
    return s;
}

bytes udp_dns(std::uint16_t sport) {
    frame_spec s;
    s.proto = 17;
    s.sport = sport;
    s.dport = 53;
    s.payload = std::string("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
    return test::make_ipv4(s);
}

bytes icmp_echo(common::ipv4_addr to, const common::mac_addr& dst_mac = test::gw_mac) {
    frame_spec s;
    s.proto = 1;
    s.dst = to;
    s.dst_mac = dst_mac;
    return test::make_ipv4(s);
}

bytes arp_who_has(common::ipv4_addr target) {
    return test::make_arp(1, test::client_mac, test::client_ip, {}, target);
}

/// Node .13 answering the gateway's ARP request (how its MAC is learned).
bytes arp_reply_node3() {
    return test::make_arp(2, test::node_mac(3), test::node_ip(3), test::gw_mac, test::gw_ip, test::gw_mac);
}

void router_seeds(const fs::path& dir) {
    using wire_flags = std::uint8_t;
    constexpr wire_flags syn = 0x02, ack = 0x10, fin = 0x01, rst = 0x04, psh = 0x08;

    // Single frames: one per classifier branch worth reaching.
    write(dir, "tcp-syn", test::make_ipv4(tcp(40000, syn)));
    write(dir, "tcp-ack", test::make_ipv4(tcp(40000, ack)));
    write(dir, "tcp-fin", test::make_ipv4(tcp(40000, fin | ack)));
    write(dir, "tcp-rst", test::make_ipv4(tcp(40000, rst)));
    write(dir, "tcp-syn-fin", test::make_ipv4(tcp(40000, syn | fin)));
    {
        frame_spec s = tcp(40000, psh | ack);
        s.payload = "GET / HTTP/1.0\r\n\r\n";
        write(dir, "tcp-data", test::make_ipv4(s));
    }
    write(dir, "udp-dns", udp_dns(5300));
    write(dir, "icmp-echo-gw", icmp_echo(test::gw_ip));
    write(dir, "icmp-echo-vip", icmp_echo(test::vip));
    write(dir, "arp-request-vip", arp_who_has(test::vip));
    write(dir, "arp-request-gw", arp_who_has(test::gw_ip));
    write(dir, "arp-request-other", arp_who_has(0xc6120063));
    write(dir, "arp-reply-node", arp_reply_node3());
    {
        frame_spec s = tcp(40001, syn);
        s.vlans = {100};
        write(dir, "vlan-syn", test::make_ipv4(s));
        s.vlans = {100, 200};
        write(dir, "qinq-syn", test::make_ipv4(s));
        s.vlans = {100, 200, 300};
        write(dir, "vlan3-syn", test::make_ipv4(s));
    }
    {
        frame_spec s = tcp(40002, syn);
        s.ip_options = 8;
        write(dir, "ipopt-syn", test::make_ipv4(s));
        s.ip_options = 40;
        write(dir, "ipopt-max-syn", test::make_ipv4(s));
    }
    {
        frame_spec s;
        s.proto = 17;
        s.dport = 53;
        s.payload = std::string(64, 'x');
        s.frag = 0x2000;  // first fragment: MF set
        write(dir, "frag-first", test::make_ipv4(s));
        s.frag = 0x0008;  // a later fragment: offset 64 bytes
        write(dir, "frag-later", test::make_ipv4(s));
    }
    {
        frame_spec s;
        s.proto = 47;  // GRE: neither TCP, UDP nor ICMP
        s.payload = "gre";
        write(dir, "other-proto", test::make_ipv4(s));
    }

    // Bursts in the record format.
    using fuzz::append_record;
    using fuzz::control;
    bytes rec;
    // One connection's life: SYN, ACK, data, FIN, last ACK, FIN timer runs out.
    append_record(rec, test::make_ipv4(tcp(41000, syn)), control(0));
    append_record(rec, test::make_ipv4(tcp(41000, ack)), control(0, 2));
    append_record(rec, test::make_ipv4(tcp(41000, psh | ack)), control(0));
    append_record(rec, test::make_ipv4(tcp(41000, fin | ack)), control(0, 2));
    append_record(rec, test::make_ipv4(tcp(41000, ack)), control(0, 1));
    append_record(rec, test::make_ipv4(tcp(41000, syn)), control(0, 1));      // FIN -> ACTIVE again
    append_record(rec, test::make_ipv4(tcp(41000, syn)), control(0));         // SYN on an ACTIVE entry
    append_record(rec, test::make_ipv4(tcp(41000, fin | ack)), control(0));
    append_record(rec, test::make_ipv4(tcp(41000, ack)), control(0, 4, false, false, true));  // expired, not swept
    append_record(rec, test::make_ipv4(tcp(41000, syn)), control(0, 1));
    append_record(rec, test::make_ipv4(tcp(41000, ack)), control(0, 6, false, false, true));  // stale, not swept
    write(dir, "burst-tcp-life", rec);

    // More connections than the table holds, then a reset and stale expiry.
    rec.clear();
    for (std::uint16_t p = 0; p < 12; ++p) append_record(rec, test::make_ipv4(tcp(42000 + p, syn)), control(0));
    append_record(rec, test::make_ipv4(tcp(42003, rst)), control(0, 1, false, true));
    append_record(rec, test::make_ipv4(tcp(42004, ack)), control(0, 5));
    append_record(rec, test::make_ipv4(tcp(42005, ack)), control(0, 6));
    write(dir, "burst-table-full", rec);

    // Connections on every node, then .12 drains, then its slot is reused.
    rec.clear();
    for (std::uint16_t p = 0; p < 6; ++p) append_record(rec, test::make_ipv4(tcp(43000 + p, syn)), control(0));
    append_record(rec, udp_dns(5301), control(0));
    for (std::uint16_t p = 0; p < 6; ++p)
        append_record(rec, test::make_ipv4(tcp(43000 + p, ack)), control(0, p == 0 ? 1 : 0, p == 0));
    append_record(rec, test::make_ipv4(tcp(43010, syn)), control(0));
    for (std::uint16_t p = 0; p < 6; ++p)
        append_record(rec, test::make_ipv4(tcp(43000 + p, p % 2 ? fin | ack : ack)), control(0, 0, p == 0));
    append_record(rec, test::make_ipv4(tcp(43011, syn)), control(0, 3));
    write(dir, "burst-snapshots", rec);

    // ARP and ICMP on both ports, a learned MAC, traffic on the wan port.
    rec.clear();
    append_record(rec, arp_who_has(test::vip), control(0));
    append_record(rec, arp_who_has(test::gw_ip), control(1));
    append_record(rec, arp_reply_node3(), control(0));
    append_record(rec, icmp_echo(test::gw_ip), control(0));
    append_record(rec, icmp_echo(test::vip, fuzz::wan_mac), control(1));
    {
        frame_spec s = tcp(44000, syn);
        s.dst_mac = fuzz::wan_mac;
        append_record(rec, test::make_ipv4(s), control(1, 0, false, true));
        s.tcp_flags = ack;
        append_record(rec, test::make_ipv4(s), control(1, 1));
        append_record(rec, test::make_ipv4(s), control(2));
    }
    append_record(rec, udp_dns(5302), control(0, 7));
    append_record(rec, udp_dns(5302), control(0));
    write(dir, "burst-arp-icmp-wan", rec);
}

// ---- ctl_msg --------------------------------------------------------------

void ctl_msg_seeds(const fs::path& dir) {
    using namespace common::api;
    const service_key http{test::vip, common::l4_proto::tcp, 80};
    common::flow_key k;
    k.saddr = test::client_ip, k.daddr = test::vip, k.sport = 40000, k.dport = 80, k.proto = 6;

    const std::vector<request> requests = {
        hello_req{"gwctl"},
        show_tables_req{test::vip},
        add_cluster_req{"web", test::vip},
        del_cluster_req{test::vip},
        add_port_req{http, 30'000, {}, 8'100'000, 100},
        del_port_req{http},
        add_node_req{http, test::node_ip(1), test::node_mac(1), 3, 10, "lan", false},
        add_node_req{http, test::node_ip(2), std::nullopt, 0, std::nullopt, "", true},
        del_node_req{http, test::node_ip(2)},
        set_node_req{http, test::node_ip(1), 5, true},
        show_stats_req{},
        show_conns_req{(1ull << 32) | 17, 50},
        simulate_req{k},
        reload_req{"/etc/clustergate/gateway.yaml"},
        dump_conns_req{1, 4096, 1000},
        insert_conns_req{{conn_record{k, test::node_ip(1), 1}, conn_record{k, test::node_ip(2), 2}}, true},
        set_role_req{"standby"},
    };
    for (std::uint32_t i = 0; i < requests.size(); ++i)
        write(dir, "req-" + std::to_string(i), encode_request(requests[i], i + 1));

    port_view port{"lan", "0000:3b:00.0", test::gw_mac, test::gw_ip, true, 25'000, 1, 2, 3, 4, 5, 6, 7, 8};
    lcore_view lcore{2, "worker", 10, 9, 9, 1, 3, 1000, 100};
    node_view node;
    node.address = test::node_ip(1);
    node.mac = test::node_mac(1);
    node.mac_source = 1;
    node.weight = node.effective_weight = 3;
    node.weight_bound = 10;
    node.port = "lan";
    node.new_conns = 1ull << 40;
    service_view svc;
    svc.port = 80;
    svc.nodes = {node, node};
    const std::vector<reply> replies = {
        ok_rep{"done"},
        error_rep{"config invalid", {"gw.yaml:3: tables.nodes: not a number", "gw.yaml:9: ports: empty"}},
        hello_rep{1, "gw", "clustergate 0.1.0", 12345, {port}, {lcore, lcore}},
        tables_rep{{cluster_view{"web", test::vip, {svc}}}, {node}},
        stats_rep{99, {port}, {lcore}, {{"no_service", 4}, {"truncated", 1}}, {{"created", 7}}, {{"reloads", 1}}},
        conns_rep{{conn_view{k, test::node_ip(1), 1, 250, 0}, conn_view{k, test::node_ip(2), 2, 10, 1}}, 7, 2},
        simulate_rep{"new", test::node_ip(2), 1, 0, "wrr pick"},
        dump_conns_rep{0, 2, 1024, false, 3, {conn_record{k, test::node_ip(1), 1}}},
        insert_conns_rep{1, 2, 3, 4, 5, 6, 7},
    };
    for (std::uint32_t i = 0; i < replies.size(); ++i)
        write(dir, "rep-" + std::to_string(i), encode_reply(replies[i], i + 100));
}

// ---- config ---------------------------------------------------------------

std::vector<std::uint8_t> read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + p.string());
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::vector<std::uint8_t> text(std::string_view s) { return {s.begin(), s.end()}; }

void config_seeds(const fs::path& dir) {
    const fs::path conf = fs::path(CG_SOURCE_DIR) / "conf";
    write(dir, "reference.yaml", read_file(conf / "reference.yaml"));
    write(dir, "gateway.yaml", read_file(conf / "gateway.yaml"));
    // Small ones too: mutations of a short file reach the error paths faster.
    write(dir, "minimal.yaml", text("ports:\n  - {name: lan, device: net_null0, address: 198.18.0.2}\n"
                                    "lcores: {main: 0, workers: [1]}\n"
                                    "clusters:\n  - address: 198.18.0.100\n    ports:\n"
                                    "      - {port: 80, protocol: tcp, nodes: [{address: 198.18.0.11, mac: arp}]}\n"));
    write(dir, "two-docs.yaml", text("gateway: {name: a}\n---\ngateway: {name: b}\n"));
}

// ---- agent ------------------------------------------------------------------

/// fuzz_agent's key: what it signs with, so that sealed seeds pass its MAC check.
void agent_seeds(const fs::path& dir) {
    using namespace control::agent;
    const key k(32, 0x42);
    control::agent::host_report r;
    r.load1 = 0.5, r.cpu_busy = 0.25, r.mem_used = 0.75, r.sock_mem = 0.01;
    const std::vector<envelope> messages = {
        {test::node_ip(1), 1, 1'700'000'000'000, r},
        {test::node_ip(2), 2, 1'700'000'000'000, [&] { auto s = r; s.script = 42.0; return s; }()},
        {test::node_ip(3), 3, 0, shadow_query{7, test::vip}},
        {test::node_ip(4), 4, 1'700'000'000'000, heartbeat{3, 3, 1, 100, true, 10'000}},
    };
    int i = 0;
    for (const envelope& e : messages) {
        auto d = seal(e, k);
        write(dir, "sealed-" + std::to_string(i), d);
        d.resize(d.size() - mac_size);  // the harness signs what it gets
        write(dir, "unsigned-" + std::to_string(i++), d);
    }
}

// ---- shadow -----------------------------------------------------------------

/// fuzz_shadow's inputs: a target byte, then its bytes (see fuzz_shadow.cpp);
/// frames under its key, sealed and unsigned (the harness signs those).
void shadow_seeds(const fs::path& dir) {
    using namespace control::shadow;
    auto with = [](std::uint8_t target, std::vector<std::uint8_t> rest) {
        rest.insert(rest.begin(), target);
        return rest;
    };
    auto u8 = [](std::uint8_t v) { return std::vector<std::uint8_t>{v}; };

    // sock_diag messages: the target byte 0, then 0 (TCP) or 1 (UDP).
    test::diag_spec established;
    established.attrs = {{8, u8(0)}, {21, std::vector<std::uint8_t>(8, 1)}, {22, {0, 0}}};  // shutdown, cgroup, sockopt
    test::diag_spec listener;
    listener.state = 10, listener.remote = 0, listener.remote_port = 0;
    test::diag_spec dual = established;  // an IPv4 connection of a dual-stack server
    dual.family = 10;
    dual.attrs.push_back({20, u8(0)});   // not IPV6_V6ONLY
    test::diag_spec udp;
    udp.state = 7, udp.remote = 0, udp.remote_port = 0, udp.local_port = 53;
    auto diag = [&](const char* name, std::uint8_t protocol_bit, const test::diag_spec& spec) {
        auto m = test::make_diag_msg(spec);
        m.insert(m.begin(), protocol_bit);
        write(dir, name, with(0, m));
    };
    diag("diag-established", 0, established);
    diag("diag-listen", 0, listener);
    diag("diag-dual-stack", 0, dual);
    diag("diag-udp", 1, udp);

    const key k(32, 0x42);
    const std::vector<std::pair<std::string, envelope>> queries = {
        {"query-one", {test::node_ip(1), 1, 7, 1'700'000'000'000, query{{test::vip}, false}}},
        {"query-wildcard", {test::node_ip(1), 2, 1, 0, query{{test::vip, test::vip + 1, test::vip + 2}, true}}},
    };
    std::vector<control::shadow::socket_entry> entries;
    for (std::uint16_t i = 0; i < 40; ++i)
        entries.push_back({6, static_cast<std::uint8_t>(1 + i % 11), test::vip, 80, test::client_ip, static_cast<std::uint16_t>(40000 + i)});
    entries.push_back({17, 7, test::vip, 53, 0, 0});
    const std::vector<std::pair<std::string, std::vector<std::uint8_t>>> chunks = {
        {"chunk-entries", seal_chunk(entries, 0, test::node_ip(2), {1, 7}, 1'700'000'000'000, k)},
        {"chunk-empty", seal_chunk({}, 0, test::node_ip(2), {1, 8}, 0, k)},
        {"chunk-not-last", seal(envelope{test::node_ip(2), 1, 9, 0, chunk{3, false, entries}}, k)},
    };
    auto both = [&](const std::string& name, std::uint8_t target, std::vector<std::uint8_t> d) {
        write(dir, "sealed-" + name, with(target, d));
        d.resize(d.size() - mac_size);
        write(dir, "unsigned-" + name, with(target, d));
    };
    for (const auto& [name, e] : queries) both(name, 1, seal(e, k));
    for (const auto& [name, d] : chunks) both(name, 2, d);

    // Filters: target 3, then family/wildcard bits, then addresses (little-endian u32).
    auto addrs = [](std::uint8_t bits, std::vector<common::ipv4_addr> as) {
        std::vector<std::uint8_t> out{3, bits};
        for (auto a : as)
            for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(a >> (8 * i)));
        return out;
    };
    write(dir, "filter-one", addrs(0, {test::vip}));
    write(dir, "filter-three-v6-wildcard", addrs(3, {test::vip, test::vip + 1, 0x7f000001}));
    write(dir, "filter-wildcard-only", addrs(2, {}));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\nwrites DIR/router, DIR/ctl_msg, DIR/config, DIR/agent and DIR/shadow\n", argv[0]);
        return 2;
    }
    try {
        const fs::path root = argv[1];
        const std::pair<const char*, void (*)(const fs::path&)> harnesses[] = {
            {"router", router_seeds}, {"ctl_msg", ctl_msg_seeds}, {"config", config_seeds}, {"agent", agent_seeds},
            {"shadow", shadow_seeds}};
        for (const auto& [name, make] : harnesses) {
            fs::create_directories(root / name);
            make(root / name);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "fuzz_seeds: %s\n", e.what());
        return 1;
    }
    std::printf("fuzz_seeds: %d seeds in %s\n", written, argv[1]);
    return 0;
}
