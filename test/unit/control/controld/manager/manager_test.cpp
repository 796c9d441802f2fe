// The manager loop's decisions (requirements 4.1-4.7) against a fake clock.
#include <catch2/catch.hpp>

#include <map>

#include "control/controld/manager/manager.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace api = cg::common::api;
using cg::common::ipv4_addr;

namespace {

const ipv4_addr vip = 0xc6120064;  // 198.18.0.100
const ipv4_addr n1 = 0xc612000b, n2 = 0xc612000c, n3 = 0xc612000d;
const service_key web{vip, cg::common::l4_proto::tcp, 80};

/// A data plane's tables: one port, three nodes.
struct fake_tables {
    std::map<ipv4_addr, api::node_view> nodes;
    fake_tables(std::uint32_t w1, std::uint32_t w2, std::uint32_t w3) {
        for (auto [a, w] : {std::pair{n1, w1}, {n2, w2}, {n3, w3}}) {
            api::node_view v;
            v.address = a;
            v.weight = w;
            nodes[a] = v;
        }
    }
    api::tables_rep rep() const {
        api::service_view s;
        s.port = 80;
        s.weight_bound = 1000;
        for (const auto& [a, v] : nodes) s.nodes.push_back(v);
        api::cluster_view c;
        c.vip = vip;
        c.ports = {s};
        return {{c}, {}};
    }
    /// The data plane took what the manager sent.
    void apply(const std::vector<weight_change>& w) {
        for (const auto& c : w) nodes[c.node].weight = c.weight;
    }
};

cg::common::manager_cfg only_answer_time() {
    cg::common::manager_cfg c;
    c.importance = {};
    c.importance.conns = 0;
    c.importance.answer_time = 1;
    c.smoothing = 2;
    c.threshold = 0.05;
    return c;
}

std::map<ipv4_addr, std::uint32_t> as_map(const std::vector<weight_change>& w) {
    std::map<ipv4_addr, std::uint32_t> m;
    for (const auto& c : w) m[c.node] = c.weight;
    return m;
}

/// Probe answers (ms) of n1, n2, n3.
void answers(manager& m, double a1, double a2, double a3) {
    m.probe_result(web, n1, a1);
    m.probe_result(web, n2, a2);
    m.probe_result(web, n3, a3);
}

/// One manager period: read the tables, compute, send, apply.
std::vector<weight_change> period(manager& m, fake_tables& t, clock::time_point now) {
    m.observe_tables(t.rep(), now);
    auto w = m.compute(now);
    m.sent(w);
    t.apply(w);
    return w;
}

/// A manager that has had its first period with three nodes at weight 100.
struct running {
    clock::time_point t0 = clock::time_point{} + 1h;
    manager m{only_answer_time(), t0};
    fake_tables t{100, 100, 100};
    running() { period(m, t, t0); }
};

}  // namespace

TEST_CASE("with nothing measured the manager sends nothing", "[manager]") {
    const auto t0 = clock::time_point{} + 1h;
    manager m(only_answer_time(), t0);
    fake_tables t(100, 100, 100);
    CHECK(period(m, t, t0).empty());
    CHECK(period(m, t, t0 + 1s).empty());
    CHECK(m.pushes() == 0);
}

TEST_CASE("a node that answers slowly loses weight period after period; a small wobble is not sent", "[manager]") {
    running run;
    auto& [t0, m, t] = run;
    std::uint32_t last = 100;
    for (int i = 1; i <= 6; ++i) {
        answers(m, 2.0, 40.0, 2.0);  // n2 is slow
        period(m, t, t0 + i * 1s);
        if (i == 1) CHECK(t.nodes[n2].weight < 100);
        CHECK(t.nodes[n2].weight <= last);
        last = t.nodes[n2].weight;
    }
    CHECK(last == 14);  // 100 + (1/3 - 40/44) * 300 / 2, the same every period: no drift
    CHECK(t.nodes[n1].weight == 143);
    CHECK(t.nodes[n1].weight > 100);
    CHECK(t.nodes[n1].weight == t.nodes[n3].weight);

    // All answer alike now: n2's weight stops falling; tiny differences are not sent.
    manager calm(only_answer_time(), t0);
    fake_tables u(100, 100, 100);
    period(calm, u, t0);
    answers(calm, 2.0, 2.1, 2.0);
    CHECK(period(calm, u, t0 + 1s).empty());  // under the 5 % threshold
}

