// The YAML loader: values, defaults, and every error path of the loader and
// of the checkers as a file shows them (file:line, key path, reason).
#include <catch2/catch.hpp>

#include <filesystem>

#include <fmt/format.h>
#include <string>
#include <vector>

#include "common/config_load.hpp"

using namespace cg::common;
using namespace std::chrono_literals;

namespace {

struct error_case {
    std::string yaml;
    int line;
    std::string key;
    std::string reason;  ///< a distinctive part of the reason
};

std::string listing(const load_result& r) {
    std::string out;
    for (const config_error& e : r.errors) out += format_error(e) + "\n";
    return out;
}

/// Exactly one error: a case must not drag others along.
void require_single_error(const error_case& c) {
    const load_result r = parse_config(c.yaml, "t.yaml");
    INFO("yaml:\n" << c.yaml << "errors:\n" << listing(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].where == "t.yaml:" + std::to_string(c.line));
    CHECK(r.errors[0].key == c.key);
    CHECK_THAT(r.errors[0].reason, Catch::Contains(c.reason));
}

// A valid start that most cases extend; the line numbers below count from it.
const std::string head =
    "lcores: {main: 0, workers: [1]}\n"                          // 1
    "ports:\n"                                                   // 2
    "  - {name: lan, device: net_null0, address: 198.18.0.2}\n";  // 3

/// `port_keys` go into the one port, on line 3.
std::string with_port(const std::string& port_keys) {
    return "lcores: {workers: [1]}\nports:\n  - {" + port_keys + "}\n";
}

/// `keys` go into cluster web, from line 7.
std::string in_cluster(const std::string& keys) {
    return head + "clusters:\n  - name: web\n    address: 198.18.0.100\n    " + keys + "\n";
}

/// `keys` go into its port tcp/80, from line 9.
std::string in_service(const std::string& keys) { return in_cluster("ports:\n      - port: 80\n        " + keys); }

/// `keys` go into its node 198.18.0.11, from line 11.
std::string in_node(const std::string& keys) {
    return in_service("nodes:\n          - address: 198.18.0.11\n            " + keys);
}

const std::string web80 = "clusters[web].ports[tcp/80]";
const std::string node11 = web80 + ".nodes[198.18.0.11]";

}  // namespace

TEST_CASE("format_error joins where, key and reason", "[config]") {
    CHECK(format_error({"a.yaml:3", "gateway.name", "bad"}) == "a.yaml:3: gateway.name: bad");
    CHECK(format_error({"a.yaml:3", "", "bad"}) == "a.yaml:3: bad");
    CHECK(format_error({"", "gateway.name", "bad"}) == "gateway.name: bad");
    CHECK(format_error({"", "", ""}).empty());
}

TEST_CASE("every key of a full file lands in the model", "[config]") {
    const auto r = parse_config(R"(
gateway:
  name: gw-b
  control_socket: /tmp/gw-b.sock
  idle_sleep: 50us
eal:
  huge: false
  memory: 256
  args: ["--log-level=8", "--no-telemetry"]
lcores:
  main: 2
  workers: [3, 4]
  dispatch: 5
ports:
  - name: lan
    device: "net_af_packet0,iface=gw0"
    address: 198.18.0.2
    mac: "02:00:00:00:00:02"
    rx_descriptors: 512
    tx_descriptors: 2048
  - name: wan
    device: 0000:03:00.0
tables:
  connections: 5000
  services: 16
  nodes: 32
  mbufs: 8191
  burst: 64
timers:
  msl: 10s
  fin_timeout: 40s
  stale_timeout: 1h
  arp_refresh: 5s
clusters:
  - name: web
    address: 198.18.0.100
    ports:
      - port: 8080
        protocol: udp
        msl: 20s
        fin_timeout: 1m
        stale_timeout: 2h
        weight_bound: 50
        nodes:
          - address: 198.18.0.11
            mac: 02:00:00:00:00:11
            weight: 7
            weight_bound: 8
            port: lan
            quiesced: true
)",
                                "full.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    gateway_cfg expected;
    expected.name = "gw-b";
    expected.control_socket = "/tmp/gw-b.sock";
    expected.idle_sleep = 50us;
    expected.eal = {false, 256, {"--log-level=8", "--no-telemetry"}};
    expected.lcores = {2, {3, 4}, 5};
    expected.ports = {{"lan", "net_af_packet0,iface=gw0", 0xc6120002, mac_addr{{2, 0, 0, 0, 0, 2}}, 512, 2048},
                      {"wan", "0000:03:00.0", std::nullopt, std::nullopt, 1024, 1024}};
    expected.tables = {5000, 16, 32, 8191, 64};
    expected.timers = {10s, 40s, 1h, 5s};
    const node_cfg node{0xc612000b, mac_addr{{2, 0, 0, 0, 0, 0x11}}, 7, 8, "lan", true};
    expected.clusters = {{"web", 0xc6120064, {{l4_proto::udp, 8080, 20s, 1min, 2h, 50, {node}}}}};
    expected.manager.control_socket = "/run/clustergate/gw-b-controld.sock";
    expected.supervision.store = "/var/lib/clustergate/gw-b.escalation";
    CHECK(r.cfg == expected);
}

TEST_CASE("every key of the manager section lands in the model", "[config][manager]") {
    const auto r = parse_config(in_node("weight: 30") + R"(
manager:
  gatewayd: /opt/cg/gatewayd
  control_socket: /tmp/ctl.sock
  prometheus: 127.0.0.1:9999
  period: 500ms
  smoothing: 2.5
  threshold: 0.1
  min_weight: 2
  importance: {conns: 2, conn_rate: 0.5, answer_time: 3, load: 1, cpu: 0.25, memory: 0.125, sockets: 4, script: 5}
  agents: {listen: 198.18.0.2:9651, key_file: /etc/cg/agent.key, stale: 2s, max_skew: 10s, shadow_port: 9652,
           shadow_deadline: 300ms, reset_window: 30s, alive_timeout: 150ms}
  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: /etc/cg/pair.key, interval: 20ms,
         dead_time: 100ms, priority: 7, preempt_delay: 30s, max_skew: 5s, rt_priority: 20, heal_after: 2s,
         heal_timeout: 1m, pool: [{address: 198.18.0.6:9653, start: "ssh gw3 systemctl start clustergate"}]}
  state_backups: {every: 10s, keep: 5, dir: /srv/cg-state, timeout: 2s}
  probes:
    - {cluster: 198.18.0.100, port: 80, type: http, target: 8080, path: /health, expect: 204, interval: 2s, timeout: 300ms}
    - {cluster: 198.18.0.100, port: 80}
  rules:
    - {name: backup, nodes: [198.18.0.11], from: "23:30", to: "01:15"}
  metrics:
    - {name: queue, command: "echo 3", interval: 10s, timeout: 1s, importance: 0.5}
)",
                                "m.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    manager_cfg expected;
    expected.gatewayd = "/opt/cg/gatewayd";
    expected.control_socket = "/tmp/ctl.sock";
    expected.prometheus = "127.0.0.1:9999";
    expected.period = 500ms;
    expected.smoothing = 2.5;
    expected.threshold = 0.1;
    expected.min_weight = 2;
    expected.importance = {2, 0.5, 3, 1, 0.25, 0.125, 4, 5};
    expected.agents = agents_cfg{"198.18.0.2:9651", "/etc/cg/agent.key", 2s, 10s, 9652, 300ms, 30s, 150ms};
    expected.pair = pair_cfg{"198.18.0.3:9653", "198.18.0.4:9653", "/etc/cg/pair.key", 20ms, 100ms, 7, 30s, 5s, 20,
                             {{"198.18.0.6:9653", "ssh gw3 systemctl start clustergate"}}, 2s, 1min};
    expected.state_backups = state_backups_cfg{10s, 5, "/srv/cg-state", 2s};
    expected.probes = {{0xc6120064, l4_proto::tcp, 80, probe_kind::http, 8080, "/health", 204, 2s, 300ms},
                       {0xc6120064, l4_proto::tcp, 80, probe_kind::tcp, std::nullopt, "/", 200, 1s, 500ms}};
    expected.rules = {{"backup", {0xc612000b}, 23 * 60 + 30, 75}};
    expected.metrics = {{"queue", "echo 3", 10s, 1s, 0.5}};
    CHECK(r.cfg.manager == expected);
}

