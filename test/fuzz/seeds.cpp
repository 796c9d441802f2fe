// fuzz_seeds DIR: writes the seed corpus of every harness, DIR/router,
// DIR/ctl_msg, DIR/config, DIR/agent, DIR/shadow, DIR/pair, DIR/smb2,
// DIR/tcp_follower, DIR/rpc_record, DIR/nfs and DIR/parser_table, one file
// per seed.
// Seeds are generated rather than checked in so that they follow the frame
// builders, the codecs and the reference configuration as those change.
//
// Router seeds are single frames of every kind the classifier tells apart,
// and bursts in fuzz_router's record format (router_input.hpp) that open,
// close, reset and age connections across snapshots, so that mutation
// starts from states deep in the router instead of from the parser's edge.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "common/conn_file.hpp"
#include "common/ctl_msg.hpp"
#include "control/controld/backup_dir.hpp"
#include "control/controld/config_backups.hpp"
#include "control/controld/escalation_store.hpp"
#include "control/proto/agent_msg.hpp"
#include "control/proto/shadow_msg.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/smb2.hpp"
#include "dataplane/mirror/xdr.hpp"
#include "dataplane/pkt/classify.hpp"
#include "dataplane/pkt/wire.hpp"
#include "pair_input.hpp"
#include "parser_table_input.hpp"
#include "router_input.hpp"
#include "support/diag_msgs.hpp"
#include "support/frames.hpp"
#include "support/mirror_session.hpp"
#include "support/pcap_file.hpp"
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

// ---- stores -----------------------------------------------------------------