TEST_CASE("a failed probe blocks the node at once; its answer brings back its weight", "[manager]") {
    auto t0 = clock::time_point{} + 1h;
    manager m(only_answer_time(), t0);
    fake_tables t(100, 60, 100);
    period(m, t, t0);
    m.probe_result(web, n2, std::nullopt);
    const auto w = as_map(m.compute(t0));
    REQUIRE(w.contains(n2));
    CHECK(w.at(n2) == 0);
    m.sent({{web, n2, 0}});
    t.nodes[n2].weight = 0;
    // Still down at the next period: nothing new to send.
    CHECK(period(m, t, t0 + 1s).empty());
    m.probe_result(web, n2, 3.0);
    const auto back = as_map(m.compute(t0 + 1s));
    CHECK(back.at(n2) == 60);
}

TEST_CASE("a node marked failed keeps its weight while it is failed: its spare serves with it", "[manager][spares]") {
    auto t0 = clock::time_point{} + 1h;
    manager m(only_answer_time(), t0);
    fake_tables t(100, 60, 100);
    period(m, t, t0);
    t.nodes[n2].failed = true;
    m.probe_result(web, n2, std::nullopt);  // a dead node's probes fail
    answers(m, 2.0, 40.0, 2.0);
    m.probe_result(web, n2, std::nullopt);
    for (int i = 1; i <= 3; ++i) period(m, t, t0 + i * 1s);
    CHECK(t.nodes[n2].weight == 60);
    t.nodes[n2].failed = false;  // live again, but its probes still fail: blocked now
    period(m, t, t0 + 4s);
    CHECK(t.nodes[n2].weight == 0);
    // Blocked first (its probe failed), then marked failed by controld before
    // the tables say so: it gets back the weight it had, for its spare.
    m.node_failed(n2, true);
    period(m, t, t0 + 5s);
    CHECK(t.nodes[n2].weight == 60);
    m.node_failed(n2, false);
    period(m, t, t0 + 6s);
    CHECK(t.nodes[n2].weight == 0);
}

TEST_CASE("agent reports: a grace period, then a silent node is blocked until it reports", "[manager]") {
    auto t0 = clock::time_point{} + 1h;
    auto cfg = only_answer_time();
    cfg.agents = cg::common::agents_cfg{"198.18.0.2:9651", "k", 3s, 30s};
    manager m(cfg, t0);
    fake_tables t(100, 100, 100);
    CHECK(period(m, t, t0 + 2s).empty());  // within the grace period
    agent::host_report r;
    m.host_report(n1, r, t0 + 2s);
    m.host_report(n3, r, t0 + 2s);
    const auto w = as_map(period(m, t, t0 + 4s));
    CHECK(w.size() == 1);
    CHECK(w.at(n2) == 0);  // never reported
    m.host_report(n2, r, t0 + 4500ms);
    const auto back = as_map(period(m, t, t0 + 5s));
    CHECK(back.at(n2) == 100);
    // n1 and n3 went silent at 2s: blocked once 3s have passed.
    const auto later = as_map(period(m, t, t0 + 5100ms));
    CHECK(later.at(n1) == 0);
    CHECK(later.at(n3) == 0);
}