TEST_CASE("state backups: the defaults, and the directory follows gateway.name", "[config][manager]") {
    const auto r = parse_config("gateway: {name: gw-b}\n" + head +
                                    "manager:\n  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                                    "  state_backups: {}\n",
                                "m.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    REQUIRE(r.cfg.manager.state_backups);
    CHECK(*r.cfg.manager.state_backups == state_backups_cfg{1min, 3, "/var/lib/clustergate/gw-b-state", 30s});
    CHECK_FALSE(parse_config(head, "m.yaml").cfg.manager.state_backups);
}

TEST_CASE("the manager section's errors name the key and the reason", "[config][manager]") {
    // Lines: the node is on line 11; manager: on 12; its first key on 13.
    const std::string base = in_node("weight: 30") + "manager:\n";
    const std::vector<error_case> cases{
        {base + "  smoothing: 0.5\n", 13, "manager.smoothing", "1 or more"},
        {base + "  smoothing: -1\n", 13, "manager.smoothing", "a number, 0 or more"},
        {base + "  threshold: 2\n", 13, "manager.threshold", "0..1"},
        {base + "  threshold: lots\n", 13, "manager.threshold", "a number"},
        {base + "  period: 1ms\n", 13, "manager.period", "between"},
        {base + "  prometheus: localhost\n", 13, "manager.prometheus", "address:port"},
        {base + "  importance: {cpu: 1, gpu: 2}\n", 13, "manager.importance.gpu", "unknown key"},
        {base + "  agents: {listen: 198.18.0.2:0, key_file: k}\n", 13, "manager.agents.listen", "address:port"},
        {base + "  agents: {listen: 198.18.0.2:9651}\n", 13, "manager.agents.key_file", "required"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 0}\n", 13, "manager.agents.shadow_port",
         "1-65535"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, reset_window: 2h}\n", 13,
         "manager.agents.reset_window", "at most 1h"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, alive_timeout: 20ms}\n", 13,
         "manager.agents.alive_timeout", "between 30ms"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, mirror_silence: 300ms}\n", 13,
         "manager.agents.mirror_silence", "needs alive monitoring"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, alive_timeout: 100ms, mirror_silence: 300ms}\n", 13,
         "manager.agents.mirror_silence", "needs gatewayd's mirror parser"},
        {base + "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k}\n", 13, "manager.pair",
         "needs manager.agents.shadow_port"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.3:9654, key_file: k}\n", 14, "manager.pair.peer",
         "own address"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, interval: 50ms, dead_time: 60ms}\n",
         14, "manager.pair.dead_time", "two intervals"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, key_file: k}\n", 14, "manager.pair.peer", "required"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, priority: 300}\n", 14,
         "manager.pair.priority", "0..255"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, rt_priority: 100}\n", 14,
         "manager.pair.rt_priority", "0 (none) to 99"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, preempt_delay: 499ms}\n", 14,
         "manager.pair.preempt_delay", "0 (no pre-emption) or between ten dead times (500ms) and 576h, got 499ms"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, dead_time: 200ms,\n"
                "         preempt_delay: 1s}\n", 15,
         "manager.pair.preempt_delay", "ten dead times (2s)"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, preempt_delay: 600h}\n", 14,
         "manager.pair.preempt_delay", "got 600h"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, preempt_delay: soon}\n", 14,
         "manager.pair.preempt_delay", "a duration"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, pool: [{address: 198.18.0.4:1, start: x}]}\n",
         14, "manager.pair.pool[0].address", "already this controld, its peer or another pool host"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, pool: [{address: gw3, start: x}]}\n",
         14, "manager.pair.pool[0].address", "expected address:port"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, pool: [{address: 198.18.0.6:1, start: \" \"}]}\n",
         14, "manager.pair.pool[0].start", "is empty"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, pool: [{address: 198.18.0.6:1}]}\n",
         14, "manager.pair.pool[0].start", "required"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k, heal_after: 10ms}\n", 14,
         "manager.pair.heal_after", "between the dead time (50ms)"},
        {base + "  state_backups: {}\n", 13, "manager.state_backups", "needs manager.agents.shadow_port"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  state_backups: {every: 50ms}\n", 14, "manager.state_backups.every",
         "between 100ms"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  state_backups: {keep: 0}\n", 14, "manager.state_backups.keep", "1 to 1000"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  state_backups: {keep: 1001}\n", 14, "manager.state_backups.keep", "got 1001"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  state_backups: {timeout: often}\n", 14, "manager.state_backups.timeout",
         "a duration"},
        {base + "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                "  state_backups: {every: 1m, often: 2}\n", 14, "manager.state_backups.often",
         "unknown key"},
        {base + "  probes: [{cluster: 198.18.0.100, port: 81}]\n", 13, "manager.probes[0].port",
         "not a cluster port"},
        {base + "  probes: [{cluster: 198.18.0.100, port: 80, type: icmp}]\n", 13, "manager.probes[0].type",
         "tcp or http"},
        {base + "  probes: [{cluster: 198.18.0.100, port: 80, interval: 1s, timeout: 2s}]\n", 13,
         "manager.probes[0].timeout", "longer than the interval"},
        {base + "  probes: [{cluster: 198.18.0.100, port: 80, type: http, path: health}]\n", 13,
         "manager.probes[0].path", "start with /"},
        {base + "  rules: [{name: r, nodes: [198.18.0.99], from: '02:00', to: '03:00'}]\n", 13,
         "manager.rules[r].nodes", "not a node"},
        {base + "  rules: [{name: r, nodes: [198.18.0.11], from: '25:00', to: '03:00'}]\n", 13,
         "manager.rules[r].from", "HH:MM"},
        {base + "  rules: [{name: r, nodes: [198.18.0.11], from: '02:00', to: '02:00'}]\n", 13,
         "manager.rules[r].to", "empty"},
        {base + "  metrics: [{name: q, command: '', interval: 1s, timeout: 1s}]\n", 13, "manager.metrics[q].command", "empty"},
        {base + "  metrics: [{name: q, command: x}, {name: q, command: y}]\n", 13, "manager.metrics[q].name",
         "used twice"},
    };
    for (const error_case& c : cases) require_single_error(c);
}

TEST_CASE("manager.pair.preempt_delay: absent or 0 is no pre-emption; else at least ten dead times",
          "[config][manager]") {
    struct row {
        std::string keys;  ///< added to the pair's
        std::chrono::milliseconds delay;
    };
    const row rows[] = {
        {"", 0ms},
        {", preempt_delay: 0", 0ms},
        {", preempt_delay: 0ms", 0ms},
        {", preempt_delay: 500ms", 500ms},  // ten times the default dead time
        {", dead_time: 200ms, preempt_delay: 2s", 2s},
        {", preempt_delay: 5m", 5min},
    };
    for (const row& r : rows) {
        const auto res = parse_config(in_node("weight: 30") +
                                          "manager:\n"
                                          "  agents: {listen: 198.18.0.2:9651, key_file: k, shadow_port: 9652}\n"
                                          "  pair: {listen: 198.18.0.3:9653, peer: 198.18.0.4:9653, key_file: k" +
                                          r.keys + "}\n",
                                      "p.yaml");
        INFO(r.keys << "\n" << listing(res));
        REQUIRE(res.ok());
        CHECK(res.cfg.manager.pair->preempt_delay == r.delay);
    }
}

TEST_CASE("every key of the supervision section lands in the model", "[config][escalation]") {
    const auto r = parse_config(head + R"(supervision:
  store: /srv/cg/gw.escalation
  healthy_after: 10m
  hung_after: 300ms
  history: 50
  ladder:
    ph0_5: {failures: 5, window: 30s}
    ph1_0: {failures: 0, window: 1m}
    ph2_0: {failures: 4, window: 15m}
    ph2_5: {failures: 2, window: 2h}
    ph3_0: {failures: 1000, window: 576h}
)",
                                "s.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    supervision_cfg expected;
    expected.store = "/srv/cg/gw.escalation";
    expected.healthy_after = 10min;
    expected.hung_after = 300ms;
    expected.history = 50;
    expected.ladder = {{{5, 30s}, {0, 1min}, {4, 15min}, {2, 2h}, {1000, 576h}}};
    CHECK(r.cfg.supervision == expected);
}

TEST_CASE("the supervision section's defaults: the ladder of docs/operations.md", "[config][escalation]") {
    SECTION("left out") {
        const auto r = parse_config(head, "s.yaml");
        REQUIRE(r.ok());
        const supervision_cfg& s = r.cfg.supervision;
        CHECK(s.store == "/var/lib/clustergate/gw.escalation");
        CHECK(s.healthy_after == 5min);
        CHECK(s.hung_after == 2s);
        CHECK(s.history == 20);
        CHECK(s.backup_every == 1min);
        CHECK(s.backups_kept == 10);
        CHECK(s.ladder == std::array<rung_limit_cfg, limited_rungs>{{{3, 1min}, {2, 2min}, {2, 10min}, {1, 30min}, {1, 1h}}});
    }
    SECTION("a rung given in part keeps the rest of its defaults; the store follows gateway.name") {
        const auto r = parse_config("gateway: {name: gw-b}\n" + head +
                                        "supervision: {ladder: {ph1_0: {window: 5m}}, backup_every: 0s, backups_kept: 3}\n",
                                    "s.yaml");
        INFO(listing(r));
        REQUIRE(r.ok());
        CHECK(r.cfg.supervision.store == "/var/lib/clustergate/gw-b.escalation");
        CHECK(r.cfg.supervision.ladder[1] == rung_limit_cfg{2, 5min});
        CHECK(r.cfg.supervision.ladder[0] == rung_limit_cfg{3, 1min});
        CHECK(r.cfg.supervision.backup_every == 0ms);  // no backups
        CHECK(r.cfg.supervision.backups_kept == 3);
    }
}

