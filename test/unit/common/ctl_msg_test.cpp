#include <catch2/catch.hpp>

#include <set>
#include <type_traits>
#include <utility>

#include "common/ctl_msg.hpp"
#include "support/escalation_sample.hpp"
#include "support/type_flaw_text.hpp"

using namespace cg::common;
using namespace cg::common::api;
using cg::test::describe;

namespace {

std::span<const std::uint8_t> payload_of(const std::vector<std::uint8_t>& frame) {
    return std::span(frame).subspan(header_size);
}

frame_header header_of(const std::vector<std::uint8_t>& frame) {
    frame_header h;
    REQUIRE_FALSE(decode_header(std::span(frame).first(header_size), h));
    return h;
}

request round_trip(const request& r) {
    const auto frame = encode_request(r, 77);
    const auto h = header_of(frame);
    CHECK(h.seq == 77);
    CHECK(h.length == frame.size() - header_size);
    auto out = decode_request(h.type, payload_of(frame));
    if (auto* err = std::get_if<std::string>(&out)) FAIL(*err);
    return std::get<request>(out);
}

reply round_trip(const reply& r) {
    const auto frame = encode_reply(r, 5);
    const auto h = header_of(frame);
    auto out = decode_reply(h.type, payload_of(frame));
    if (auto* err = std::get_if<std::string>(&out)) FAIL(*err);
    return std::get<reply>(out);
}

/// Calls f(std::type_identity<V>{}, std::type_identity<M>{}, i) for every
/// alternative M (at index i) of V = request, then of V = reply.
template <class F>
void for_each_message(F&& f) {
    auto each = [&]<class V>(std::type_identity<V> v) {
        [&]<std::size_t... I>(std::index_sequence<I...>) {
            (f(v, std::type_identity<std::variant_alternative_t<I, V>>{}, I), ...);
        }(std::make_index_sequence<std::variant_size_v<V>>{});
    };
    each(std::type_identity<request>{});
    each(std::type_identity<reply>{});
}

template <class V>
constexpr const char* kind = std::is_same_v<V, request> ? "request" : "reply";
template <class V>
using other_kind = std::conditional_t<std::is_same_v<V, request>, reply, request>;

std::vector<std::uint8_t> encode(const request& r) { return encode_request(r, 9); }
std::vector<std::uint8_t> encode(const reply& r) { return encode_reply(r, 9); }
template <class V>
std::variant<V, std::string> decode(std::uint16_t type, std::span<const std::uint8_t> payload) {
    if constexpr (std::is_same_v<V, request>)
        return decode_request(type, payload);
    else
        return decode_reply(type, payload);
}

tables_rep sample_tables() {
    node_view n;
    n.address = 0xc612000b;
    n.mac = {{2, 0, 0, 0, 0, 0x0b}};
    n.mac_source = 1;
    n.weight = 3;
    n.effective_weight = 3;
    n.weight_bound = 10;
    n.port = "lan";
    n.draining = true;
    n.new_conns = 1ull << 40;
    n.bytes = 12345;
    service_view s;
    s.proto = l4_proto::udp;
    s.port = 53;
    s.fin_ms = 90'000;
    s.nodes = {n, n};
    return tables_rep{{cluster_view{"web", 0xc6120064, {s}}}, {n}};
}

}  // namespace