void stores_seeds(const fs::path& dir) {
    using namespace cg::control;
    const wall_time t0{std::chrono::milliseconds(1'764'747'000'123)};
    escalation e{cg::common::supervision_cfg{}};
    e.failed(failure::died, "killed by signal 9 (Killed)", t0);
    e.applied(rung::ph0_5);
    e.up(t0 + std::chrono::seconds(1));
    e.failed(failure::hung, "hung: no progress for 2000 ms", t0 + std::chrono::seconds(5));
    write(dir, "escalation.bin", encode_escalation(e.state()));
    write(dir, "escalation-fresh.bin", encode_escalation(escalation_state{}));
    write(dir, "backup.yaml", text(encode_config_backup("gateway: {name: gw}\nports: []\n", t0)));
    write(dir, "backup-empty.yaml", text(encode_config_backup("", t0)));
    write(dir, "state.bin", text(encode_backup("node state", std::string_view("a\0b\nnot text\xff", 13), t0)));
    cg::common::flow_key k;
    k.saddr = 0x0a000001, k.daddr = 0xc6120064, k.sport = 40000, k.dport = 80, k.proto = 6;
    const std::vector<cg::common::api::conn_record> conns{{k, 0xc612000b, 1}, {k, 0xc612000c, 2}};
    write(dir, "conns.cgct", cg::common::encode_conn_file(conns));
    // Found by a CI run: a time past int64 milliseconds decoded to another time.
    write(dir, "backup-far-future.yaml",
          text("# clustergate configuration backup v1 bytes=30 crc32c=6579f9a5 saved_ms=17777777777777777777\n"
               "gateway: {name: gw}\nports: []\n"));
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
        {test::node_ip(4), 4, 1'700'000'000'000, heartbeat{3, 3, 1, 100, true, 10'000, false}},
        {test::node_ip(4), 5, 1'700'000'000'001, heartbeat{4, 3, 1, 100, false, 0, true}},
        {test::node_ip(5), 6, 1'700'000'000'002, alive{20}},
        {test::node_ip(6), 7, 1'700'000'000'003, upstream{test::node_ip(1), 8080, false, 3, 50}},
        {test::node_ip(6), 8, 1'700'000'000'004, upstream{test::node_ip(1), 8080, true, 0, 50}},
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
    // A restore (target 1, as the agent takes it with the queries) and its answer (target 4).
    restore_conn conn;
    conn.params = {test::client_ip, test::vip, 40000, 2049, 0xfffffff0, 12345, 1448, true, true, true, 7, 10,
                   0x80000001, 12, 64256, 1u << 20};
    conn.replay.assign(120, 0x41);
    both("restore", 1, seal(envelope{test::node_ip(1), 1, 10, 1'700'000'000'000, restore{test::node_ip(2), {conn, conn}}}, k));
    both("restored", 4,
         seal(envelope{test::node_ip(3), 1, 10, 1'700'000'000'000,
                       restored{{{test::client_ip, 40000, true, ""}, {test::client_ip, 40001, false, "no service"}}}},
              k));

    // A node's state on its way (target 5): a backup's chunks, one with the
    // agent's error; a backup query and a state restore (target 1, with the
    // queries); the spare's answer (target 6).
    const std::vector<std::uint8_t> state(3000, 0x5a);
    both("state-chunk", 5, seal_state_chunk(state, 0, 1'700'000'000'000, "", test::node_ip(2), {1, 11}, 0, k));
    both("state-chunk-error", 5,
         seal_state_chunk({}, 0, 0, "the backup command exited with 2", test::node_ip(2), {1, 12}, 0, k));
    both("backup-query", 1, seal(envelope{test::node_ip(1), 1, 13, 1'700'000'000'000, backup_query{1u << 20}}, k));
    both("state-restore", 1,
         seal(envelope{test::node_ip(1), 1, 14, 1'700'000'000'000, state_restore{test::node_ip(2)}}, k));
    both("state-restored", 6,
         seal(envelope{test::node_ip(3), 1, 14, 1'700'000'000'000, state_restored{true, "", 120}}, k));
    both("state-not-restored", 6,
         seal(envelope{test::node_ip(3), 1, 15, 0, state_restored{false, "the restore command exited with 1", 3}}, k));

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

// ---- pair -------------------------------------------------------------------

/// fuzz_pair's scripts (pair_input.hpp): the pair's usual lives, so that
/// mutation starts from a settled pair, a cut link, a switchover and a
/// recovered primary rather than from two machines that never hear each other.
void pair_seeds(const fs::path& dir) {
    using namespace fuzz::pair_input;
    struct step {
        op o;  ///< op::count: `arg` intervals of a good link, both ways, takeovers done
        std::uint8_t arg = 0;
    };
    const auto good = [](std::uint8_t intervals) { return step{op::count, intervals}; };
    struct script {
        const char* name;
        std::uint8_t priority_a, priority_b, preempt;
        std::vector<step> steps;
    };
    const script scripts[] = {
        {"settle", 100, 100, 0, {good(20)}},
        // Settled, then the link is cut both ways: both active, then it heals.
        {"cut-and-heal", 100, 100, 0,
         {good(10), {op::wait_long, 3}, {op::drop_ab}, {op::taken_over_b, 1}, good(10)}},
        // Both take over at once (neither heard the other), at one epoch.
        {"split-one-epoch", 100, 100, 0, {{op::wait, 59}, {op::taken_over_a, 1}, {op::taken_over_b, 1}, good(10)}},
        // The operator hands over; a takeover fails once; A's gatewayd then hangs.
        {"switchover-then-hung", 100, 100, 0,
         {good(10), {op::switchover_a}, {op::switchover_b}, {op::wait, 11}, {op::deliver_ab, 7}, {op::deliver_ba, 7},
          {op::taken_over_b, 0}, good(10), {op::health_a, 2}, good(10)}},
        // A recovered primary (B, priority 200) with pre-emption after 20 dead
        // times: B is the backup, then A hands over to it; heartbeats overtaken.
        {"preempt", 100, 200, 2,
         {{op::health_b, 0}, good(10), {op::health_b, 1}, good(5), {op::delay_ab}, {op::delay_ba}, good(100)}},
    };
    for (const script& sc : scripts) {
        // Dead time 50 ms, interval 12 ms, B's timer 5 ms behind A's, quiet
        // latency 3 ms and takeovers of 10 ms.
        std::vector<std::uint8_t> s{sc.priority_a, sc.priority_b, 3, 2, sc.preempt, 5, 3, 2};
        for (const step& st : sc.steps) {
            if (st.o != op::count) {
                append(s, st.o, st.arg);
                continue;
            }
            for (int i = 0; i < st.arg; ++i)
                for (const step& g : {step{op::wait, 11}, step{op::deliver_ab, 7}, step{op::deliver_ba, 7},
                                      step{op::taken_over_a, 1}, step{op::taken_over_b, 1}})
                    append(s, g.o, g.arg);
        }
        write(dir, sc.name, s);
    }
}

// ---- smb2 -----------------------------------------------------------------

/// n little-endian bytes of v, as SMB2 lays out its fields (zeros past 8).
bytes le(std::uint64_t v, int n) {
    bytes b;
    for (int i = 0; i < n; ++i) b.push_back(i < 8 ? static_cast<std::uint8_t>(v >> (8 * i)) : 0);
    return b;
}

bytes cat(std::initializer_list<bytes> parts) {
    bytes b;
    for (const bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
    return b;
}

/// A 64-byte SMB2 header ([MS-SMB2] 2.2.1; TreeId 5, or with ASYNC_COMMAND
/// an AsyncId), then the body.
bytes smb2_msg(std::uint16_t command, std::uint32_t flags, std::uint64_t mid, std::uint32_t status, const bytes& body) {
    return cat({{0xfe, 'S', 'M', 'B'}, le(64, 2), le(1, 2), le(status, 4), le(command, 2), le(1, 2), le(flags, 4),
                le(0, 4), le(mid, 8), le(0xfeff, 4), le(5, 4), le(0x4000'0000'0009, 8), bytes(16, 0), body});
}

/// One message of each exchange of a session, a related compound, an async
/// interim response, the opaque headers and an SMB1 NEGOTIATE; fuzz_smb2
/// tries each in both directions.
void smb2_seeds(const fs::path& dir) {
    constexpr std::uint32_t response = 0x1, async = 0x2, related = 0x4;
    const bytes fid = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0};
    const bytes related_fid(16, 0xff);
    const bytes salt(32, 0x5a);
    const bytes preauth = cat({le(1, 2), le(38, 2), le(0, 4), le(1, 2), le(32, 2), le(1, 2), salt});
    const bytes name = {'f', 0, 'i', 0, 'l', 0, 'e', 0};

    write(dir, "negotiate-req",
          smb2_msg(0, 0, 0, 0,
                   cat({le(36, 2), le(2, 2), le(1, 2), le(0, 2), le(0x7f, 4), bytes(16, 0x11), le(104, 4), le(1, 2),
                        le(0, 2), le(0x0202, 2), le(0x0311, 2), preauth})));
    write(dir, "negotiate-rsp",
          smb2_msg(0, response, 0, 0,
                   cat({le(65, 2), le(1, 2), le(0x0210, 2), le(0, 2), bytes(16, 0x22), le(0x2f, 4), le(1 << 20, 4),
                        le(1 << 20, 4), le(1 << 20, 4), le(0, 16), le(128, 2), le(8, 2), le(0, 4), bytes(8, 0x60)})));
    write(dir, "session-setup-req",
          smb2_msg(1, 0, 1, 0, cat({le(25, 2), {0, 1}, le(1, 4), le(0, 4), le(88, 2), le(16, 2), le(0, 8), salt})));
    write(dir, "session-setup-rsp",
          smb2_msg(1, response, 1, 0xc000'0016, cat({le(9, 2), le(0, 2), le(72, 2), le(16, 2), salt})));
    write(dir, "tree-connect-req", smb2_msg(3, 0, 2, 0, cat({le(9, 2), le(0, 2), le(72, 2), le(name.size(), 2), name})));
    write(dir, "tree-connect-rsp",
          smb2_msg(3, response, 2, 0, cat({le(16, 2), {1, 0}, le(0, 4), le(0, 4), le(0x1f01ff, 4)})));
    const bytes create_req = smb2_msg(5, 0, 3, 0,
                                      cat({le(57, 2), {0, 0}, le(2, 4), le(0, 16), le(0x12019f, 4), le(0x80, 4),
                                           le(7, 4), le(1, 4), le(0x40, 4), le(120, 2), le(name.size(), 2),
                                           le(0, 8), name}));
    write(dir, "create-req", create_req);
    write(dir, "create-rsp",
          smb2_msg(5, response, 3, 0, cat({le(89, 2), {0, 0}, le(1, 4), le(0, 48), le(0x20, 4), le(0, 4), fid, le(0, 8)})));
    const auto read_req = [](std::uint64_t mid, std::uint32_t flags, const bytes& file) {
        return smb2_msg(8, flags, mid, 0,
                        cat({le(49, 2), {0x50, 0}, le(4096, 4), le(0, 8), file, le(1, 4), le(0, 12), {0}}));
    };
    write(dir, "read-req", read_req(4, 0, fid));
    write(dir, "read-rsp", smb2_msg(8, response, 4, 0, cat({le(17, 2), {0x50, 0}, le(8, 4), le(0, 8), bytes(8, 0x33)})));
    write(dir, "write-req",
          smb2_msg(9, 0, 5, 0, cat({le(49, 2), le(0x70, 2), le(8, 4), le(4096, 8), fid, le(0, 16), bytes(8, 0x44)})));
    write(dir, "write-rsp", smb2_msg(9, response, 5, 0, cat({le(17, 2), le(0, 2), le(8, 4), le(0, 8)})));
    const auto close_req = [](std::uint64_t mid, std::uint32_t flags, const bytes& file) {
        return smb2_msg(6, flags, mid, 0, cat({le(24, 2), le(1, 2), le(0, 4), file}));
    };
    write(dir, "close-req", close_req(6, 0, fid));
    write(dir, "compound-create-read-close",
          test::mirror::smb2_chain({create_req, read_req(7, related, related_fid), close_req(8, related, related_fid)}));
    write(dir, "interim-pending", smb2_msg(8, response | async, 4, 0x103, cat({le(9, 2), le(0, 2), le(0, 4), {0}})));
    write(dir, "transform", cat({{0xfd, 'S', 'M', 'B'}, bytes(32, 0x66), le(80, 4), le(0, 2), le(1, 2),
                                 le(0x4000'0000'0009, 8), bytes(80, 0x77)}));
    write(dir, "compression", cat({{0xfc, 'S', 'M', 'B'}, le(1000, 4), le(1, 2), le(0, 2), le(0, 4), bytes(40, 0x88)}));
    constexpr char dialects[] = "\x02NT LM 0.12\0\x02SMB 2.002\0\x02SMB 2.???";  // and the literal's NUL
    write(dir, "smb1-negotiate", cat({{0xff, 'S', 'M', 'B', 0x72}, bytes(27, 0), {0}, le(sizeof dialects, 2),
                                      bytes(dialects, dialects + sizeof dialects)}));
}

// ---- tcp_follower -------------------------------------------------------------

/// One record of fuzz_tcp_follower's input (its header comment has the format).
struct tcp_rec {
    bool server;
    std::uint8_t flags;
    std::int16_t seq;  ///< offset from the sender's ISN + 1
    std::uint8_t len;
    std::int16_t ack;  ///< offset from the peer's ISN + 1
    std::uint8_t opts = 0;  ///< 1: a SYN's options, 2: timestamps
};

std::vector<std::uint8_t> tcp_input(std::uint32_t client_isn, std::uint32_t server_isn, std::uint8_t cfg,
                                    const std::vector<tcp_rec>& recs) {
    std::vector<std::uint8_t> out;
    for (std::uint32_t v : {client_isn, server_isn})
        for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
    out.push_back(cfg);
    for (const tcp_rec& r : recs) {
        const auto seq = static_cast<std::uint16_t>(r.seq), ack = static_cast<std::uint16_t>(r.ack);
        out.insert(out.end(), {static_cast<std::uint8_t>((r.server ? 1 : 0) | (r.flags & 0x3f) << 1),
                               static_cast<std::uint8_t>(seq), static_cast<std::uint8_t>(seq >> 8), r.len,
                               static_cast<std::uint8_t>(ack), static_cast<std::uint8_t>(ack >> 8), 0xff,
                               static_cast<std::uint8_t>(r.opts << 2)});
    }
    return out;
}

/// fuzz_tcp_follower's connections: a whole life, reordering, losses the
/// receiver acknowledges, a full ring, the sequence wrap, a mid-stream join
/// and resets, so that mutation starts inside the reassembly.
void tcp_follower_seeds(const fs::path& dir) {
    constexpr std::uint8_t fin = 0x01, syn = 0x02, rst = 0x04, psh = 0x08, ack = 0x10;
    constexpr std::uint8_t data = psh | ack;
    constexpr std::uint8_t cfg_1k = 0x0b | 0x30;  // 1 KiB ring, 8 KiB max_ahead
    constexpr std::uint8_t cfg_16 = 0x05 | 0x10;  // a 16-byte ring
    const std::vector<tcp_rec> open = {
        {false, syn, -1, 0, -1, 1}, {true, syn | ack, -1, 0, 0, 1}, {false, ack, 0, 0, 0, 2}};
    auto with_open = [&](std::vector<tcp_rec> rest) {
        rest.insert(rest.begin(), open.begin(), open.end());
        return rest;
    };
    write(dir, "life", tcp_input(1000, 50000, cfg_1k, with_open({
        {false, data, 0, 100, 0, 2}, {true, ack, 0, 0, 100, 2}, {true, data, 0, 200, 100, 2},
        {false, ack, 100, 0, 200, 2}, {false, fin | ack, 100, 0, 200}, {true, fin | ack, 200, 0, 101},
        {false, ack, 101, 0, 201}})));
    write(dir, "reordered", tcp_input(7, 9, cfg_1k, with_open({
        {false, data, 40, 20, 0}, {false, data, 20, 20, 0}, {false, data, 20, 20, 0}, {false, data, 0, 30, 0},
        {true, ack, 0, 0, 60}, {false, fin | ack, 60, 0, 0}, {true, fin | ack, 0, 0, 61}})));
    write(dir, "loss-acked", tcp_input(1000, 2000, cfg_1k, with_open({
        {false, data, 0, 10, 0}, {true, ack, 0, 0, 10}, {true, ack, 0, 0, 20}, {false, data, 20, 10, 0},
        {true, ack, 0, 0, 30}, {false, data, 40, 10, 0}, {true, ack, 0, 0, 50}, {false, fin | ack, 50, 0, 0}})));
    write(dir, "ring-full", tcp_input(1000, 2000, cfg_16, with_open({
        {false, data, 4, 4, 0}, {false, data, 8, 4, 0}, {false, data, 12, 4, 0}, {false, data, 16, 4, 0},
        {false, data, 0, 4, 0}, {false, data, 30, 4, 0}, {false, data, 60, 10, 0}})));
    write(dir, "wrap", tcp_input(0xffffff80u, 0xfffffff0u, cfg_1k, with_open({
        {false, data, 0, 200, 0}, {true, data, 0, 100, 200}, {false, data, 300, 50, 100}, {false, data, 200, 100, 100},
        {true, ack, 100, 0, 350}, {false, fin | ack, 350, 0, 100}, {true, fin | ack, 100, 0, 351}})));
    write(dir, "mid-stream", tcp_input(5000, 6000, cfg_1k, {
        {false, data, 10, 30, 20}, {true, data, 20, 40, 40}, {false, data, 40, 10, 60}, {true, ack, 60, 0, 50}}));
    write(dir, "reset", tcp_input(1000, 2000, cfg_1k, with_open({
        {false, data, 0, 10, 0}, {false, data, 20, 10, 0}, {true, ack, 0, 0, 40}, {true, rst | ack, 0, 0, 0},
        {false, data, 30, 10, 0}})));
    write(dir, "refused", tcp_input(1000, 0, cfg_1k, {{false, syn, -1, 0, 0, 1}, {true, rst | ack, -1, 0, 0}}));
    // What the fuzzer found: a segment too long for the ring that begins
    // before the held bytes (its own first bytes were once given up), and a
    // late copy of bytes already given up as lost.
    write(dir, "long-before-held", tcp_input(1000, 2000, cfg_16, with_open({
        {false, data, 8, 4, 0, 2}, {false, data, 4, 36, 0}, {false, data, 0, 4, 0}})));
    write(dir, "late-copy", tcp_input(0xffffff80u, 0xfffffff0u, cfg_1k, with_open({
        {false, data, -257, 200, 0}, {true, data, 0, 100, 200}, {false, data, 812, 50, 100},
        {false, data, 126, 100, 100}, {true, ack, 100, 0, 350}, {false, fin | ack, 350, 0, 100},
        {true, fin | ack, 100, 0, 351}})));
}

// ---- nfs and rpc_record ------------------------------------------------------

using dp::mirror::xdr_writer;

/// An ONC RPC call header: AUTH_SYS credential, AUTH_NONE verifier.
xdr_writer rpc_call(std::uint32_t xid, std::uint32_t prog, std::uint32_t vers, std::uint32_t proc) {
    xdr_writer cred;
    cred.u32(0).string("seed").u32(0).u32(0).u32(1).u32(0);
    xdr_writer w;
    w.u32(xid).u32(0).u32(2).u32(prog).u32(vers).u32(proc).u32(1).opaque(cred.data()).u32(0).u32(0);
    return w;
}
/// An accepted SUCCESS reply header with an AUTH_NONE verifier.
xdr_writer rpc_reply(std::uint32_t xid) {
    xdr_writer w;
    w.u32(xid).u32(1).u32(0).u32(0).u32(0).u32(0);
    return w;
}

const std::vector<std::uint8_t> seed_fh = {1, 0, 7, 0, 0xaa, 0xbb, 0xcc, 0xdd, 0x10, 0x20, 0x30, 0x40, 5, 6, 7, 8};

/// fuzz_nfs's inputs: one record each (the harness parses each as a call
/// and as a reply to every procedure).
std::vector<std::pair<std::string, std::vector<std::uint8_t>>> nfs_records() {
    using namespace dp::mirror;
    const std::vector<std::uint8_t> verf(8, 0x76), data = {'d', 'a', 't', 'a'};
    const auto v3 = [](std::uint32_t proc) { return rpc_call(0x3000 + proc, rpc_prog_nfs, 3, proc); };
    const auto v4 = [](std::uint32_t ops) {
        xdr_writer w = rpc_call(0x4000 + ops, rpc_prog_nfs, 4, nfs4::compound);
        w.string("").u32(1).u32(ops);
        return w;
    };
    const auto sequence = [](xdr_writer& w) { w.u32(nfs4::sequence).fixed(std::vector<std::uint8_t>(16, 0x5e)).u32(1).u32(0).u32(7).boolean(false); };
    const auto stateid = [](xdr_writer& w) { w.u32(0).fixed(std::vector<std::uint8_t>(12, 0x5a)); };
    std::vector<std::pair<std::string, std::vector<std::uint8_t>>> out;
    out.emplace_back("nfs3-getattr", v3(nfs3::getattr).opaque(seed_fh).take());
    out.emplace_back("nfs3-lookup", v3(nfs3::lookup).opaque(seed_fh).string("file.txt").take());
    out.emplace_back("nfs3-read", v3(nfs3::read).opaque(seed_fh).u64(8192).u32(4096).take());
    out.emplace_back("nfs3-write", v3(nfs3::write).opaque(seed_fh).u64(0).u32(4).u32(2).opaque(data).take());
    out.emplace_back("nfs3-create", v3(nfs3::create).opaque(seed_fh).string("new").u32(0).u32(1).u32(0644)
                                        .u32(0).u32(0).u32(0).u32(1).u32(2).u32(1).u32(2).take());
    out.emplace_back("nfs3-readdirplus", v3(nfs3::readdirplus).opaque(seed_fh).u64(0).fixed(verf).u32(4096).u32(8192).take());
    out.emplace_back("nfs3-lookup-reply", rpc_reply(1).u32(0).opaque(seed_fh).boolean(false).boolean(false).take());
    out.emplace_back("nfs3-read-reply", rpc_reply(1).u32(0).boolean(false).u32(4).boolean(true).opaque(data).take());
    out.emplace_back("nfs3-readdirplus-reply", rpc_reply(1).u32(0).boolean(false).fixed(verf).boolean(true).u64(9).string("f")
                                                   .u64(1).boolean(false).boolean(true).opaque(seed_fh).boolean(false)
                                                   .boolean(true).take());
    out.emplace_back("mount3-mnt", rpc_call(0x5001, rpc_prog_mount, 3, mount3::mnt).string("/export").take());
    out.emplace_back("mount3-mnt-reply", rpc_reply(1).u32(0).opaque(seed_fh).u32(1).u32(1).take());
    {
        xdr_writer w = v4(3);
        sequence(w);
        w.u32(nfs4::putfh).opaque(seed_fh).u32(nfs4::read);
        stateid(w);
        w.u64(0).u32(65536);
        out.emplace_back("nfs4-sequence-putfh-read", w.take());
    }
    {
        xdr_writer w = v4(2);
        w.u32(nfs4::putfh).opaque(seed_fh).u32(nfs4::write);
        stateid(w);
        w.u64(4096).u32(1).opaque(data);
        out.emplace_back("nfs4-putfh-write", w.take());
    }
    {
        xdr_writer w = v4(4);
        w.u32(nfs4::putfh).opaque(seed_fh).u32(nfs4::open).u32(0).u32(2).u32(0).u64(1).string("owner").u32(1).u32(0)
            .u32(1).u32(0x10).opaque(verf).u32(0).string("new.txt").u32(nfs4::getfh).u32(nfs4::getattr).u32(1).u32(0x1a);
        out.emplace_back("nfs4-open", w.take());
    }
    {
        xdr_writer w = rpc_reply(1);
        w.u32(0).string("").u32(3).u32(nfs4::putrootfh).u32(0).u32(nfs4::lookup).u32(0).u32(nfs4::getfh).u32(0).opaque(seed_fh);
        out.emplace_back("nfs4-getfh-reply", w.take());
    }
    {
        xdr_writer w = rpc_reply(1);
        w.u32(0).string("").u32(2).u32(nfs4::putfh).u32(0).u32(nfs4::read).u32(0).boolean(true).opaque(data);
        out.emplace_back("nfs4-read-reply", w.take());
    }
    return out;
}

void nfs_seeds(const fs::path& dir) {
    for (const auto& [name, record] : nfs_records()) write(dir, name, record);
}

/// fuzz_rpc_record's scripts: a configuration byte, then `stream` fed in
/// pieces of `piece` bytes, with `extra` steps (gaps, desyncs) after `at` bytes.
std::vector<std::uint8_t> framer_script(std::uint8_t config, const std::vector<std::uint8_t>& stream, std::size_t piece,
                                        std::size_t at = 0, const std::vector<std::uint8_t>& extra = {}) {
    std::vector<std::uint8_t> s{config};
    for (std::size_t i = 0; i < stream.size();) {
        if (i == at) s.insert(s.end(), extra.begin(), extra.end());
        const std::size_t n = std::min({piece, stream.size() - i, at > i ? at - i : stream.size()});
        s.push_back(static_cast<std::uint8_t>(n - 1));
        s.insert(s.end(), stream.begin() + static_cast<std::ptrdiff_t>(i), stream.begin() + static_cast<std::ptrdiff_t>(i + n));
        i += n;
    }
    return s;
}

void rpc_record_seeds(const fs::path& dir) {
    // Records of the nfs seeds, record-marked: calls and replies apart,
    // one call in two fragments.
    std::vector<std::uint8_t> calls, replies;
    const auto mark = [](std::vector<std::uint8_t>& out, const std::vector<std::uint8_t>& r, std::size_t split) {
        xdr_writer m;
        if (split) m.u32(static_cast<std::uint32_t>(split)).bytes({r.data(), split});
        m.u32(0x80000000u | static_cast<std::uint32_t>(r.size() - split)).bytes({r.data() + split, r.size() - split});
        out.insert(out.end(), m.data().begin(), m.data().end());
    };
    int i = 0;
    for (const auto& [name, record] : nfs_records()) {
        const bool reply = name.find("reply") != std::string::npos;
        mark(reply ? replies : calls, record, !reply && i++ == 2 ? 48 : 0);
    }
    constexpr std::uint8_t nbss = 1, to_client = 2, cap_1k = 1 << 2;
    const std::uint8_t gap3 = 0xc2, desync = 0xff;
    write(dir, "calls", framer_script(0, calls, 100));
    write(dir, "calls-gap", framer_script(0, calls, 64, 130, {gap3}));
    write(dir, "calls-desync", framer_script(0, calls, 192, 20, {desync}));
    write(dir, "replies-cap-1k", framer_script(to_client | cap_1k, replies, 77));
    write(dir, "replies-gap", framer_script(to_client, replies, 50, 60, {0xfe, 1}));

    std::vector<std::uint8_t> smb;
    for (std::uint8_t n : {64, 120, 80}) {
        smb.insert(smb.end(), {0, 0, 0, n, 0xfe, 'S', 'M', 'B', 64, 0});
        smb.resize(smb.size() + n - 6, n);
        smb.insert(smb.end(), {0x85, 0, 0, 0});  // keepalive
    }
    write(dir, "nbss", framer_script(nbss, smb, 33));
    write(dir, "nbss-gap", framer_script(nbss, smb, 60, 70, {gap3}));

    // HTTP/1.1: pipelined requests of each body kind, responses of each.
    constexpr std::uint8_t http = 0x10;
    const auto text = [](std::string_view t) { return std::vector<std::uint8_t>(t.begin(), t.end()); };
    const std::vector<std::uint8_t> requests = text(
        "GET /a HTTP/1.1\r\nHost: n\r\n\r\n"
        "POST /f HTTP/1.1\r\nContent-Length: 11\r\n\r\nhello world"
        "PUT /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nT: 1\r\n\r\n"
        "\r\nHEAD /h HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    const std::vector<std::uint8_t> responses = text(
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        "HTTP/1.1 100 Continue\r\n\r\n"
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"
        "HTTP/1.1 304 Not Modified\r\n\r\n"
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0\r\n");
    write(dir, "http-requests", framer_script(http, requests, 29));
    write(dir, "http-requests-gap", framer_script(http, requests, 40, 60, {gap3}));
    write(dir, "http-responses-cap-1k", framer_script(http | to_client | cap_1k, responses, 13));
    write(dir, "http-responses-desync", framer_script(http | to_client, responses, 50, 30, {desync}));
}


// ---- parser_table -------------------------------------------------------------

namespace tm = test::mirror;

/// The segments of each of the four connections' sessions, hand-built.
tm::bytes http(std::string_view t) { return tm::bytes(t.begin(), t.end()); }

std::array<std::vector<tm::seg>, 4> table_sessions() {
    const auto C = dp::mirror::direction::to_server, S = dp::mirror::direction::to_client;
    const tm::bytes fh(28, 0x43), fid = {7, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0}, related(16, 0xff);
    const auto nfs = [](std::uint32_t xid, std::uint32_t proc, const tm::bytes& args) {
        return tm::rpc_marked(tm::rpc_call(xid, dp::mirror::rpc_prog_nfs, 3, proc, args));
    };
    const auto rep = [](std::uint32_t xid, const tm::bytes& res) { return tm::rpc_marked(tm::rpc_reply(xid, res)); };
    using namespace dp::mirror;
    return {
        tm::conversation({{C, nfs(1, nfs3::getattr, tm::nfs3_fh_args(fh))},
                          {S, rep(1, tm::nfs3_getattr_res())},
                          {C, nfs(2, nfs3::read, tm::nfs3_read_args(fh, 0, 600))},
                          {S, rep(2, tm::nfs3_read_res(tm::bytes(600, 0x61)))},
                          {C, nfs(3, nfs3::write, tm::nfs3_write_args(fh, 600, tm::bytes(900, 0x62)))},
                          {S, rep(3, tm::nfs3_write_res(900))}},
                         300),
        tm::conversation(
            {{C, tm::nbss(tm::smb2_message(0x0d, 0, 1, tm::smb2_echo_body()))},
             {S, tm::nbss(tm::smb2_message(0x0d, tm::smb2_response, 1, tm::smb2_echo_body()))},
             {C, tm::nbss(tm::smb2_chain({tm::smb2_message(0x05, 0, 2, tm::smb2_create_req_body()),
                                          tm::smb2_message(0x08, tm::smb2_related, 3, tm::smb2_read_req_body(related, 0, 100)),
                                          tm::smb2_message(0x06, tm::smb2_related, 4, tm::smb2_close_req_body(related))}))},
             {S, tm::nbss(tm::smb2_message(0x05, tm::smb2_response, 2, tm::smb2_create_rsp_body(fid)))},
             {S, tm::nbss(tm::smb2_message(0x08, tm::smb2_response | tm::smb2_async, 3, tm::smb2_error_body(),
                                           smb2::status_pending, 5))},
             {S, tm::nbss(tm::smb2_message(0x08, tm::smb2_response | tm::smb2_async, 3,
                                           tm::smb2_read_rsp_body(tm::bytes(100, 1)), 0, 5))},
             {S, tm::nbss(tm::smb2_message(0x06, tm::smb2_response, 4, tm::smb2_close_rsp_body()))}},
            200),
        tm::conversation({{C, tm::rpc_marked(tm::rpc_call(9, 100000, 2, 3, tm::bytes(16, 0)))},
                          {S, tm::rpc_marked(tm::rpc_reply(9, tm::bytes(4, 0)))}},
                         1448, tm::ending::rst),
        tm::conversation({{C, http("POST /f HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")},
                          {S, http("HTTP/1.1 100 Continue\r\n\r\n")},
                          {C, http("hello" "HEAD /h HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n")},
                          {S, http("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nContent-Length: 700\r\n\r\n"
                                   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")}},
                         256),
    };
}

/// A fixture capture's TCP frames in the harness's format: each connection
/// on the harness connection of its server port, a generation for each new
/// one; offsets from the capture's own ISNs. Cut into seeds of about
/// `max_bytes`, each from a client's SYN on.
std::vector<std::vector<std::uint8_t>> capture_seeds(const std::string& name, std::size_t max_bytes, std::size_t max_seeds) {
    using dp::wire::load16;
    using dp::wire::load32;
    const auto frames = test::read_pcap(std::string(CG_SOURCE_DIR) + "/test/fixtures/mirror/" + name + ".pcap");
    struct known {
        std::uint16_t client_port;
        unsigned conn, gen;
        std::array<std::int64_t, 2> isn{-1, -1};
    };
    std::vector<known> conns;
    std::array<unsigned, 4> gens{};
    std::vector<std::vector<std::uint8_t>> out(1);
    for (const auto& f : frames) {
        dp::pkt_info info;
        if (dp::classify(f.data(), static_cast<std::uint32_t>(f.size()), info) || info.kind != dp::pkt_kind::tcp) continue;
        const std::uint8_t* tcp = f.data() + info.l4_off;
        const std::uint16_t sport = info.key.sport, dport = info.key.dport;
        const auto rpc_port = [](std::uint16_t p) { return p == 111 || p == 20048; };
        const bool from_server = sport == 2049 || sport == 445 || sport == 80 || rpc_port(sport);
        const std::uint16_t server = from_server ? sport : dport, client = from_server ? dport : sport;
        const unsigned conn = server == 2049 ? 0 : server == 445 ? 1 : rpc_port(server) ? 2 : 3;
        auto k = std::find_if(conns.begin(), conns.end(), [&](const known& x) { return x.client_port == client; });
        if (k == conns.end()) {
            conns.push_back({client, conn, gens[conn]++ & 3});
            k = conns.end() - 1;
        }
        const std::size_t d = from_server ? 1 : 0;
        const std::uint32_t seq = load32(tcp + 4), ack = load32(tcp + 8);
        const std::uint8_t flags = tcp[13];
        const std::size_t doff = (tcp[12] >> 4) * 4u;
        if (k->isn[d] < 0) k->isn[d] = (flags & tm::SYN) ? seq : seq - 1;
        tm::seg s;
        s.dir = from_server ? dp::mirror::direction::to_client : dp::mirror::direction::to_server;
        s.flags = flags;
        s.off = static_cast<std::int32_t>(seq - static_cast<std::uint32_t>(k->isn[d]) - 1);
        s.ack = k->isn[1 - d] < 0 ? 0 : ack - static_cast<std::uint32_t>(k->isn[1 - d]) - 1;
        if (flags & tm::SYN) s.options = tm::syn_options(1);
        const std::size_t payload_at = info.l4_off + doff, payload_end = info.l3_off + info.ip_len;
        s.payload.assign(f.begin() + static_cast<std::ptrdiff_t>(payload_at), f.begin() + static_cast<std::ptrdiff_t>(payload_end));
        // Past max_bytes a seed takes nothing more; the next starts at the
        // next connection's SYN, so that each begins with a handshake.
        if (out.back().size() > max_bytes) {
            if (!(flags & tm::SYN) || (flags & tm::ACK)) continue;
            if (out.size() == max_seeds) break;
            out.emplace_back();
        }
        fuzz::table_input::append(out.back(), k->conn, k->gen, 0, s);
    }
    return out;
}

void parser_table_seeds(const fs::path& dir) {
    const auto sessions = table_sessions();
    const char* names[] = {"nfs3", "smb2", "portmapper", "tcp"};
    for (unsigned c = 0; c < 4; ++c) {
        std::vector<std::uint8_t> in;
        for (const tm::seg& s : sessions[c]) fuzz::table_input::append(in, c, 0, 0, s);
        write(dir, std::string("session-") + names[c], in);
    }
    // All four at once, round robin, with a clock step now and then; then
    // the NFS 4-tuple's next connection, and a lost and a doubled segment.
    std::vector<std::uint8_t> all;
    for (std::size_t i = 0;; ++i) {
        bool any = false;
        for (unsigned c = 0; c < 4; ++c) {
            if (i >= sessions[c].size()) continue;
            any = true;
            if (c == 0 && i == 5) continue;  // lost
            fuzz::table_input::append(all, c, 0, i % 7 == 6 ? 2 : 0, sessions[c][i]);
            if (c == 1 && i == 6) fuzz::table_input::append(all, c, 0, 0, sessions[c][i]);
        }
        if (!any) break;
    }
    for (const tm::seg& s : sessions[0]) fuzz::table_input::append(all, 0, 1, 0, s);
    write(dir, "four-interleaved", all);
    for (const char* capture : {"nfs3", "nfs4", "smb2", "smb2_encrypted", "http"}) {
        const auto seeds = capture_seeds(capture, 16 * 1024, 3);
        for (std::size_t i = 0; i < seeds.size(); ++i) write(dir, std::string("capture-") + capture + "-" + std::to_string(i), seeds[i]);
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s DIR\nwrites DIR/router, DIR/ctl_msg, DIR/config, DIR/agent, DIR/shadow, DIR/pair, DIR/smb2, DIR/tcp_follower, DIR/rpc_record, DIR/nfs, DIR/parser_table and DIR/stores\n", argv[0]);
        return 2;
    }
    try {
        const fs::path root = argv[1];
        const std::pair<const char*, void (*)(const fs::path&)> harnesses[] = {
            {"router", router_seeds}, {"ctl_msg", ctl_msg_seeds}, {"config", config_seeds}, {"agent", agent_seeds},
            {"shadow", shadow_seeds}, {"pair", pair_seeds}, {"smb2", smb2_seeds},
            {"tcp_follower", tcp_follower_seeds}, {"rpc_record", rpc_record_seeds}, {"nfs", nfs_seeds},
            {"parser_table", parser_table_seeds}, {"stores", stores_seeds}};
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