TEST_CASE("the supervision section's errors name the key and the reason", "[config][escalation]") {
    // Lines: supervision: on 4, its first key on 5.
    const std::string base = head + "supervision:\n";
    const std::vector<error_case> cases{
        {base + "  store: escalation\n", 5, "supervision.store", "absolute path of a file"},
        {base + "  store: /var/lib/clustergate/\n", 5, "supervision.store", "absolute path of a file"},
        {base + "  store: [a]\n", 5, "supervision.store", "expected a string"},
        {base + "  healthy_after: 500ms\n", 5, "supervision.healthy_after", "between 1s and 576h, got 500ms"},
        {base + "  healthy_after: often\n", 5, "supervision.healthy_after", "a duration"},
        {base + "  hung_after: 50ms\n", 5, "supervision.hung_after", "between 100ms and 1m, got 50ms"},
        {base + "  hung_after: 2m\n", 5, "supervision.hung_after", "between 100ms and 1m, got 2m"},
        {base + "  hung_after: soon\n", 5, "supervision.hung_after", "a duration"},
        {base + "  history: 0\n", 5, "supervision.history", "between 1 and 1000, got 0"},
        {base + "  history: 1001\n", 5, "supervision.history", "between 1 and 1000"},
        {base + "  ladder: {ph0_5: {failures: 1001}}\n", 5, "supervision.ladder.ph0_5.failures",
         "between 0 and 1000, got 1001"},
        {base + "  ladder: {ph2_5: {failures: -1}}\n", 5, "supervision.ladder.ph2_5.failures", "an integer"},
        {base + "  ladder: {ph3_0: {window: 0s}}\n", 5, "supervision.ladder.ph3_0.window", "between 1s and 576h"},
        {base + "  ladder: {ph1_0: {window: 600h}}\n", 5, "supervision.ladder.ph1_0.window", "got 600h"},
        {base + "  ladder: {ph1_0: {limit: 3}}\n", 5, "supervision.ladder.ph1_0.limit", "the keys here are: failures, window"},
        {base + "  ladder: {ph1: {failures: 3}}\n", 5, "supervision.ladder.ph1",
         "the keys here are: ph0_5, ph1_0, ph2_0, ph2_5, ph3_0"},
        {base + "  ladder: {auto_heal: {failures: 3}}\n", 5, "supervision.ladder.auto_heal", "unknown key"},
        {base + "  ladder: [3, 2]\n", 5, "supervision.ladder", "expected a map"},
        {base + "  backup_every: 50ms\n", 5, "supervision.backup_every", "between 100ms and 576h"},
        {base + "  backups_kept: 0\n", 5, "supervision.backups_kept", "between 1 and 1000, got 0"},
        {base + "  restarts: 3\n", 5, "supervision.restarts", "the keys here are: store, healthy_after, hung_after, history, backup_every, backups_kept, ladder"},
    };
    for (const error_case& c : cases) require_single_error(c);
}

TEST_CASE("defaults fill what a minimal file leaves out", "[config]") {
    const auto r = parse_config(head + R"(clusters:
  - address: 198.18.0.100
    ports:
      - port: 80
        nodes:
          - address: 198.18.0.11
          - address: 198.18.0.12
            mac: arp
)",
                                "min.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    const gateway_cfg& g = r.cfg;
    CHECK(g.name == "gw");
    CHECK(g.control_socket == "/run/clustergate/gw.sock");
    CHECK(g.idle_sleep == 0us);
    CHECK(g.eal == eal_cfg{});
    CHECK(g.lcores.dispatch == std::nullopt);
    CHECK(g.ports[0].rx_descriptors == 1024);
    CHECK_FALSE(g.ports[0].mac);
    CHECK(g.tables == table_cfg{});
    CHECK(g.timers == timer_cfg{});
    REQUIRE(g.clusters.size() == 1);
    CHECK(g.clusters[0].name == "198.18.0.100");
    const service_cfg& s = g.clusters[0].ports.at(0);
    CHECK(s.protocol == l4_proto::tcp);
    CHECK(s.msl == 30s);
    CHECK(s.fin_timeout == 90s);
    CHECK(s.stale_timeout == 2h + 15min);
    CHECK(s.weight_bound == 100);
    REQUIRE(s.nodes.size() == 2);
    for (const node_cfg& n : s.nodes) {
        CHECK(n.mac == std::nullopt);
        CHECK(n.weight == 1);
        CHECK(n.weight_bound == std::nullopt);
        CHECK(n.port == "lan");
        CHECK_FALSE(n.quiesced);
    }
}

TEST_CASE("cluster ports take their timers from the timers section", "[config]") {
    struct timer_case {
        std::string timers;   // the timers section
        std::string service;  // the port's own keys
        millis msl, fin, stale;
    };
    const auto c = GENERATE(values<timer_case>({
        {"{}", "", 30s, 90s, 2h + 15min},
        {"{msl: 10s}", "", 10s, 30s, 2h + 15min},                           // fin: 3 x msl
        {"{msl: 10s, fin_timeout: 45s}", "", 10s, 45s, 2h + 15min},         // fin from timers
        {"{fin_timeout: 45s}", "msl: 20s", 20s, 45s, 2h + 15min},           // timers' fin beats 3 x msl
        {"{msl: 10s}", "msl: 20s", 20s, 60s, 2h + 15min},                   // 3 x the port's own msl
        {"{stale_timeout: 1h}", "stale_timeout: 3h", 30s, 90s, 3h},         // the port's own wins
        {"{stale_timeout: 1h, fin_timeout: 1m}", "fin_timeout: 2m", 30s, 2min, 1h},
    }));
    const std::string yaml = head + "timers: " + c.timers + "\nclusters:\n  - address: 198.18.0.100\n    ports:\n" +
                             "      - port: 80\n" + (c.service.empty() ? "" : "        " + c.service + "\n");
    const auto r = parse_config(yaml, "t.yaml");
    INFO(yaml << listing(r));
    REQUIRE(r.ok());
    const service_cfg& s = r.cfg.clusters.at(0).ports.at(0);
    CHECK(s.msl == c.msl);
    CHECK(s.fin_timeout == c.fin);
    CHECK(s.stale_timeout == c.stale);
}