TEST_CASE("every request survives encode and decode", "[api]") {
    add_node_req node{{0xc6120064, l4_proto::tcp, 80}, 0xc612000b, mac_addr{{2, 0, 0, 0, 0, 1}}, 7, 9, "lan", true};
    CHECK(std::get<add_node_req>(round_trip(node)).mac == node.mac);
    CHECK(std::get<add_node_req>(round_trip(node)).weight_bound == 9);
    CHECK(std::get<add_node_req>(round_trip(node)).quiesced);
    node.mac.reset();
    node.weight_bound.reset();
    CHECK_FALSE(std::get<add_node_req>(round_trip(node)).mac);
    CHECK_FALSE(std::get<add_node_req>(round_trip(node)).weight_bound);

    flow_key k;
    k.saddr = 1, k.daddr = 2, k.sport = 3, k.dport = 4, k.proto = 17;
    CHECK(std::get<simulate_req>(round_trip(simulate_req{k})).flow == k);
    CHECK(std::get<add_cluster_req>(round_trip(add_cluster_req{"web", 0xc6120064})).name == "web");
    CHECK(std::get<show_conns_req>(round_trip(show_conns_req{(3ull << 32) | 17, 25})).cursor == ((3ull << 32) | 17));
    CHECK(std::get<set_node_req>(round_trip(set_node_req{{}, 1, {}, false})).quiesced == false);
    CHECK(std::get<reload_req>(round_trip(reload_req{"/etc/x.yaml"})).path == "/etc/x.yaml");
    CHECK(std::holds_alternative<show_stats_req>(round_trip(show_stats_req{})));
    CHECK(std::get<add_port_req>(round_trip(add_port_req{{1, l4_proto::tcp, 443}, 1, {}, 3, {}})).stale_ms == 3u);
    const set_spares_req spares{{{0xc612000c, 0xc6120013, 0xc6120016, {100, -100}}, {0xc612000b, 0xc612000b, 1, {}}}};
    CHECK(std::get<set_spares_req>(round_trip(spares)).spares == spares.spares);
}

TEST_CASE("replies survive encode and decode, nested vectors included", "[api]") {
    const auto t = std::get<tables_rep>(round_trip(sample_tables()));
    REQUIRE(t.clusters.size() == 1);
    REQUIRE(t.clusters[0].ports[0].nodes.size() == 2);
    const auto& n = t.clusters[0].ports[0].nodes[1];
    CHECK(n.new_conns == 1ull << 40);
    CHECK(n.port == "lan");
    CHECK(n.weight_bound == 10u);
    CHECK(n.draining);
    CHECK(t.orphans.size() == 1);
    const auto e = std::get<error_rep>(round_trip(error_rep{"bad", {"a", "b"}}));
    CHECK(e.details == std::vector<std::string>{"a", "b"});
}

TEST_CASE("the escalation ladder's messages survive encode and decode", "[api][escalation]") {
    CHECK(std::holds_alternative<escalation_show_req>(round_trip(escalation_show_req{})));
    const escalation_rep e = cg::test::sample_escalation();
    const auto back = std::get<escalation_rep>(round_trip(e));
    CHECK(back.next_why == e.next_why);
    CHECK(back.store_problems == e.store_problems);
    CHECK(back.up_ms == 63000u);
    REQUIRE(back.rungs.size() == 3);
    CHECK(back.rungs[0].implemented);
    CHECK_FALSE(back.rungs[1].implemented);
    CHECK(back.rungs[2].instead == "PH2.0");
    CHECK(back.rungs[1].window_ms == 600000);
    CHECK(back.rungs[0].total == 7);
    REQUIRE(back.history.size() == 2);
    CHECK(back.history[1].at_ms == 1'700'000'001'000);
    CHECK(back.history[0].applied == "PH0.5");
    CHECK(back.history[0].took_ms == 812);
    CHECK(back.counters.at(0).value == 1);
    CHECK(back.config == e.config);
    CHECK(back.backups_dir == e.backups_dir);
    CHECK(back.backup_every_ms == 60000);
    CHECK(back.backups_kept == 10);
    REQUIRE(back.backups.size() == 2);
    CHECK(back.backups[0].problem == e.backups[0].problem);
    CHECK(back.backups[1].seq == 4);
    CHECK(back.backups[1].saved_ms == 1'700'000'000'000);
    CHECK(back.backups[1].bytes == 1234);
    CHECK_FALSE(std::get<escalation_rep>(round_trip(escalation_rep{})).up_ms);
}