TEST_CASE("rules: no new connections inside the window, wrapping past midnight", "[manager]") {
    const cg::common::rule_cfg night{"night", {n3}, 23 * 60, 60};
    CHECK(in_window(night, 23 * 60));
    CHECK(in_window(night, 30));
    CHECK_FALSE(in_window(night, 60));
    CHECK_FALSE(in_window(night, 12 * 60));
    const cg::common::rule_cfg backup{"backup", {n3}, 120, 180};
    CHECK(in_window(backup, 120));
    CHECK(in_window(backup, 179));
    CHECK_FALSE(in_window(backup, 180));
    CHECK_FALSE(in_window(backup, 119));

    auto t0 = clock::time_point{} + 1h;
    auto cfg = only_answer_time();
    cfg.rules = {backup};
    manager m(cfg, t0);
    fake_tables t(100, 100, 100);
    m.set_time_of_day(119);
    CHECK(period(m, t, t0).empty());
    m.set_time_of_day(120);
    CHECK(as_map(period(m, t, t0 + 1s)) == std::map<ipv4_addr, std::uint32_t>{{n3, 0}});
    m.set_time_of_day(180);
    CHECK(as_map(period(m, t, t0 + 2s)) == std::map<ipv4_addr, std::uint32_t>{{n3, 100}});
}

TEST_CASE("quiesce, fix and adapt a node from the console", "[manager]") {
    running run;
    auto& [t0, m, t] = run;
    CHECK_FALSE(m.set_node_mode(0x01020304, manager::node_action::quiesce));
    REQUIRE(m.set_node_mode(n1, manager::node_action::quiesce));
    CHECK(as_map(period(m, t, t0 + 1s)) == std::map<ipv4_addr, std::uint32_t>{{n1, 0}});
    REQUIRE(m.set_node_mode(n1, manager::node_action::fix, 7));
    CHECK(as_map(period(m, t, t0 + 2s)) == std::map<ipv4_addr, std::uint32_t>{{n1, 7}});
    // A fixed node keeps its weight whatever its probes say.
    answers(m, 500.0, 1.0, 1.0);
    period(m, t, t0 + 3s);
    CHECK(t.nodes[n1].weight == 7);
    REQUIRE(m.set_node_mode(n1, manager::node_action::adapt));
    period(m, t, t0 + 4s);
    CHECK(t.nodes[n1].weight < 100);  // back to its own weight, then down for its slow answers
}

TEST_CASE("a weight set by hand becomes the node's base weight", "[manager]") {
    running run;
    auto& [t0, m, t] = run;
    answers(m, 1.0, 1.0, 1.0);
    CHECK(period(m, t, t0 + 1s).empty());  // balanced: the base weights stay
    t.nodes[n3].weight = 40;              // `set weight` on gatewayd's console
    CHECK(period(m, t, t0 + 2s).empty());  // taken as n3's new base, not undone
    CHECK(m.hand_edits() == 1);
    CHECK(m.view(t0 + 2s)[0].nodes[2].base == 40);
    answers(m, 1.0, 1.0, 3.0);  // and the formula moves n3 around its new base
    period(m, t, t0 + 3s);
    CHECK(t.nodes[n3].weight < 40);
    CHECK(m.hand_edits() == 1);  // what the manager sent is no edit by hand
}

TEST_CASE("connection rates come from counter deltas; a counter that restarts reads as 0", "[manager]") {
    auto t0 = clock::time_point{} + 1h;
    cg::common::manager_cfg cfg;
    manager m(cfg, t0);
    fake_tables t(100, 100, 100);
    t.nodes[n1].new_conns = 1000;
    m.observe_tables(t.rep(), t0);
    t.nodes[n1].new_conns = 1500;
    t.nodes[n1].active = 7;
    m.observe_tables(t.rep(), t0 + 2s);
    auto v = m.view(t0 + 2s);
    REQUIRE(v.size() == 1);
    CHECK(v[0].nodes[0].metrics[m_conn_rate] == Approx(250));
    CHECK(v[0].nodes[0].metrics[m_conns] == Approx(7));
    t.nodes[n1].new_conns = 10;
    m.observe_tables(t.rep(), t0 + 3s);
    CHECK(m.view(t0 + 3s)[0].nodes[0].metrics[m_conn_rate] == Approx(0));
}