TEST_CASE("empty sections and empty names mean their defaults", "[config]") {
    const auto r = parse_config(head + "gateway:\ntimers:\neal:\n  args:\nclusters:\n"
                                       "  - {name: '', address: 198.18.0.100, ports: []}\n",
                                "t.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    CHECK(r.cfg.timers == timer_cfg{});
    CHECK(r.cfg.eal.args.empty());
    CHECK(r.cfg.clusters.at(0).name == "198.18.0.100");
}

TEST_CASE("the gateway name makes the default control socket", "[config]") {
    const auto r = parse_config(head + "gateway: {name: gw-a}\n", "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.cfg.control_socket == "/run/clustergate/gw-a.sock");
}

TEST_CASE("a node's port may be left out only when the gateway has one port", "[config]") {
    const auto r = parse_config(in_node("weight: 2"), "t.yaml");
    REQUIRE(r.ok());
    CHECK(r.cfg.clusters.at(0).ports.at(0).nodes.at(0).port == "lan");
}

TEST_CASE("the loader reports each malformed file with line, key and reason", "[config]") {
    const auto c = GENERATE(values<error_case>({
        // syntax and shape of the document
        {head + "gateway:\n  name: a\n bad: b\n", 6, "", "YAML syntax error"},
        {head + "---\n" + head, 4, "", "expected one YAML document, found more than one"},
        {"- a\n- b\n", 1, "", "expected a map of keys, got a list"},
        {"ports:\n  - {name: lan, device: net_null0}\n", 1, "lcores", "required key 'lcores' is missing"},
        {"lcores: {workers: [1]}\n", 1, "ports", "required key 'ports' is missing"},
        // unknown keys, at every level
        {head + "colour: red\n", 4, "colour",
         "unknown key 'colour'; the keys here are: gateway, eal, lcores, ports, tables, timers, mirror, mirror_parser, "
         "clusters"},
        {head + "gateway: {nmae: a}\n", 4, "gateway.nmae", "the keys here are: name, control_socket, idle_sleep"},
        {head + "eal: {hugepages: true}\n", 4, "eal.hugepages", "the keys here are: huge, memory, args"},
        {"lcores: {workers: [1], master: 0}\nports: [{name: lan, device: d}]\n", 1, "lcores.master",
         "the keys here are: main, workers, dispatch"},
        {with_port("name: lan, device: d, mtu: 9000"), 3, "ports[lan].mtu",
         "the keys here are: name, device, address, mac, rx_descriptors, tx_descriptors"},
        {head + "tables: {sessions: 5}\n", 4, "tables.sessions",
         "the keys here are: connections, services, nodes, mbufs, burst"},
        {head + "timers: {idle: 5s}\n", 4, "timers.idle", "the keys here are: msl, fin_timeout, stale_timeout, arp"},
        {in_cluster("vip: 198.18.0.100"), 7, "clusters[web].vip", "the keys here are: name, address, ports"},
        {in_service("timeout: 5s"), 9, web80 + ".timeout",
         "the keys here are: port, protocol, msl, fin_timeout, stale_timeout, weight_bound, nodes"},
        {in_node("wieght: 3"), 11, node11 + ".wieght",
         "the keys here are: address, mac, weight, weight_bound, port, quiesced"},
        {head + "gateway: {[a]: 1}\n", 4, "gateway", "unknown key a list"},
        {head + "gateway:\n  name: a\n  name: b\n", 6, "gateway.name", "key 'name' is given twice"},
        // wrong types
        {head + "gateway: [a]\n", 4, "gateway", "expected a map of keys, got a list"},
        {"lcores: {workers: [1]}\nports: {name: lan}\n", 2, "ports", "expected a list, got a map"},
        {"lcores: {workers: [1]}\nports: [lan]\n", 2, "ports[0]", "expected a map of keys, got 'lan'"},
        {head + "clusters: {web: 1}\n", 4, "clusters", "expected a list, got a map"},
        {in_service("nodes: 3"), 9, web80 + ".nodes", "expected a list, got '3'"},
        {"lcores: {workers: 1}\nports: [{name: lan, device: d}]\n", 1, "lcores.workers", "expected a list, got '1'"},
        {head + "gateway: {name: {a: 1}}\n", 4, "gateway.name", "expected a string, got a map"},
        {head + "gateway:\n  name:\n  idle_sleep: 1ms\n", 5, "gateway.name", "expected a string, got nothing"},
        {"lcores: {workers: [1, x]}\nports: [{name: lan, device: d}]\n", 1, "lcores.workers[1]",
         "expected an integer 0..4294967295, got 'x'"},
        {head + "eal:\n  args:\n    - --a\n    - {b: 1}\n", 7, "eal.args[1]", "expected a string, got a map"},
        // integers: digits only, within the field's range
        {with_port("name: lan, device: d, rx_descriptors: abc"), 3, "ports[lan].rx_descriptors",
         "expected an integer 0..65535, got 'abc'"},
        {with_port("name: lan, device: d, rx_descriptors: 1.5"), 3, "ports[lan].rx_descriptors", "got '1.5'"},
        {with_port("name: lan, device: d, rx_descriptors: -1"), 3, "ports[lan].rx_descriptors", "got '-1'"},
        {with_port("name: lan, device: d, tx_descriptors: 0x10"), 3, "ports[lan].tx_descriptors", "got '0x10'"},
        {with_port("name: lan, device: d, tx_descriptors: 70000"), 3, "ports[lan].tx_descriptors",
         "expected an integer 0..65535, got '70000'"},
        {head + "tables: {connections: 4294967296}\n", 4, "tables.connections",
         "expected an integer 0..4294967295, got '4294967296'"},
        {head + "eal: {memory: '+64'}\n", 4, "eal.memory", "got '+64'"},
        // booleans, durations, addresses, protocols
        {head + "eal: {huge: yes}\n", 4, "eal.huge", "expected true or false, got 'yes'"},
        {in_node("quiesced: 1"), 11, node11 + ".quiesced", "expected true or false, got '1'"},
        {head + "gateway: {idle_sleep: 1x}\n", 4, "gateway.idle_sleep", "expected a duration such as"},
        {head + "timers: {msl: 30m1h}\n", 4, "timers.msl", "expected a duration in whole milliseconds"},
        {head + "timers: {fin_timeout: 1m1m}\n", 4, "timers.fin_timeout", "got '1m1m'"},
        {head + "timers: {arp_refresh: 1500us}\n", 4, "timers.arp_refresh", "in whole milliseconds"},
        {in_service("stale_timeout: -5s"), 9, web80 + ".stale_timeout", "got '-5s'"},
        {with_port("name: lan, device: d, address: 198.18.0"), 3, "ports[lan].address",
         "expected an IPv4 address such as 198.18.0.1, got '198.18.0'"},
        {head + "clusters:\n  - name: web\n    address: 198.18.0.300\n", 6, "clusters[web].address",
         "expected an IPv4 address"},
        {head + "clusters:\n  - address: 1.2.3.4.5\n", 5, "clusters[0].address", "got '1.2.3.4.5'"},
        {in_service("nodes:\n          - address: 198.18.0.256"), 10, web80 + ".nodes[0].address",
         "expected an IPv4 address"},
        {in_node("mac: 02:00:00:00:00"), 11, node11 + ".mac",
         "expected a MAC address such as 02:00:00:00:00:11, or arp, got '02:00:00:00:00'"},
        {in_service("protocol: sctp"), 9, "clusters[web].ports[0].protocol", "expected tcp or udp, got 'sctp'"},
        // required keys
        {with_port("device: d"), 3, "ports[0].name", "required key 'name' is missing"},
        {with_port("name: lan"), 3, "ports[lan].device", "required key 'device' is missing"},
        {head + "clusters:\n  - name: web\n    ports: []\n", 5, "clusters[web].address",
         "required key 'address' is missing"},
        {head + "clusters:\n  - ports: []\n", 5, "clusters[0].address", "required key 'address' is missing"},
        {in_cluster("ports:\n      - protocol: udp"), 8, "clusters[web].ports[0].port",
         "required key 'port' is missing"},
        {in_service("nodes:\n          - weight: 1"), 10, web80 + ".nodes[0].address",
         "required key 'address' is missing"},
    }));
    require_single_error(c);
}

TEST_CASE("the checkers' errors come with the line of the key they name", "[config]") {
    const std::string lcores_ports = "\nports: [{name: lan, device: d}]\n";
    const std::string two_ports = "lcores: {workers: [1]}\nports:\n  - {name: lan, device: a, address: 198.18.0.2}\n"
                                  "  - {name: wan, device: b}\n";
    const std::string one_node = "clusters:\n  - name: web\n    address: 198.18.0.100\n    ports:\n"
                                 "      - port: 80\n        nodes:\n          - address: 198.18.0.11\n";
    const std::string long_name(33, 'a');
    const auto c = GENERATE_REF(values<error_case>({
        // static part
        {head + "gateway: {name: 'gw a'}\n", 4, "gateway.name", "'gw a' cannot name a gateway"},
        {head + "gateway: {name: " + long_name + "}\n", 4, "gateway.name", "use 1 to 32 letters"},
        {head + "gateway: {control_socket: run/gw.sock}\n", 4, "gateway.control_socket", "must be an absolute path"},
        {head + "gateway: {control_socket: /" + std::string(107, 's') + "}\n", 4, "gateway.control_socket",
         "shorter than 108 bytes"},
        {head + "gateway: {idle_sleep: 11ms}\n", 4, "gateway.idle_sleep",
         "must be between 0s and 10ms (a longer sleep delays packets), got 11ms"},
        {"lcores: {main: 128, workers: [1]}" + lcores_ports, 1, "lcores.main", "lcore 128 is out of range 0..127"},
        {"lcores: {workers: []}" + lcores_ports, 1, "lcores.workers", "at least one worker lcore is needed"},
        {"lcores:\n  main: 0" + lcores_ports, 1, "lcores.workers", "at least one worker lcore is needed"},
        {"lcores: {workers: [1, 2, 1]}" + lcores_ports, 1, "lcores.workers", "lcore 1 is listed twice"},
        {"lcores: {main: 1, workers: [1]}" + lcores_ports, 1, "lcores.workers", "lcore 1 is the main lcore"},
        {"lcores: {workers: [1, 200]}" + lcores_ports, 1, "lcores.workers", "lcore 200 is out of range"},
        {"lcores: {workers: [1], dispatch: 0}" + lcores_ports, 1, "lcores.dispatch",
         "dispatch needs an lcore of its own"},
        {"lcores: {workers: [1], dispatch: 1}" + lcores_ports, 1, "lcores.dispatch", "lcore 1 is already the main"},
        {"lcores: {workers: [1], dispatch: 128}" + lcores_ports, 1, "lcores.dispatch", "lcore 128 is out of range"},
        {"lcores: {workers: [1]}\nports: []\n", 2, "ports", "at least one port is needed"},
        {with_port("name: 'l a n', device: d"), 3, "ports[l a n].name", "'l a n' cannot name a port"},
        {with_port("name: " + std::string(17, 'p') + ", device: d"), 3, "ports[" + std::string(17, 'p') + "].name",
         "use 1 to 16 letters"},
        {"lcores: {workers: [1]}\nports:\n  - {name: lan, device: a}\n  - {name: lan, device: b}\n", 4,
         "ports[lan].name", "port name 'lan' is used twice"},
        {with_port("name: '', device: d"), 3, "ports[0].name", "a port needs a name"},
        {with_port("name: lan, device: ''"), 3, "ports[lan].device", "a port needs a device"},
        {with_port("name: lan, device: d, address: 255.255.255.255"), 3, "ports[lan].address",
         "255.255.255.255 cannot be the address of a port"},
        {with_port("name: lan, device: d, rx_descriptors: 1000"), 3, "ports[lan].rx_descriptors",
         "must be a power of two between 64 and 16384, got 1000"},
        {with_port("name: lan, device: d, mac: arp"), 3, "ports[lan].mac", "a MAC address such as"},
        {with_port("name: lan, device: d, mac: '01:00:5e:00:00:01'"), 3, "ports[lan].mac",
         "01:00:5e:00:00:01 cannot be a port's MAC"},
        {with_port("name: lan, device: d, rx_descriptors: 32"), 3, "ports[lan].rx_descriptors", "got 32"},
        {with_port("name: lan, device: d, tx_descriptors: 32768"), 3, "ports[lan].tx_descriptors", "got 32768"},
        {head + "tables: {connections: 0}\n", 4, "tables.connections", "must be between 1 and 1000000000, got 0"},
        {head + "tables: {connections: 1000000001}\n", 4, "tables.connections", "got 1000000001"},
        {head + "tables: {services: 0}\n", 4, "tables.services", "must be between 1 and 65535, got 0"},
        {head + "tables: {services: 65536}\n", 4, "tables.services", "got 65536"},
        {head + "tables: {nodes: 0}\n", 4, "tables.nodes", "must be between 1 and 65535, got 0"},
        {head + "tables: {nodes: 65536}\n", 4, "tables.nodes", "got 65536"},
        {head + "tables: {mbufs: 1022}\n", 4, "tables.mbufs", "must be between 1023 and 16777215, got 1022"},
        {head + "tables: {mbufs: 16777216}\n", 4, "tables.mbufs", "got 16777216"},
        {head + "tables: {burst: 0}\n", 4, "tables.burst", "must be between 1 and 512, got 0"},
        {head + "tables: {burst: 513}\n", 4, "tables.burst", "got 513"},
        {head + "timers: {msl: 0}\n", 4, "timers.msl", "must be between 1ms and 576h, got 0s"},
        {head + "timers: {fin_timeout: 577h}\n", 4, "timers.fin_timeout", "got 577h"},
        {head + "timers: {stale_timeout: 0}\n", 4, "timers.stale_timeout", "got 0s"},
        {head + "timers: {arp_refresh: 500ms}\n", 4, "timers.arp_refresh", "must be between 1s and 576h, got 500ms"},
        {head + "eal: {memory: 32}\n", 4, "eal.memory", "at least 64 MB, got 32"},
        // clusters
        {head + "clusters:\n  - {name: web, address: 0.0.0.0}\n", 5, "clusters[web].address",
         "0.0.0.0 cannot be a cluster address"},
        {head + "clusters:\n  - {address: 255.255.255.255}\n", 5, "clusters[255.255.255.255].address",
         "must be a unicast address"},
        {head + "clusters:\n  - {address: 239.1.2.3}\n", 5, "clusters[239.1.2.3].address", "multicast"},
        {head + "clusters:\n  - {name: a, address: 198.18.0.100}\n  - {name: b, address: 198.18.0.100}\n", 6,
         "clusters[b].address", "198.18.0.100 is also the address of clusters[a]"},
        {head + "clusters:\n  - {name: web, address: 198.18.0.100}\n  - {name: web, address: 198.18.0.101}\n", 6,
         "clusters[web].name", "cluster name 'web' is used twice"},
        {head + "clusters:\n  - {name: 'w b', address: 198.18.0.100}\n", 5, "clusters[w b].name",
         "'w b' cannot name a cluster"},
        {head + "clusters:\n  - {name: web, address: 198.18.0.2}\n", 5, "clusters[web].address",
         "198.18.0.2 is the gateway's own address on ports[lan]"},
        {in_cluster("ports: [{port: 0}]"), 7, "clusters[web].ports[tcp/0].port", "port must be between 1 and 65535"},
        {in_cluster("ports:\n      - port: 80\n      - {port: 80, protocol: tcp}\n      - {port: 80, protocol: udp}"),
         9, web80 + ".port", "tcp/80 is listed twice in this cluster"},
        {in_service("msl: 0"), 9, web80 + ".msl", "must be between 1ms and 576h, got 0s"},
        {in_service("fin_timeout: 600h"), 9, web80 + ".fin_timeout", "got 600h"},
        {in_service("stale_timeout: 0"), 9, web80 + ".stale_timeout", "got 0s"},
        {in_service("msl: 200h"), 8, web80 + ".fin_timeout", "got 600h (not set here: the default is 3 x msl)"},
        {head + "timers: {stale_timeout: 600h}\n" + one_node, 4, "timers.stale_timeout", "got 600h"},
        {in_service("weight_bound: 0"), 9, web80 + ".weight_bound", "must be between 1 and 65535, got 0"},
        {in_service("weight_bound: 65536"), 9, web80 + ".weight_bound", "got 65536"},
        {in_service("nodes:\n          - address: 198.18.0.11\n          - address: 198.18.0.11"), 11,
         node11 + ".address", "node 198.18.0.11 is listed twice in this port"},
        {in_service("nodes:\n          - address: 224.0.0.5"), 10, web80 + ".nodes[224.0.0.5].address",
         "224.0.0.5 cannot be the address of a node"},
        {in_node("mac: 01:00:5e:00:00:01"), 11, node11 + ".mac", "must be a non-zero unicast MAC"},
        {in_node("mac: 00:00:00:00:00:00"), 11, node11 + ".mac", "00:00:00:00:00:00 cannot be a node's MAC"},
        {in_node("weight: 101"), 11, node11 + ".weight", "weight 101 is above the port's weight_bound 100"},
        {in_node("weight_bound: 4\n            weight: 5"), 12, node11 + ".weight",
         "weight 5 is above the node's weight_bound 4"},
        {in_node("weight_bound: 0"), 11, node11 + ".weight_bound",
         "must be between 1 and the port's weight_bound 100, got 0"},
        {in_node("weight_bound: 101"), 11, node11 + ".weight_bound", "got 101"},
        {in_node("port: wan"), 11, node11 + ".port", "the gateway has no port named 'wan' (its ports: lan)"},
        {two_ports + one_node, 11, node11 + ".port", "the gateway has 2 ports: say which one reaches this node"},
        {with_port("name: lan, device: d") + one_node + "            mac: arp\n", 11, node11 + ".mac",
         "resolved by ARP on port 'lan', which needs an address of its own"},
        {head + "tables: {services: 1}\n" + one_node + "      - port: 81\n", 5, "clusters",
         "the clusters have 2 ports in all, more than tables.services = 1"},
        {head + "tables: {nodes: 1}\n" + one_node + "          - address: 198.18.0.12\n", 5, "clusters",
         "the clusters have 2 nodes in all, more than tables.nodes = 1"},
    }));
    require_single_error(c);
}

TEST_CASE("every error of a file is reported, in the order of its lines", "[config]") {
    const auto r = parse_config("clusters: 5\n"
                                "timers: {msl: x}\n"
                                "lcores: {workers: [1], main: 200}\n"
                                "ports: [{name: lan, device: ''}]\n"
                                "gateway: {colour: 1}\n",
                                "t.yaml");
    INFO(listing(r));
    const std::vector<std::string> keys{"clusters", "timers.msl", "lcores.main", "ports[lan].device",
                                        "gateway.colour"};
    REQUIRE(r.errors.size() == keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
        CHECK(r.errors[i].where == "t.yaml:" + std::to_string(i + 1));
        CHECK(r.errors[i].key == keys[i]);
    }
}

TEST_CASE("an error in a shared default is reported once, where it is set", "[config]") {
    const auto r = parse_config(head + "timers: {msl: 0}\nclusters:\n  - address: 198.18.0.100\n"
                                       "    ports: [{port: 80}, {port: 81}]\n",
                                "t.yaml");
    INFO(listing(r));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].key == "timers.msl");
}