TEST_CASE("the gateway pair's messages survive encode and decode", "[api][pair]") {
    CHECK(std::holds_alternative<ha_show_req>(round_trip(ha_show_req{})));
    CHECK(std::holds_alternative<ha_switchover_req>(round_trip(ha_switchover_req{})));
    ha_rep h;
    h.role = "active";
    h.epoch = 1ull << 40;
    h.health = "up";
    h.health_why = "forwarding";
    h.why = "peer silent for 52 ms";
    h.address = 0xc6120003;
    h.peer = 0xc6120004;
    h.peer_alive = true;
    h.peer_role = "backup";
    h.peer_health = "hung";
    h.peer_epoch = 7;
    h.peer_conns = 100000;
    h.peer_heard_ms = 9;
    h.heal = "198.18.0.6 joined in place of 198.18.0.3";
    h.counters = {{"takeovers", 2}};
    const auto back = std::get<ha_rep>(round_trip(h));
    CHECK(back.heal == h.heal);
    CHECK(back.role == "active");
    CHECK(back.epoch == 1ull << 40);
    CHECK(back.health_why == "forwarding");
    CHECK(back.why == h.why);
    CHECK(back.peer == 0xc6120004);
    CHECK(back.peer_alive);
    CHECK(back.peer_role == "backup");
    CHECK(back.peer_health == "hung");
    CHECK(back.peer_conns == 100000);
    CHECK(back.peer_heard_ms == 9);
    REQUIRE(back.counters.size() == 1);
    CHECK(back.counters[0].value == 2);
}

TEST_CASE("the manager's messages survive encode and decode, real numbers included", "[api][manager]") {
    const auto set = std::get<manager_set_req>(round_trip(manager_set_req{"importance.cpu", "2.5"}));
    CHECK(set.name == "importance.cpu");
    CHECK(set.value == "2.5");
    const auto node = std::get<manager_node_req>(round_trip(manager_node_req{0xc612000b, 2, 12.75}));
    CHECK(node.action == 2);
    CHECK(node.weight == 12.75);
    CHECK(std::holds_alternative<manager_show_req>(round_trip(manager_show_req{})));

    manager_rep m;
    m.params = {{"smoothing", "4"}};
    m.metrics = {{"answer_time", "level", 1.5}};
    m.services = {{{0xc6120064, l4_proto::tcp, 80}, {{0xc612000b, "adaptive", "probe", 33.3333, 33, 30, {std::nullopt, 0.1}}}}};
    m.counters = {{"pushes", 7}};
    const auto back = std::get<manager_rep>(round_trip(m));
    REQUIRE(back.services.size() == 1);
    const auto& n = back.services[0].nodes.at(0);
    CHECK(n.weight == 33.3333);
    CHECK(n.metrics == std::vector<std::optional<double>>{std::nullopt, 0.1});
    CHECK(back.metrics.at(0).importance == 1.5);
    CHECK(back.counters.at(0).value == 7);
}

TEST_CASE("bad headers are refused with a reason", "[api]") {
    auto frame = encode_request(hello_req{"t"}, 1);
    frame_header h;
    auto bad = frame;
    bad[0] ^= 0xff;
    CHECK_THAT(*decode_header(std::span(bad).first(header_size), h), Catch::Contains("magic"));
    bad = frame;
    bad[4] = 9;
    CHECK_THAT(*decode_header(std::span(bad).first(header_size), h), Catch::Contains("version 9"));
    bad = frame;
    bad[11] = 0x7f;  // length high byte
    CHECK_THAT(*decode_header(std::span(bad).first(header_size), h), Catch::Contains("over the"));
    CHECK(decode_header(std::span(frame).first(10), h).has_value());
}

TEST_CASE("every truncation of a payload is an error, not a crash", "[api]") {
    const auto frame = encode_reply(sample_tables(), 1);
    const auto h = header_of(frame);
    const auto payload = payload_of(frame);
    for (std::size_t n = 0; n < payload.size(); ++n) {
        const std::vector<std::uint8_t> cut(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n));
        INFO("payload cut to " << n << " of " << payload.size() << " bytes");
        CHECK(std::holds_alternative<std::string>(decode_reply(h.type, cut)));
    }
}

