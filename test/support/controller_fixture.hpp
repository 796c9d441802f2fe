// The real controller over a fake data plane (two workers, no EAL), driven
// through the control API as gwctl would: one gateway port "lan", and
// helpers for cluster 198.18.0.100 tcp/80 of the router fixture's nodes.
#pragma once

#include <string>
#include <variant>

#include <catch2/catch.hpp>

#include "dataplane/ctl/controller.hpp"
#include "fake_dataplane.hpp"
#include "router_fixture.hpp"

namespace cg::test {

struct ctl_fixture {
    fake_dataplane fake{2, 500, 8, 16};
    dp::controller ctl;

    explicit ctl_fixture(common::gateway_cfg cfg = controller_config(),
                         std::chrono::milliseconds job_timeout = std::chrono::seconds(2))
        : ctl(std::move(cfg), {{"lan", 0, gw_mac, gw_ip}}, fake, {"/nonexistent.yaml", "test", job_timeout}) {}

    common::api::reply call(const common::api::request& r) { return ctl.handle(r); }
    /// The reply, which must be an R (a refusal fails the test with its message).
    template <class R>
    R expect(const common::api::request& r) {
        auto rep = call(r);
        if (auto* e = std::get_if<common::api::error_rep>(&rep)) FAIL("refused: " << e->message);
        REQUIRE(std::holds_alternative<R>(rep));
        return std::get<R>(rep);
    }
    /// The refusal's message and details, one a line; the request must be refused.
    std::string refusal(const common::api::request& r) {
        auto rep = call(r);
        REQUIRE(std::holds_alternative<common::api::error_rep>(rep));
        const auto& e = std::get<common::api::error_rep>(rep);
        std::string all = e.message;
        for (const auto& d : e.details) all += "\n" + d;
        return all;
    }

    common::api::service_key http() const { return {vip, common::l4_proto::tcp, 80}; }
    /// Cluster "web" with tcp/80 and nodes 1 and 2 at weights w1 and w2.
    void add_web(std::uint32_t w1 = 3, std::uint32_t w2 = 2) {
        expect<common::api::ok_rep>(common::api::add_cluster_req{"web", vip});
        expect<common::api::ok_rep>(common::api::add_port_req{http(), 10'000, 30'000, 60'000, {}});
        expect<common::api::ok_rep>(common::api::add_node_req{http(), node_ip(1), node_mac(1), w1, {}, "", false});
        expect<common::api::ok_rep>(common::api::add_node_req{http(), node_ip(2), node_mac(2), w2, {}, "", false});
    }
    common::api::tables_rep tables() { return expect<common::api::tables_rep>(common::api::show_tables_req{}); }

    /// Sends a TCP segment from the client on worker w; returns the node (1-based) or 0.
    int tcp(std::size_t w, std::uint16_t sport, std::uint8_t flags) {
        frame_spec s;
        s.sport = sport;
        s.tcp_flags = flags;
        bytes f = make_ipv4(s);
        const auto v = fake.route(w, f);
        return v.act == dp::action::forward ? router_fixture::node_of(f) : 0;
    }
};

}  // namespace cg::test