TEST_CASE("input that makes yaml-cpp 0.7's LoadAll loop forever gets an error", "[config]") {
    // Found by test/fuzz/fuzz_config: a lone ',' (jbeder/yaml-cpp#1040).
    for (const char* text : {",", "---\n,", "a: 1\n---\n,"}) {
        INFO(text);
        const auto r = parse_config(text, "t.yaml");
        REQUIRE_FALSE(r.ok());
        CHECK_FALSE(r.errors.front().reason.empty());
    }
}

TEST_CASE("YAML 1.1 sexagesimal look-alikes stay text", "[config]") {
    const auto r = parse_config(in_node("mac: 02:00:00:00:01:30") + "        stale_timeout: 1h30m\n", "t.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    const service_cfg& s = r.cfg.clusters.at(0).ports.at(0);
    CHECK(s.stale_timeout == 90min);
    CHECK(s.nodes.at(0).mac == mac_addr{{2, 0, 0, 0, 1, 0x30}});
}

TEST_CASE("load_config_file reports a file it cannot read", "[config]") {
    const auto missing = load_config_file("/nonexistent/gateway.yaml");
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].where == "/nonexistent/gateway.yaml");
    CHECK_THAT(missing.errors[0].reason, Catch::Contains("No such file or directory"));

    const auto dir = load_config_file(std::filesystem::temp_directory_path().string());
    REQUIRE(dir.errors.size() == 1);
    CHECK_THAT(dir.errors[0].reason, Catch::Contains("is a directory"));
}