TEST_CASE("malformed payloads are refused", "[api]") {
    auto frame = encode_request(hello_req{"abc"}, 1);
    auto h = header_of(frame);
    std::vector<std::uint8_t> p(payload_of(frame).begin(), payload_of(frame).end());

    auto trailing = p;
    trailing.push_back(0);
    CHECK_THAT(std::get<std::string>(decode_request(h.type, trailing)), Catch::Contains("trailing"));

    auto lying = p;
    lying[3] = 0x10;  // string length far past the payload
    CHECK(std::holds_alternative<std::string>(decode_request(h.type, lying)));

    CHECK_THAT(std::get<std::string>(decode_request(999, p)), Catch::Contains("unknown request type 999"));
    CHECK_THAT(std::get<std::string>(decode_request(0, p)), Catch::Contains("unknown request type 0"));
    CHECK_THAT(std::get<std::string>(decode_reply(3, p)), Catch::Contains("unknown reply type 3"));
    CHECK_THAT(std::get<std::string>(decode_request(type_of<ok_rep>.id, {})), Catch::Contains("unknown request type"));

    auto q = encode_request(set_node_req{{}, 1, {}, true}, 1);
    h = header_of(q);
    std::vector<std::uint8_t> qp(payload_of(q).begin(), payload_of(q).end());
    qp.back() = 2;  // bool neither 0 nor 1
    CHECK_THAT(std::get<std::string>(decode_request(h.type, qp)), Catch::Contains("boolean"));

    // A cluster port of protocol 47 (GRE): only tcp and udp exist.
    auto port = encode_request(add_port_req{{0xc6120064, l4_proto::udp, 53}, {}, {}, {}, {}}, 1);
    h = header_of(port);
    std::vector<std::uint8_t> pp(payload_of(port).begin(), payload_of(port).end());
    REQUIRE(pp[4] == 17);  // after the 4-byte address
    pp[4] = 47;
    CHECK_THAT(std::get<std::string>(decode_request(h.type, pp)), Catch::Contains("protocol 47 is neither tcp"));
    pp[4] = 6;
    CHECK(std::get<add_port_req>(std::get<request>(decode_request(h.type, pp))).svc.proto == l4_proto::tcp);

    // A vector count of four billion: refused before anything is allocated.
    auto t = encode_reply(tables_rep{}, 1);
    h = header_of(t);
    std::vector<std::uint8_t> tp(payload_of(t).begin(), payload_of(t).end());
    tp[0] = tp[1] = tp[2] = tp[3] = 0xff;
    CHECK(std::holds_alternative<std::string>(decode_reply(h.type, tp)));
}

TEST_CASE("every request and reply is sent under its own id and decoded back into itself", "[api]") {
    for_each_message([]<class V, class M>(std::type_identity<V>, std::type_identity<M>, std::size_t i) {
        INFO(kind<V> << " alternative " << i << ", id " << type_of<M>.id);
        const auto frame = encode(V{M{}});
        const auto h = header_of(frame);
        CHECK(h.type == type_of<M>.id);
        CHECK(type_id(V{M{}}) == type_of<M>.id);
        const auto back = decode<V>(h.type, payload_of(frame));
        REQUIRE(std::holds_alternative<V>(back));
        CHECK(std::holds_alternative<M>(std::get<V>(back)));
        // A request id is no reply's, and the other way round.
        CHECK(std::holds_alternative<std::string>(decode<other_kind<V>>(h.type, payload_of(frame))));
    });
}

TEST_CASE("the type table gives every request and reply an id and a name of its own", "[api]") {
    // type_table() has an entry for every alternative of the variant, {0, ""}
    // for one missing from the table.
    const auto requests = type_table<request>();
    const auto replies = type_table<reply>();
    REQUIRE(requests.size() == std::variant_size_v<request>);
    REQUIRE(replies.size() == std::variant_size_v<reply>);
    const auto flaw = find_flaw(requests, replies);
    INFO(describe(flaw));
    CHECK_FALSE(flaw.has_value());
}

