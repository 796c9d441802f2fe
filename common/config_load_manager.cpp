// controld's sections. manager (requirements 4): its parameters, the importance of
// each metric, the agents, the gateway pair, and the lists of probes, rules and
// user metrics. supervision (requirements 8): the escalation ladder's limits and store.
#include <string>
#include <utility>
#include <vector>

#include "config_loader.hpp"

namespace cg::common::config_yaml {

void loader::read_manager(const YAML::Node& v, const std::string& key) {
    manager_cfg& m = _cfg.manager;
    importance_cfg& w = m.importance;
    read_map(v, key, {
        set("gatewayd", m.gatewayd, &loader::read_string),
        set("control_socket", m.control_socket, &loader::read_string),
        set("prometheus", m.prometheus, &loader::read_string),
        set("period", m.period, &loader::read_millis),
        set("smoothing", m.smoothing, &loader::read_real),
        set("threshold", m.threshold, &loader::read_real),
        set("min_weight", m.min_weight, &loader::read_real),
        {"importance", [&](const YAML::Node& iv, const std::string& ik) {
             read_map(iv, ik, {
                 set("conns", w.conns, &loader::read_real),
                 set("conn_rate", w.conn_rate, &loader::read_real),
                 set("answer_time", w.answer_time, &loader::read_real),
                 set("load", w.load, &loader::read_real),
                 set("cpu", w.cpu, &loader::read_real),
                 set("memory", w.memory, &loader::read_real),
                 set("sockets", w.sockets, &loader::read_real),
                 set("script", w.script, &loader::read_real),
             });
         }},
        {"agents", [&](const YAML::Node& av, const std::string& ak) {
             agents_cfg a;
             read_map(av, ak, {
                 must(set("listen", a.listen, &loader::read_string)),
                 must(set("key_file", a.key_file, &loader::read_string)),
                 set("stale", a.stale, &loader::read_millis),
                 set("max_skew", a.max_skew, &loader::read_millis),
                 set("shadow_port", a.shadow_port, &loader::read_uint<std::uint16_t>),
                 set("shadow_deadline", a.shadow_deadline, &loader::read_millis),
                 set("reset_window", a.reset_window, &loader::read_millis),
                 set("alive_timeout", a.alive_timeout, &loader::read_millis),
                 set("mirror_silence", a.mirror_silence, &loader::read_millis),
             });
             m.agents = std::move(a);
         }},
        {"pair", [&](const YAML::Node& pv, const std::string& pk) {
             pair_cfg p;
             read_map(pv, pk, {
                 must(set("listen", p.listen, &loader::read_string)),
                 must(set("peer", p.peer, &loader::read_string)),
                 must(set("key_file", p.key_file, &loader::read_string)),
                 set("interval", p.interval, &loader::read_millis),
                 set("dead_time", p.dead_time, &loader::read_millis),
                 set("priority", p.priority, &loader::read_uint<std::uint8_t>),
                 set("preempt_delay", p.preempt_delay, &loader::read_millis),
                 set("max_skew", p.max_skew, &loader::read_millis),
                 set("rt_priority", p.rt_priority, &loader::read_uint<std::uint8_t>),
                 set("heal_after", p.heal_after, &loader::read_millis),
                 set("heal_timeout", p.heal_timeout, &loader::read_millis),
                 list_of<pair_cfg::pool_host>("pool", p.pool, false, [&](pair_cfg::pool_host& h) {
                     return std::vector<field>{
                         must(set("address", h.address, &loader::read_string)),
                         must(set("start", h.start, &loader::read_string)),
                     };
                 }),
             });
             m.pair = std::move(p);
         }},
        {"state_backups", [&](const YAML::Node& bv, const std::string& bk) {
             state_backups_cfg b;
             read_map(bv, bk, {
                 set("every", b.every, &loader::read_millis),
                 set("keep", b.keep, &loader::read_uint<std::uint32_t>),
                 set("dir", b.dir, &loader::read_string),
                 set("timeout", b.timeout, &loader::read_millis),
             });
             m.state_backups = std::move(b);
         }},
        list_of<probe_cfg>("probes", m.probes, false, [&](probe_cfg& p) {
            return std::vector<field>{
                must(set("cluster", p.cluster, &loader::read_ipv4)),
                must(set("port", p.port, &loader::read_uint<std::uint16_t>)),
                set("protocol", p.protocol, &loader::read_proto),
                set("type", p.type, &loader::read_probe_kind),
                set("target", p.target, &loader::read_uint<std::uint16_t>),
                set("path", p.path, &loader::read_string),
                set("expect", p.expect, &loader::read_uint<std::uint16_t>),
                set("interval", p.interval, &loader::read_millis),
                set("timeout", p.timeout, &loader::read_millis),
            };
        }),
        list_of<rule_cfg>("rules", m.rules, true, [&](rule_cfg& r) {
            return std::vector<field>{
                must(set("name", r.name, &loader::read_string)),
                must(set("nodes", r.nodes, &loader::read_addresses)),
                must(set("from", r.from, &loader::read_time_of_day)),
                must(set("to", r.to, &loader::read_time_of_day)),
            };
        }),
        list_of<user_metric_cfg>("metrics", m.metrics, true, [&](user_metric_cfg& u) {
            return std::vector<field>{
                must(set("name", u.name, &loader::read_string)),
                must(set("command", u.command, &loader::read_string)),
                set("interval", u.interval, &loader::read_millis),
                set("timeout", u.timeout, &loader::read_millis),
                set("importance", u.importance, &loader::read_real),
            };
        }),
    });
}

void loader::read_supervision(const YAML::Node& v, const std::string& key) {
    supervision_cfg& s = _cfg.supervision;
    read_map(v, key, {
        set("store", s.store, &loader::read_string),
        set("healthy_after", s.healthy_after, &loader::read_millis),
        set("hung_after", s.hung_after, &loader::read_millis),
        set("history", s.history, &loader::read_uint<std::uint32_t>),
        set("backup_every", s.backup_every, &loader::read_millis),
        set("backups_kept", s.backups_kept, &loader::read_uint<std::uint32_t>),
        {"ladder", [&](const YAML::Node& lv, const std::string& lk) {
             std::vector<field> rungs;
             for (std::size_t i = 0; i < limited_rungs; ++i)
                 rungs.push_back({rung_keys[i], [this, &s, i](const YAML::Node& rv, const std::string& rk) {
                                      rung_limit_cfg& r = s.ladder[i];
                                      read_map(rv, rk, {
                                          set("failures", r.failures, &loader::read_uint<std::uint32_t>),
                                          set("window", r.window, &loader::read_millis),
                                      });
                                  }});
             read_map(lv, lk, rungs);
         }},
    });
}

}  // namespace cg::common::config_yaml