TEST_CASE("conf/reference.yaml loads without errors", "[config]") {
#ifdef CG_SOURCE_DIR
    const std::string path = std::string(CG_SOURCE_DIR) + "/conf/reference.yaml";
    const auto r = load_config_file(path);
    INFO(listing(r));
    REQUIRE(r.ok());
    CHECK(r.cfg.name == "gw-a");
    CHECK(r.cfg.ports.size() == 2);
    REQUIRE(r.cfg.mirror);
    CHECK(r.cfg.mirror->port == "mirror");
    REQUIRE(r.cfg.clusters.size() == 2);
    CHECK(r.cfg.clusters[1].name == "198.18.0.101");
    CHECK(r.cfg.clusters[0].ports.at(0).nodes.size() == 2);
#else
    FAIL("build with -DCG_SOURCE_DIR=\"<source root>\" so that the test finds conf/reference.yaml");
#endif
}

namespace {

// Two ports, the second the mirror's, and cluster web with tcp/80 and udp/53
// (one node each, on lan without saying so, or with `node_keys`). Mirror
// keys go on line 5.
std::string with_mirror(const std::string& mirror_keys, const std::string& node_keys = "") {
    return "lcores: {workers: [1]}\n"                                     // 1
           "ports:\n"                                                     // 2
           "  - {name: lan, device: net_null0, address: 198.18.0.2}\n"     // 3
           "  - {name: peer, device: net_null1}\n"                        // 4
           "mirror: {" + mirror_keys + "}\n"                              // 5
           "clusters:\n"                                                  // 6
           "  - name: web\n"                                              // 7
           "    address: 198.18.0.100\n"                                  // 8
           "    ports:\n"                                                 // 9
           "      - port: 80\n"                                           // 10
           "        nodes: [{address: 198.18.0.11" + node_keys + "}]\n"   // 11
           "      - {port: 53, protocol: udp, nodes: [{address: 198.18.0.12" + node_keys + "}]}\n";  // 12
}

}  // namespace

TEST_CASE("the mirror section lands in the model, with its defaults", "[config][mirror]") {
    SECTION("defaults: state changes, a refresh a second, every cluster port") {
        const auto r = parse_config(with_mirror("port: peer"), "t.yaml");
        INFO(listing(r));
        REQUIRE(r.ok());
        REQUIRE(r.cfg.mirror);
        CHECK(r.cfg.mirror->port == "peer");
        CHECK(r.cfg.mirror->mode == mirror_mode::state_changes);
        CHECK(r.cfg.mirror->refresh == 1s);
        CHECK(r.cfg.mirror->services.empty());
        CHECK(mirrors(*r.cfg.mirror, "web", l4_proto::udp, 53));
        // The mirror port is not a node's: a node naming no port reaches the other one.
        CHECK(r.cfg.clusters.at(0).ports.at(0).nodes.at(0).port == "lan");
    }
    SECTION("every key") {
        const auto r = parse_config(
            with_mirror("port: peer, mode: every_frame, refresh: 250ms, services: [{cluster: web, port: 80}]"),
            "t.yaml");
        INFO(listing(r));
        REQUIRE(r.ok());
        const mirror_cfg expected{"peer", mirror_mode::every_frame, 250ms, {{"web", std::nullopt, 80}}};
        CHECK(*r.cfg.mirror == expected);
        CHECK(mirrors(*r.cfg.mirror, "web", l4_proto::tcp, 80));
        CHECK_FALSE(mirrors(*r.cfg.mirror, "web", l4_proto::udp, 53));
        CHECK_FALSE(mirrors(*r.cfg.mirror, "other", l4_proto::tcp, 80));
    }
    SECTION("a whole cluster, and a UDP port by its protocol") {
        mirror_cfg m{"peer", mirror_mode::state_changes, 1s, {{"web", std::nullopt, std::nullopt}}};
        CHECK(mirrors(m, "web", l4_proto::udp, 53));
        m.services = {{"web", l4_proto::udp, 53}};
        CHECK(mirrors(m, "web", l4_proto::udp, 53));
        CHECK_FALSE(mirrors(m, "web", l4_proto::tcp, 53));
    }
    SECTION("no section: no mirror") {
        const auto r = parse_config(head, "t.yaml");
        REQUIRE(r.ok());
        CHECK_FALSE(r.cfg.mirror);
    }
}

TEST_CASE("bad mirror values are reported with line, key and reason", "[config][mirror]") {
    const auto c = GENERATE(values<error_case>({
        // (the nodes name their port: with no valid mirror port, none is the only port for nodes)
        {with_mirror("mode: every_frame", ", port: lan"), 5, "mirror.port", "required key 'port' is missing"},
        {with_mirror("port: wan", ", port: lan"), 5, "mirror.port", "the gateway has no port named 'wan' (its ports: lan, peer)"},
        {with_mirror("port: peer, mode: all"), 5, "mirror.mode", "expected every_frame or state_changes, got 'all'"},
        {with_mirror("port: peer, refresh: 5ms"), 5, "mirror.refresh", "must be between 10ms and 10m"},
        {with_mirror("port: peer, refresh: 11m"), 5, "mirror.refresh", "got 11m"},
        {with_mirror("port: peer, refresh: soon"), 5, "mirror.refresh", "expected a duration"},
        {with_mirror("port: peer, copies: 2"), 5, "mirror.copies", "the keys here are: port, mode, refresh, services"},
        {with_mirror("port: peer, services: [{cluster: db}]"), 5, "mirror.services[0].cluster",
         "there is no cluster named 'db'"},
        {with_mirror("port: peer, services: [{cluster: web, port: 81}]"), 5, "mirror.services[0].port",
         "cluster 'web' has no port tcp/81"},
        {with_mirror("port: peer, services: [{cluster: web, protocol: udp}]"), 5, "mirror.services[0].protocol",
         "a protocol without a port"},
        {with_mirror("port: peer, services: [{port: 80}]"), 5, "mirror.services[0].cluster",
         "required key 'cluster' is missing"},
        {with_mirror("port: peer, services: web"), 5, "mirror.services", "expected a list"},
        {"lcores: {workers: [1]}\nports:\n  - {name: lan, device: a, address: 198.18.0.2}\n"
         "  - {name: peer, device: b}\nmirror: {port: peer}\nclusters:\n  - name: web\n    address: 198.18.0.100\n"
         "    ports:\n      - port: 80\n        nodes: [{address: 198.18.0.11, port: peer, mac: '02:00:00:00:00:11'}]\n",
         11, node11 + ".port", "port 'peer' is the mirror port (mirror.port): no node can be behind it"},
    }));
    require_single_error(c);
}

namespace {

/// A node 198.18.0.11 on web tcp/80, then the `spares:` section from line 12.
std::string with_spares(const std::string& entries) { return in_node("weight: 1") + "spares:\n" + entries; }

}  // namespace