namespace {
struct unlisted_req {  // a message someone forgot to give an id
    CG_FIELDS()
};
std::string flaw_in(const std::vector<msg_type>& requests, const std::vector<msg_type>& replies) {
    return describe(find_flaw(requests, replies));
}
}  // namespace

TEST_CASE("the type table check finds a message without an id or a name, and two that share one", "[api]") {
    const auto forgot = type_table<std::variant<hello_req, unlisted_req>>();
    REQUIRE(forgot.size() == 2);
    CHECK(forgot[0].id == 1);
    CHECK(forgot[1].id == 0);
    CHECK(describe(find_flaw(forgot, type_table<reply>())) == "no id: '' 0");

    const std::vector<msg_type> ok = {{0x8000, "ok"}};
    CHECK(flaw_in({{1, "hello"}, {2, "show"}}, ok) == "none");
    CHECK(flaw_in({{1, "hello"}, {2, ""}}, ok) == "no name: '' 2");
    CHECK(flaw_in({{1, "hello"}, {1, "show"}}, ok) == "two messages with one id: 'hello' 1 and 'show' 1");
    CHECK(flaw_in({{1, "hello"}}, {{0x8000, "ok"}, {0x8000, "error"}}) ==
          "two messages with one id: 'ok' 32768 and 'error' 32768");
    CHECK(flaw_in({{1, "hello"}, {2, "hello"}}, ok) == "two messages with one name: 'hello' 1 and 'hello' 2");
    CHECK(flaw_in({{1, "ok"}}, ok) == "two messages with one name: 'ok' 1 and 'ok' 32768");  // request and reply
    CHECK(flaw_in({{0x8001, "hello"}}, ok) == "a request id in the reply range: 'hello' 32769");
    CHECK(flaw_in({{1, "hello"}}, {{2, "ok"}}) == "a reply id in the request range: 'ok' 2");
}

TEST_CASE("the ids of protocol version 1 never change", "[api]") {
    // Clients and servers of different builds talk by these numbers: a
    // message may be added (with a new id, and a line here), never renumbered.
    const std::pair<std::uint16_t, std::string_view> released[] = {
        {1, "hello"}, {2, "show_tables"}, {3, "add_cluster"}, {4, "del_cluster"}, {5, "add_port"},
        {6, "del_port"}, {7, "add_node"}, {8, "del_node"}, {9, "set_node"}, {10, "show_stats"},
        {11, "show_conns"}, {12, "simulate"}, {13, "reload"}, {14, "manager_show"}, {15, "manager_set"},
        {16, "manager_node"}, {0x8000, "ok"}, {0x8001, "error"}, {0x8002, "hello_reply"}, {0x8003, "tables"},
        {0x8004, "stats"}, {0x8005, "conns"}, {0x8006, "simulate_reply"}, {0x8007, "manager"},
        {17, "dump_conns"}, {18, "insert_conns"}, {19, "set_role"}, {0x8008, "dump_conns_reply"},
        {0x8009, "insert_conns_reply"}, {20, "ha_show"}, {21, "ha_switchover"}, {0x800a, "ha"},
        {22, "escalation_show"}, {0x800b, "escalation"}, {24, "fail_node"}, {23, "show_mirror"}, {0x800c, "mirror"},
        {25, "set_spares"}, {26, "restore_plans"}, {0x800d, "restore_plans_reply"}, {27, "restore_show"},
        {0x800e, "restore"}, {28, "state_show"}, {0x800f, "state"}};
    for (const auto& [id, name] : released) {
        INFO("id " << id);
        CHECK(type_name(id) == name);
    }
    CHECK(std::size(released) == std::variant_size_v<request> + std::variant_size_v<reply>);
    CHECK(type_of<hello_req>.id == 1);
    CHECK(type_of<error_rep>.id == 0x8001);
}