TEST_CASE("run-time parameters: set within range, refused outside", "[manager]") {
    auto cfg = only_answer_time();
    cfg.probes = {{vip, cg::common::l4_proto::tcp, 80}};
    cfg.metrics = {{"queue", "echo 1"}};
    manager m(cfg, clock::time_point{});
    CHECK_FALSE(m.set_param("smoothing", "8"));
    CHECK(m.config().smoothing == 8);
    CHECK_FALSE(m.set_param("importance.cpu", "2.5"));
    CHECK(m.metric_params()[m_cpu].importance == 2.5);
    CHECK_FALSE(m.set_param("importance.queue", "3"));
    CHECK(m.metric_params()[builtin_metrics].importance == 3);
    CHECK_FALSE(m.set_param("period", "250ms"));
    CHECK(m.config().period == 250ms);
    CHECK_FALSE(m.set_param("probes.0.timeout", "200ms"));
    CHECK(m.config().probes[0].timeout == 200ms);
    CHECK_FALSE(m.set_param("metrics.queue.interval", "10s"));

    CHECK_THAT(*m.set_param("smoothing", "0.5"), Catch::Contains("from 1"));
    CHECK_THAT(*m.set_param("threshold", "abc"), Catch::Contains("expected a number"));
    CHECK_THAT(*m.set_param("period", "1ms"), Catch::Contains("at least 10ms"));
    CHECK_THAT(*m.set_param("probes.0.timeout", "5s"), Catch::Contains("longer than the interval"));
    CHECK_THAT(*m.set_param("colour", "blue"), Catch::Contains("no manager parameter 'colour'"));
    CHECK(m.config().smoothing == 8);  // refusals change nothing
    CHECK(m.config().probes[0].timeout == 200ms);
}

TEST_CASE("a health event between periods blocks or frees a node but takes no formula step", "[manager]") {
    running run;
    auto& [t0, m, t] = run;
    answers(m, 1.0, 30.0, 1.0);
    // Events: n3's probe fails, then answers again, between two periods.
    auto event = [&](clock::time_point at) {
        const auto w = m.compute(at, false);
        m.sent(w);
        t.apply(w);
        return as_map(w);
    };
    m.probe_result(web, n3, std::nullopt);
    CHECK(event(t0 + 100ms) == std::map<ipv4_addr, std::uint32_t>{{n3, 0}});
    m.probe_result(web, n3, 1.0);
    CHECK(event(t0 + 200ms) == std::map<ipv4_addr, std::uint32_t>{{n3, 100}});
    CHECK(t.nodes[n2].weight == 100);  // n2's slow answers wait for the period
    period(m, t, t0 + 1s);
    CHECK(t.nodes[n2].weight < 100);
}

TEST_CASE("the answer-time metric is a running mean: one slow answer counts half", "[manager]") {
    auto t0 = clock::time_point{} + 1h;
    manager m(only_answer_time(), t0);
    fake_tables t(100, 100, 100);
    m.observe_tables(t.rep(), t0);
    m.probe_result(web, n1, 2.0);
    CHECK(m.view(t0)[0].nodes[0].metrics[m_answer_time] == Approx(2.0));
    m.probe_result(web, n1, 40.0);
    CHECK(m.view(t0)[0].nodes[0].metrics[m_answer_time] == Approx(21.0));
    m.probe_result(web, n1, std::nullopt);  // a failure blocks; it is no answer time
    CHECK(m.view(t0)[0].nodes[0].metrics[m_answer_time] == Approx(21.0));
    CHECK(m.view(t0)[0].nodes[0].blocks == block_probe);
}