TEST_CASE("the spare table lands in the model, one by one or by an offset over a range", "[config][spares]") {
    const auto r = parse_config(with_spares("  - {node: 198.18.0.11, spare: 198.18.0.31}\n"
                                            "  - {nodes: 198.18.0.12-198.18.0.19, offset: 10}\n"
                                            "  - {nodes: 198.18.0.40-198.18.0.41, offset: -20}\n"),
                                "t.yaml");
    INFO(listing(r));
    REQUIRE(r.ok());
    REQUIRE(r.cfg.spares.size() == 3);
    CHECK(r.cfg.spares[0] == spare_cfg{0xc612000b, 0xc612000b, 20});
    CHECK(r.cfg.spares[1] == spare_cfg{0xc612000c, 0xc6120013, 10});
    CHECK(spare_of(r.cfg.spares, 0xc612000b) == 0xc612001f);  // .11 -> .31
    CHECK(spare_of(r.cfg.spares, 0xc6120013) == 0xc612001d);  // .19 -> .29
    CHECK(spare_of(r.cfg.spares, 0xc6120029) == 0xc6120015);  // .41 -> .21
    CHECK(!spare_of(r.cfg.spares, 0xc6120014));               // .20: none
}

// A node's terminators (its front-ends: a proxy, an SSL terminator) at
// node+k; when the node fails they fail with it, and each has the spare's
// terminator at the same offset, spare+k.
TEST_CASE("terminators: node+k has the spare's spare+k, in both entry forms", "[config][spares]") {
    const auto r = parse_config(with_spares("  - {node: 198.18.0.11, spare: 198.18.0.31, terminators: [100]}\n"
                                            "  - {nodes: 198.18.0.12-198.18.0.19, offset: 10, terminators: [100, -10]}\n"),
                                "t.yaml");
    INFO(listing(r));
    // -10: the terminators .2-.9 would have their spares at .12-.19, the
    // entry's own working nodes: refused (the error cases below).
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].key == "spares[198.18.0.12-198.18.0.19].terminators[1]");

    const auto ok = parse_config(with_spares("  - {node: 198.18.0.11, spare: 198.18.0.31, terminators: [100]}\n"
                                             "  - {nodes: 198.18.0.12-198.18.0.19, offset: 10, terminators: [100, 200]}\n"),
                                 "t.yaml");
    INFO(listing(ok));
    REQUIRE(ok.ok());
    const auto& t = ok.cfg.spares;
    REQUIRE(t.size() == 2);
    CHECK(t[0] == spare_cfg{0xc612000b, 0xc612000b, 20, {100}});
    CHECK(t[1] == spare_cfg{0xc612000c, 0xc6120013, 10, {100, 200}});
    CHECK(spare_of(t, 0xc612006f) == 0xc6120083);  // .111 (.11's terminator) -> .131
    CHECK(spare_of(t, 0xc6120070) == 0xc612007a);  // .112 (.12's) -> .122
    CHECK(spare_of(t, 0xc61200db) == 0xc61200e5);  // .219 (.19's at +200) -> .229
    CHECK(!spare_of(t, 0xc6120078));               // .120: nobody's
    CHECK(terminators_of(t, 0xc612000b) == std::vector<ipv4_addr>{0xc612006f});
    CHECK(terminators_of(t, 0xc6120013) == std::vector<ipv4_addr>{0xc6120077, 0xc61200db});
    CHECK(terminators_of(t, 0xc6120014).empty());  // .20: no entry
    const auto pieces = spare_pieces(t);
    REQUIRE(pieces.size() == 5);
    CHECK(pieces[4].key == "spares[198.18.0.12-198.18.0.19].terminators[1]");
    CHECK(pieces[4].first == 0xc61200d4);
    CHECK(pieces[4].last == 0xc61200db);
    CHECK(pieces[4].offset == 10);
}

TEST_CASE("with_spare keeps a node's terminators on the split parts and on its new entry", "[config][spares]") {
    const std::vector<spare_cfg> t{{0xc612000c, 0xc6120013, 10, {100}}};  // .12-.19, terminators at +100
    CHECK(with_spare(t, 0xc612000d, 0xc6120041) ==
          std::vector<spare_cfg>{{0xc612000c, 0xc612000c, 10, {100}}, {0xc612000e, 0xc6120013, 10, {100}},
                                 {0xc612000d, 0xc612000d, 0x41 - 0x0d, {100}}});
    CHECK(terminators_of(with_spare(t, 0xc612000d, 0xc6120041), 0xc612000d) == std::vector<ipv4_addr>{0xc6120071});
}

TEST_CASE("with_spare: one node's entry replaced, a range split around it", "[config][spares]") {
    const std::vector<spare_cfg> t{{0xc612000b, 0xc612000b, 20}, {0xc612000c, 0xc6120013, 10}};  // .11; .12-.19
    CHECK(with_spare(t, 0xc6120014, std::nullopt) == t);                                      // .20: none to take out
    CHECK(with_spare(t, 0xc612000b, std::nullopt) == std::vector<spare_cfg>{t[1]});
    CHECK(with_spare(t, 0xc612000c, 0xc6120001) ==
          std::vector<spare_cfg>{t[0], {0xc612000d, 0xc6120013, 10}, {0xc612000c, 0xc612000c, -11}});
    CHECK(with_spare(t, 0xc6120013, std::nullopt) == std::vector<spare_cfg>{t[0], {0xc612000c, 0xc6120012, 10}});
    CHECK(with_spare({}, 0xc612000b, 0xc612001f) == std::vector<spare_cfg>{{0xc612000b, 0xc612000b, 20}});
}

TEST_CASE("spares count against tables.nodes: one slot per port of their node", "[config][spares]") {
    const std::string head = "lcores: {main: 0, workers: [1]}\n"
                             "ports: [{name: lan, device: net_null0, address: 198.18.0.2}]\n"
                             "tables: {nodes: 3}\n"
                             "clusters: [{name: web, address: 198.18.0.100, ports: [{port: 80, nodes: "
                             "[{address: 198.18.0.11, mac: arp}, {address: 198.18.0.12, mac: arp}]}]}]\n";
    CHECK(parse_config(head + "spares: [{node: 198.18.0.11, spare: 198.18.0.31}]\n", "s.yaml").ok());
    const auto r = parse_config(head + "spares: [{nodes: 198.18.0.11-198.18.0.12, offset: 20}]\n", "s.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].key == "spares");
    CHECK_THAT(r.errors[0].reason, Catch::Contains("2 nodes and their 2 spares") && Catch::Contains("tables.nodes = 3"));
}

TEST_CASE("bad spare entries are reported with line, key and reason", "[config][spares]") {
    const auto c = GENERATE(values<error_case>({
        {with_spares("  - {node: 198.18.0.12}\n"), 13, "spares[198.18.0.12]", "give node and spare, or nodes"},
        {with_spares("  - {node: 198.18.0.12, offset: 10}\n"), 13, "spares[198.18.0.12]", "give node and spare"},
        {with_spares("  - {nodes: 198.18.0.12, offset: 10}\n"), 13, "spares[198.18.0.12].nodes",
         "expected a range of addresses"},
        {with_spares("  - {nodes: 198.18.0.12-198.18.0.13, offset: ten}\n"), 13,
         "spares[198.18.0.12-198.18.0.13].offset", "expected an integer"},
        {with_spares("  - {nodes: 198.18.0.19-198.18.0.12, offset: 10}\n"), 13, "spares[198.18.0.19-198.18.0.12]",
         "runs backwards"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.12}\n"), 13, "spares[198.18.0.12]", "its own spare"},
        {with_spares("  - {nodes: 255.255.255.250-255.255.255.254, offset: 10}\n"), 13,
         "spares[255.255.255.250-255.255.255.254]", "out of the IPv4 address space"},
        {with_spares("  - {node: 198.18.0.12, spare: 224.0.0.1}\n"), 13, "spares[198.18.0.12]", "not unicast"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.11}\n"), 13, "spares[198.18.0.12]",
         "spare 198.18.0.11 is itself a working node"},
        {with_spares("  - {nodes: 198.18.0.20-198.18.0.29, offset: 10}\n  - {node: 198.18.0.25, spare: 198.18.0.55}\n"),
         14, "spares[198.18.0.25]", "198.18.0.25 also has a spare by spares[198.18.0.20-198.18.0.29]"},
        {with_spares("  - {nodes: 198.18.0.20-198.18.0.29, offset: 10}\n  - {node: 198.18.0.50, spare: 198.18.0.22}\n"),
         14, "spares[198.18.0.50]", "spare 198.18.0.22 is a working node of spares[198.18.0.20-198.18.0.29]"},
        {with_spares("  - {nodes: 198.18.0.20-198.18.0.29, offset: 10}\n  - {node: 198.18.0.50, spare: 198.18.0.35}\n"),
         14, "spares[198.18.0.50]", "spare 198.18.0.35 is also the spare of a node of spares[198.18.0.20-198.18.0.29]"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, weight: 1}\n"), 13, "spares[198.18.0.12].weight",
         "the keys here are: node, spare, nodes, offset, terminators"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [x]}\n"), 13,
         "spares[198.18.0.12].terminators[0]", "an offset such as 100 or -100"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [0]}\n"), 13,
         "spares[198.18.0.12].terminators[0]", "a terminator at offset 0 is the node itself"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [100, 100]}\n"), 13,
         "spares[198.18.0.12].terminators[1]", "offset 100 given twice"},
        {with_spares("  - {nodes: 198.18.0.12-198.18.0.19, offset: 10, terminators: [-10]}\n"), 13,
         "spares[198.18.0.12-198.18.0.19].terminators[0]", "spare 198.18.0.12 is a working node of spares[198.18.0.12"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [-11]}\n"), 13,
         "spares[198.18.0.12].terminators[0]", "spare 198.18.0.11 is itself a working node"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [4294967000]}\n"), 13,
         "spares[198.18.0.12].terminators[0]", "the terminators are out of the IPv4 address space"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.2, terminators: [435027956]}\n"), 13,
         "spares[198.18.0.12].terminators[0]", "the terminators 224.0.0.0-224.0.0.0 are not unicast addresses"},
        {with_spares("  - {node: 198.18.0.12, spare: 198.18.0.22, terminators: [100]}\n"
                     "  - {node: 198.18.0.112, spare: 198.18.0.200}\n"),
         14, "spares[198.18.0.112]", "198.18.0.112 also has a spare by spares[198.18.0.12].terminators[0]"},
    }));
    require_single_error(c);
}