TEST_CASE("type names cover every message", "[api]") {
    std::set<std::string> names;
    for_each_message([&]<class V, class M>(std::type_identity<V>, std::type_identity<M>, std::size_t i) {
        const std::uint16_t id = type_id(V{M{}});
        INFO(kind<V> << " alternative " << i << ", id " << id);
        const std::string name = type_name(id);
        CHECK(name == type_of<M>.name);
        CHECK_FALSE(name.empty());
        CHECK_THAT(name, !Catch::StartsWith("type "));  // the fallback for ids not in the table
        CHECK(names.insert(name).second);               // no other message has that name
    });
    CHECK(names.size() == std::variant_size_v<request> + std::variant_size_v<reply>);
    CHECK(type_name(500) == "type 500");
    CHECK(type_name(0) == "type 0");
}

TEST_CASE("bulk connection messages survive encode and decode, 18 bytes a record", "[api][bulk]") {
    insert_conns_req ins;
    ins.replace = true;
    for (std::uint32_t i = 0; i < 1000; ++i) {
        flow_key k;
        k.saddr = 0xc612000a + i, k.daddr = 0xc6120064, k.sport = static_cast<std::uint16_t>(40000 + i),
        k.dport = 80, k.proto = i % 2 ? 17 : 6;
        ins.conns.push_back({k, 0xc612000b + i % 3, static_cast<std::uint8_t>(1 + i % 2)});
    }
    const auto frame = encode_request(ins, 1);
    CHECK(frame.size() == header_size + 4 + 1000 * 18 + 1);  // count, records, the flag
    const auto back = std::get<insert_conns_req>(round_trip(ins));
    CHECK(back.conns == ins.conns);
    CHECK(back.replace);

    dump_conns_rep page{2, 4, 77, false, 1000, ins.conns};
    const auto d = std::get<dump_conns_rep>(round_trip(page));
    CHECK(d.conns == ins.conns);
    CHECK((d.worker == 2 && d.workers == 4 && d.next_cursor == 77 && !d.done && d.table_size == 1000));
    const auto r = std::get<dump_conns_req>(round_trip(dump_conns_req{3, 1u << 20, 500}));
    CHECK((r.worker == 3 && r.cursor == 1u << 20 && r.max == 500));
    const auto c = std::get<insert_conns_rep>(round_trip(insert_conns_rep{1, 2, 3, 4, 5, 6, 7}));
    CHECK((c.inserted == 1 && c.replaced == 2 && c.kept == 3 && c.no_service == 4 && c.no_node == 5 && c.full == 6 &&
           c.bad == 7));
    CHECK(std::get<set_role_req>(round_trip(set_role_req{"standby"})).role == "standby");
}

TEST_CASE("the mirror parser's messages survive encode and decode", "[api][mirror]") {
    CHECK(std::get<show_mirror_req>(round_trip(show_mirror_req{25})).conns == 25);
    mirror_rep m;
    m.lcores = 2;
    m.connections = 3;
    m.capacity = 2048;
    m.counters = {{"frames.followed", 120}, {"smb2.ok", 4}};
    mirror_conn_view c;
    c.client = 0xc612000a;
    c.client_port = 40000;
    c.server = 0xc612000b;
    c.server_port = 2049;
    c.state = "established";
    c.client_half = "open";
    c.server_half = "fin";
    c.protocol = "nfs";
    c.reason = "complete";
    c.pending = 1;
    c.oldest = "nfs3 READ";
    c.held_bytes = 4096;
    c.idle_ms = 12;
    c.lcore = 1;
    m.conns = {c};
    const auto back = std::get<mirror_rep>(round_trip(m));
    CHECK(back.lcores == 2);
    CHECK(back.capacity == 2048);
    REQUIRE(back.counters.size() == 2);
    CHECK(back.counters[1].name == "smb2.ok");
    REQUIRE(back.conns.size() == 1);
    CHECK(back.conns[0].oldest == "nfs3 READ");
    CHECK(back.conns[0].server_half == "fin");
    CHECK(back.conns[0].held_bytes == 4096);
    CHECK(back.conns[0].lcore == 1);
}
