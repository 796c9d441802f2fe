// The controller's bulk connection requests (dataplane/ctl/controller_conns.cpp)
// and its role, through the control API over a fake data plane of two workers
// with real routers: what controld does to a gatewayd that lost its tables.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <set>

#include "dataplane/pkt/wire.hpp"
#include "support/controller_fixture.hpp"

using namespace cg;
using namespace cg::test;
namespace api = cg::common::api;
namespace wire = cg::dp::wire;
using cg::common::api::type_of;

namespace {

api::conn_record record(std::uint16_t sport, int node, std::uint8_t state = 1, std::uint16_t dport = 80) {
    common::flow_key k;
    k.saddr = client_ip, k.daddr = vip, k.sport = sport, k.dport = dport, k.proto = 6;
    return {k, node_ip(node), state};
}

/// Every record of every worker's table, by bulk dump pages of `page`.
std::vector<api::conn_record> dump_all(ctl_fixture& fx, std::uint32_t page) {
    std::vector<api::conn_record> all;
    std::uint16_t workers = 1;
    for (std::uint16_t w = 0; w < workers; ++w) {
        std::uint32_t cursor = 0;
        for (int pages = 0;; ++pages) {
            REQUIRE(pages < 10'000);
            const auto r = fx.expect<api::dump_conns_rep>(api::dump_conns_req{w, cursor, page});
            CHECK(r.worker == w);
            CHECK(r.conns.size() <= page);
            workers = r.workers;
            all.insert(all.end(), r.conns.begin(), r.conns.end());
            if (r.done) break;
            cursor = r.next_cursor;
        }
    }
    return all;
}

std::set<std::uint16_t> sports(const std::vector<api::conn_record>& rs) {
    std::set<std::uint16_t> out;
    for (const auto& r : rs) out.insert(r.flow.sport);
    return out;
}

}  // namespace

TEST_CASE("inserted connections forward on their worker to their node and come back in a dump", "[controller][bulk]") {
    ctl_fixture fx;
    fx.add_web();
    api::insert_conns_req req;
    for (std::uint16_t p = 0; p < 200; ++p) req.conns.push_back(record(static_cast<std::uint16_t>(3000 + p), 2));
    const auto rep = fx.expect<api::insert_conns_rep>(req);
    CHECK(rep.inserted == 200);
    CHECK((rep.replaced == 0 && rep.kept == 0 && rep.no_service == 0 && rep.no_node == 0 && rep.full == 0 &&
           rep.bad == 0));

    // Each went to the worker a dispatch lcore would pick, and forwards
    // there to node 2 (weights 3:2 would have sent the first to node 1).
    for (std::uint16_t p = 0; p < 200; ++p) {
        const std::uint32_t w = dp::worker_for_hash(common::flow_hash(req.conns[p].flow), 2);
        INFO("sport " << 3000 + p);
        CHECK(fx.tcp(w, static_cast<std::uint16_t>(3000 + p), wire::tcp_ack) == 2);
        CHECK(fx.tcp(1 - w, static_cast<std::uint16_t>(3000 + p), wire::tcp_ack) == 0);  // not on the other
    }
    CHECK(fx.fake.at(0).table.size() + fx.fake.at(1).table.size() == 200);

    for (std::uint32_t page : {7u, 64u, 1000u}) {
        INFO("page " << page);
        const auto back = dump_all(fx, page);
        CHECK(back.size() == 200);
        CHECK(sports(back) == sports(req.conns));
        CHECK(std::all_of(back.begin(), back.end(), [](const api::conn_record& r) { return r.node == node_ip(2) && r.state == 1; }));
    }
    const auto stats = fx.expect<api::stats_rep>(api::show_stats_req{});
    for (const auto& c : stats.connections) {
        if (c.name == "restored") CHECK(c.value == 200);
        if (c.name == "live") CHECK(c.value == 200);
    }
}

TEST_CASE("a bulk insert counts what it cannot place, and keeps or replaces what exists", "[controller][bulk]") {
    ctl_fixture fx;
    fx.add_web();
    api::insert_conns_req req;
    req.conns = {record(1, 1), record(2, 2, 2), record(3, 3) /* no node 3 in web */, record(4, 1, 1, 81) /* no port */,
                 record(5, 1, 0) /* no state */, record(6, 1, 7)};
    auto rep = fx.expect<api::insert_conns_rep>(req);
    CHECK((rep.inserted == 2 && rep.no_node == 1 && rep.no_service == 1 && rep.bad == 2));

    req.conns = {record(1, 2), record(2, 2, 2)};
    rep = fx.expect<api::insert_conns_rep>(req);
    CHECK((rep.kept == 2 && rep.inserted == 0 && rep.replaced == 0));
    req.replace = true;
    rep = fx.expect<api::insert_conns_rep>(req);
    CHECK((rep.replaced == 1 && rep.kept == 1));
    const auto back = dump_all(fx, 100);
    REQUIRE(back.size() == 2);
    CHECK(std::all_of(back.begin(), back.end(), [](const api::conn_record& r) { return r.node == node_ip(2); }));

    req.conns.assign(api::max_bulk_conns + 1, record(9, 1));
    CHECK_THAT(fx.refusal(req), Catch::Contains("at most 65536"));
    CHECK_THAT(fx.refusal(api::dump_conns_req{2, 0, 10}), Catch::Contains("no worker 2"));
}

TEST_CASE("with RSS a restored connection goes into every worker's table, counted once", "[controller][bulk]") {
    ctl_fixture fx;
    fx.fake.rss = true;
    fx.add_web();
    api::insert_conns_req req;
    for (std::uint16_t p = 0; p < 50; ++p) req.conns.push_back(record(static_cast<std::uint16_t>(100 + p), 1));
    const auto rep = fx.expect<api::insert_conns_rep>(req);
    CHECK(rep.inserted == 50);
    CHECK(fx.fake.at(0).table.size() == 50);
    CHECK(fx.fake.at(1).table.size() == 50);
    CHECK(fx.tcp(0, 120, wire::tcp_ack) == 1);
    CHECK(fx.tcp(1, 120, wire::tcp_ack) == 1);
}

TEST_CASE("the role is one snapshot: a standby drops flows, and active again forwards them", "[controller][role]") {
    ctl_fixture fx;
    fx.add_web();
    CHECK(fx.expect<api::hello_rep>(api::hello_req{}).role == "active");
    CHECK(fx.tcp(0, 10, wire::tcp_syn) != 0);
    const int before = fx.fake.publishes;
    CHECK(fx.expect<api::ok_rep>(api::set_role_req{"standby"}).message == "now standby");
    CHECK(fx.fake.publishes == before + 1);
    CHECK(fx.fake.current().role == dp::gateway_role::standby);
    CHECK(fx.expect<api::hello_rep>(api::hello_req{}).role == "standby");
    CHECK(fx.tcp(0, 11, wire::tcp_syn) == 0);
    CHECK(fx.expect<api::ok_rep>(api::set_role_req{"standby"}).message == "standby already");
    CHECK(fx.fake.publishes == before + 1);
    CHECK_THAT(fx.refusal(api::set_role_req{"primary"}), Catch::Contains("neither active nor standby"));
    CHECK(fx.fake.current().role == dp::gateway_role::standby);
    // Tables edited while standing by are kept in the next snapshots.
    fx.expect<api::ok_rep>(api::set_node_req{fx.http(), node_ip(1), 0, {}});
    CHECK(fx.fake.current().role == dp::gateway_role::standby);
    fx.expect<api::ok_rep>(api::set_role_req{"active"});
    CHECK(fx.tcp(0, 12, wire::tcp_syn) == 2);  // node 1 has weight 0 now
}

TEST_CASE("the fence: its parent ended, an active gatewayd is standby in one snapshot, its window closed",
          "[controller][role]") {
    ctl_fixture fx;
    fx.add_web();
    fx.fake.now = 1000;
    fx.expect<api::ok_rep>(api::set_role_req{"active", 500});
    const int before = fx.fake.publishes;
    CHECK(fx.ctl.parent_ended());
    CHECK(fx.fake.publishes == before + 1);
    CHECK(fx.fake.current().role == dp::gateway_role::standby);
    CHECK(fx.fake.current().reset_unknown_until == 0);
    CHECK(fx.tcp(0, 13, wire::tcp_syn) == 0);
    CHECK_FALSE(fx.ctl.parent_ended());  // standby already: nothing published
    CHECK(fx.fake.publishes == before + 1);
}

TEST_CASE("a controller started as standby forwards nothing until told", "[controller][role]") {
    fake_dataplane fake{1, 100, 8, 16};
    auto cfg = controller_config();
    dp::controller::options opt{"/nonexistent.yaml", "test", std::chrono::seconds(2), dp::gateway_role::standby};
    dp::controller ctl(cfg, {{"lan", 0, gw_mac, gw_ip}}, fake, opt);
    CHECK(fake.current().role == dp::gateway_role::standby);
    CHECK(std::get<api::hello_rep>(ctl.handle(api::hello_req{})).role == "standby");
}

TEST_CASE("[.bulk-bench] a million connections in and out through the controller", "[.bulk-bench]") {
    // Timings for the record, not for pass/fail: build/test/unit/unit_tests "[.bulk-bench]"
    fake_dataplane fake{1, 1'100'000, 8, 16};
    dp::controller ctl(controller_config(), {{"lan", 0, gw_mac, gw_ip}}, fake, {"/nonexistent.yaml", "test"});
    const api::service_key http{vip, common::l4_proto::tcp, 80};
    ctl.handle(api::add_cluster_req{"web", vip});
    ctl.handle(api::add_port_req{http, 10'000, 30'000, 60'000, {}});
    ctl.handle(api::add_node_req{http, node_ip(1), node_mac(1), 1, {}, "", false});
    constexpr std::uint32_t total = 1'000'000;
    std::vector<api::insert_conns_req> reqs;
    for (std::uint32_t i = 0; i < total; ++i) {
        if (i % api::max_bulk_conns == 0) reqs.emplace_back();
        common::flow_key k;
        k.saddr = 0x0a000000 + i / 60000, k.daddr = vip, k.sport = static_cast<std::uint16_t>(1024 + i % 60000),
        k.dport = 80, k.proto = 6;
        reqs.back().conns.push_back({k, node_ip(1), 1});
    }
    const auto t0 = std::chrono::steady_clock::now();
    std::uint64_t inserted = 0;
    for (const auto& r : reqs) {
        // Through the codec both ways, as over the socket.
        const auto frame = api::encode_request(r, 1);
        auto decoded = api::decode_request(type_of<api::insert_conns_req>.id,
                                           std::span(frame).subspan(api::header_size));
        inserted += std::get<api::insert_conns_rep>(ctl.handle(std::get<api::request>(decoded))).inserted;
    }
    const auto t1 = std::chrono::steady_clock::now();
    std::uint64_t dumped = 0, dumped_bytes = 0;
    for (std::uint32_t cursor = 0;;) {
        const auto rep = std::get<api::dump_conns_rep>(ctl.handle(api::dump_conns_req{0, cursor, api::max_bulk_conns}));
        dumped_bytes += api::encode_reply(rep, 1).size();  // the codec's cost, as over the socket
        dumped += rep.conns.size();
        if (rep.done) break;
        cursor = rep.next_cursor;
    }
    const auto t2 = std::chrono::steady_clock::now();
    const auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
    WARN("insert " << inserted << " in " << ms(t1 - t0) << " ms (" << inserted / ms(t1 - t0) / 1000
                   << " M/s, codec included); dump " << dumped << " (" << dumped_bytes << " bytes) in "
                   << ms(t2 - t1) << " ms");
    CHECK(inserted == total);
    CHECK(dumped == total);
}

TEST_CASE("set role active with a reset window puts its end in the snapshot, and housekeeping closes it", "[controller][tcp_reset]") {
    ctl_fixture fx;
    fx.add_web();
    fx.fake.now = 1000;
    CHECK(fx.fake.current().reset_unknown_until == 0);
    CHECK_THAT(fx.refusal(api::set_role_req{"standby", 500}), Catch::Contains("needs the active role"));
    CHECK_THAT(fx.refusal(api::set_role_req{"active", 3'600'001}), Catch::Contains("at most 3600000 ms"));
    CHECK(fx.expect<api::ok_rep>(api::set_role_req{"active", 500}).message ==
          "active; unknown connections reset for 500 ms");
    CHECK(fx.fake.current().reset_unknown_until == 1500);
    fx.fake.now = 1499;
    fx.ctl.housekeeping();
    CHECK(fx.fake.current().reset_unknown_until == 1500);
    fx.fake.now = 1500;
    fx.ctl.housekeeping();
    CHECK(fx.fake.current().reset_unknown_until == 0);
    // Standby closes it too.
    fx.expect<api::ok_rep>(api::set_role_req{"active", 500});
    fx.expect<api::ok_rep>(api::set_role_req{"standby"});
    CHECK(fx.fake.current().reset_unknown_until == 0);
}