namespace {

// Three ports: lan (the nodes', named by them unless `node_keys` says
// otherwise), peer (the pair's mirror), span (a switch's SPAN copies);
// workers on lcores 1 and 2. mirror_parser keys go on line 6.
std::string with_parser(const std::string& parser_keys, const std::string& node_keys = ", port: lan") {
    return "lcores: {main: 0, workers: [1, 2]}\n"                        // 1
           "ports:\n"                                                     // 2
           "  - {name: lan, device: net_null0, address: 198.18.0.2}\n"     // 3
           "  - {name: peer, device: net_null1}\n"                        // 4
           "  - {name: span, device: net_null2}\n"                        // 5
           "mirror_parser: {" + parser_keys + "}\n"                       // 6
           "mirror: {port: peer}\n"                                       // 7
           "clusters:\n"                                                  // 8
           "  - name: nfs\n"                                              // 9
           "    address: 198.18.0.100\n"                                  // 10
           "    ports:\n"                                                 // 11
           "      - port: 2049\n"                                         // 12
           "        nodes: [{address: 198.18.0.11" + node_keys + "}]\n";  // 13
}

}  // namespace

TEST_CASE("the mirror_parser section lands in the model, with its defaults", "[config][mirror_parser]") {
    SECTION("defaults") {
        const auto r = parse_config(with_parser("ports: [span], lcores: [1]", ""), "t.yaml");
        INFO(listing(r));
        REQUIRE(r.ok());
        REQUIRE(r.cfg.mirror_parser);
        const mirror_parser_cfg expected{{"span"}, {1}, 1024, 8192, 1024, {}};
        CHECK(*r.cfg.mirror_parser == expected);
        CHECK(is_span_port(r.cfg, "span"));
        CHECK_FALSE(is_span_port(r.cfg, "lan"));
        // Neither the mirror port nor a SPAN port is a node's: a node naming no port reaches lan.
        CHECK(r.cfg.clusters.at(0).ports.at(0).nodes.at(0).port == "lan");
    }
    SECTION("every key") {
        const auto r = parse_config(
            with_parser("ports: [span], lcores: [2, 3], connections: 64, request_chunks: 512, ring_size: 256, "
                        "protocols: [{port: 20048, protocol: mount}, {port: 445, protocol: tcp}]"),
            "t.yaml");
        INFO(listing(r));
        REQUIRE(r.ok());
        const mirror_parser_cfg expected{{"span"}, {2, 3}, 64, 512, 256, {{20048, "mount"}, {445, "tcp"}}};
        CHECK(*r.cfg.mirror_parser == expected);
    }
    SECTION("no section: no parser") {
        const auto r = parse_config(head, "t.yaml");
        REQUIRE(r.ok());
        CHECK_FALSE(r.cfg.mirror_parser);
        CHECK_FALSE(is_span_port(r.cfg, "lan"));
    }
}

TEST_CASE("bad mirror_parser values are reported with line, key and reason", "[config][mirror_parser]") {
    const auto c = GENERATE(values<error_case>({
        {with_parser("lcores: [1]"), 6, "mirror_parser.ports", "required key 'ports' is missing"},
        {with_parser("ports: [span]"), 6, "mirror_parser.lcores", "required key 'lcores' is missing"},
        {with_parser("ports: [], lcores: [1]"), 6, "mirror_parser.ports", "at least one SPAN port is needed"},
        {with_parser("ports: [tap], lcores: [1]"), 6, "mirror_parser.ports",
         "the gateway has no port named 'tap' (its ports: lan, peer, span)"},
        {with_parser("ports: [peer], lcores: [1]"), 6, "mirror_parser.ports",
         "port 'peer' is the pair's mirror port (mirror.port)"},
        {with_parser("ports: [span, span], lcores: [1]"), 6, "mirror_parser.ports", "port 'span' is listed twice"},
        {with_parser("ports: [lan], lcores: [1]", ", mac: '02:00:00:00:00:11'"), 6, "mirror_parser.ports",
         "port 'lan' has an address (ports[lan].address): a SPAN port has none"},
        {with_parser("ports: [span], lcores: []"), 6, "mirror_parser.lcores", "at least one parser lcore is needed"},
        {with_parser("ports: [span], lcores: [0]"), 6, "mirror_parser.lcores", "lcore 0 is the main or the dispatch lcore"},
        {with_parser("ports: [span], lcores: [3, 3]"), 6, "mirror_parser.lcores", "lcore 3 is listed twice"},
        {with_parser("ports: [span], lcores: [200]"), 6, "mirror_parser.lcores", "lcore 200 is out of range 0..127"},
        {with_parser("ports: [span], lcores: [1], connections: 0"), 6, "mirror_parser.connections",
         "must be between 1 and 262144, got 0"},
        {with_parser("ports: [span], lcores: [1], request_chunks: 0"), 6, "mirror_parser.request_chunks",
         "must be between 1 and 16777216, got 0"},
        {with_parser("ports: [span], lcores: [1], ring_size: 100"), 6, "mirror_parser.ring_size",
         "must be a power of two between 64 and 65536, got 100"},
        {with_parser("ports: [span], lcores: [1], protocols: [{port: 20048, protocol: nlm}]"), 6,
         "mirror_parser.protocols[0].protocol", "expected one of tcp, rpc, nfs, mount, portmapper, smb, http, got 'nlm'"},
        {with_parser("ports: [span], lcores: [1], protocols: [{port: 0, protocol: nfs}]"), 6,
         "mirror_parser.protocols[0].port", "must be a TCP port, 1-65535, got 0"},
        {with_parser("ports: [span], lcores: [1], protocols: [{port: 9, protocol: rpc}, {port: 9, protocol: nfs}]"), 6,
         "mirror_parser.protocols[1].port", "port 9 is listed twice"},
        {with_parser("ports: [span], lcores: [1], protocols: [{protocol: nfs}]"), 6, "mirror_parser.protocols[0].port",
         "required key 'port' is missing"},
        {with_parser("ports: [span], lcores: [1], threads: 2"), 6, "mirror_parser.threads",
         "the keys here are: ports, lcores, connections, request_chunks, ring_size, protocols"},
        {with_parser("ports: [span], lcores: [1]", ", port: span, mac: '02:00:00:00:00:11'"), 13,
         "clusters[nfs].ports[tcp/2049].nodes[198.18.0.11].port",
         "port 'span' is a SPAN port (mirror_parser.ports): no node can be behind it"},
    }));
    require_single_error(c);
}

TEST_CASE("mirror_parser: more ports than the parser's map holds", "[config][mirror_parser]") {
    std::string list;
    for (int i = 0; i < 14; ++i) list += fmt::format("{}{{port: {}, protocol: rpc}}", i ? ", " : "", 3000 + i);
    const auto r = parse_config(with_parser("ports: [span], lcores: [1], protocols: [" + list + "]"), "t.yaml");
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].key == "mirror_parser.protocols");
    CHECK_THAT(r.errors[0].reason, Catch::Contains("at most 13 ports"));
}
