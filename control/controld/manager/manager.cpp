#include "control/controld/manager/manager.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "common/duration.hpp"
#include "common/number.hpp"

namespace cg::control {

using common::ipv4_addr;

std::string format_blocks(std::uint8_t b) {
    std::string out;
    for (auto [bit, name] : {std::pair{block_probe, "probe"}, {block_stale, "stale"}, {block_rule, "rule"}})
        if (b & bit) out += fmt::format("{}{}", out.empty() ? "" : ",", name);
    return out.empty() ? "-" : out;
}

bool in_window(const common::rule_cfg& r, unsigned minute) {
    if (r.from < r.to) return minute >= r.from && minute < r.to;
    return minute >= r.from || minute < r.to;  // wraps past midnight
}

manager::manager(common::manager_cfg cfg, clock::time_point start) : _cfg(std::move(cfg)), _start(start) {
    rebuild_metric_params();
}

void manager::rebuild_metric_params() {
    const common::importance_cfg& w = _cfg.importance;
    _metrics = {
        {"conns", metric_kind::per_weight, w.conns},   {"conn_rate", metric_kind::per_weight, w.conn_rate},
        {"answer_time", metric_kind::level, w.answer_time}, {"load", metric_kind::level, w.load},
        {"cpu", metric_kind::level, w.cpu},             {"memory", metric_kind::level, w.memory},
        {"sockets", metric_kind::level, w.sockets},     {"script", metric_kind::level, w.script},
    };
    for (const auto& u : _cfg.metrics) _metrics.push_back({u.name, metric_kind::level, u.importance});
}

void manager::observe_tables(const common::api::tables_rep& t, clock::time_point now) {
    const double dt = _last_reading ? std::chrono::duration<double>(now - *_last_reading).count() : 0.0;
    _last_reading = now;
    std::map<service_key, std::map<ipv4_addr, node_rec>> seen;
    for (const auto& c : t.clusters) {
        for (const auto& s : c.ports) {
            const service_key svc{c.vip, s.proto, s.port};
            auto& old_nodes = _services[svc];
            auto& nodes = seen[svc];
            for (const auto& n : s.nodes) {
                if (n.draining) continue;
                node_rec r = old_nodes.contains(n.address) ? old_nodes[n.address] : node_rec{};
                r.bound = std::min(n.weight_bound.value_or(s.weight_bound), s.weight_bound);
                r.dataplane = n.weight;
                r.failed = n.failed;
                if (r.sent != n.weight) {
                    // First sight, or a weight somebody set by hand: it is
                    // the node's base weight from now on.
                    if (r.sent) ++_hand_edits;
                    r.base = r.weight = n.weight;
                    r.sent = n.weight;
                }
                r.conns = static_cast<double>(n.active);
                if (r.have_counter && dt > 0 && n.new_conns >= r.new_conns)
                    r.conn_rate = static_cast<double>(n.new_conns - r.new_conns) / dt;
                else
                    r.conn_rate = 0;  // first reading, or the counter restarted with gatewayd
                r.new_conns = n.new_conns;
                r.have_counter = true;
                nodes[n.address] = r;
            }
        }
    }
    _services = std::move(seen);
}

void manager::probe_result(const service_key& svc, ipv4_addr node, std::optional<double> ms) {
    const auto s = _services.find(svc);
    if (s == _services.end()) return;
    const auto n = s->second.find(node);
    if (n == s->second.end()) return;
    n->second.probe_failed = !ms;
    // Each answer weighs half, the ones before it the other half: one slow
    // answer in a quiet run moves the weights half as much as a slow node.
    if (ms) n->second.answer_ms = n->second.answer_ms ? (*ms + *n->second.answer_ms) / 2 : *ms;
}

void manager::host_report(ipv4_addr node, const agent::host_report& r, clock::time_point now) {
    host_rec& h = _hosts[node];
    h.report = r;
    h.reported = true;
    h.last_report = now;
}

void manager::user_metric(std::size_t index, ipv4_addr node, std::optional<double> value) {
    host_rec& h = _hosts[node];
    if (h.user.size() < _cfg.metrics.size()) h.user.resize(_cfg.metrics.size());
    if (index < h.user.size()) h.user[index] = value;
}

namespace {

std::optional<common::millis> to_ms(const std::string& s) {
    const auto d = common::parse_duration(s);
    if (!d || d->count() % 1000 != 0) return std::nullopt;
    return std::chrono::duration_cast<common::millis>(*d);
}

}  // namespace

std::optional<std::string> manager::set_param(const std::string& name, const std::string& value) {
    const auto real = [&](double& out, double lo, double hi) -> std::optional<std::string> {
        const auto v = common::parse_real(value);
        if (!v || *v < lo || *v > hi) return fmt::format("{}: expected a number from {} to {}, got '{}'", name, lo, hi, value);
        out = *v;
        rebuild_metric_params();
        return std::nullopt;
    };
    const auto duration = [&](common::millis& out, common::millis lo) -> std::optional<std::string> {
        const auto v = to_ms(value);
        if (!v || *v < lo || *v > common::max_timeout)
            return fmt::format("{}: expected a duration of at least {} such as 500ms or 2s, got '{}'", name,
                               common::format_duration(lo), value);
        out = *v;
        return std::nullopt;
    };
    common::importance_cfg& w = _cfg.importance;
    if (name == "period") return duration(_cfg.period, common::millis{10});
    if (name == "smoothing") return real(_cfg.smoothing, 1, 1e6);
    if (name == "threshold") return real(_cfg.threshold, 0, 1);
    if (name == "min_weight") return real(_cfg.min_weight, 0, common::max_weight_bound);
    for (auto [key, field] : {std::pair{"conns", &w.conns}, {"conn_rate", &w.conn_rate},
                              {"answer_time", &w.answer_time}, {"load", &w.load}, {"cpu", &w.cpu},
                              {"memory", &w.memory}, {"sockets", &w.sockets}, {"script", &w.script}})
        if (name == fmt::format("importance.{}", key)) return real(*field, 0, 1e6);
    for (auto& u : _cfg.metrics) {
        if (name == fmt::format("importance.{}", u.name)) return real(u.importance, 0, 1e6);
        if (name == fmt::format("metrics.{}.interval", u.name)) return duration(u.interval, common::millis{10});
    }
    if (_cfg.agents && name == "agents.stale") return duration(_cfg.agents->stale, common::millis{10});
    for (std::size_t i = 0; i < _cfg.probes.size(); ++i) {
        common::probe_cfg& p = _cfg.probes[i];
        if (name == fmt::format("probes.{}.interval", i)) {
            if (auto e = duration(p.interval, std::max(common::millis{10}, p.timeout))) return e;
            return std::nullopt;
        }
        if (name == fmt::format("probes.{}.timeout", i)) {
            common::millis t = p.timeout;
            if (auto e = duration(t, common::millis{1})) return e;
            if (t > p.interval) return fmt::format("{}: {} is longer than the interval", name, value);
            p.timeout = t;
            return std::nullopt;
        }
    }
    return fmt::format("no manager parameter '{}' (see `manager show`)", name);
}

void manager::node_failed(ipv4_addr node, bool failed) {
    if (failed)
        _failed.insert(node);
    else
        _failed.erase(node);
}

bool manager::set_node_mode(ipv4_addr node, node_action a, double weight) {
    const bool known = std::any_of(_services.begin(), _services.end(),
                                   [&](const auto& s) { return s.second.contains(node); });
    if (!known) return false;
    mode_rec& m = _modes[node];
    m.mode = a == node_action::quiesce ? node_mode::quiesced
           : a == node_action::fix     ? node_mode::fixed
                                       : node_mode::adaptive;
    m.fixed = weight;
    return true;
}

std::uint8_t manager::blocks_of(ipv4_addr node, const node_rec& r, clock::time_point now) const {
    std::uint8_t b = 0;
    if (r.probe_failed) b |= block_probe;
    if (_cfg.agents) {
        const auto h = _hosts.find(node);
        const bool reported = h != _hosts.end() && h->second.reported;
        const clock::time_point since = reported ? h->second.last_report : _start;
        if (now - since > _cfg.agents->stale) b |= block_stale;
    }
    for (const auto& rule : _cfg.rules)
        if (std::find(rule.nodes.begin(), rule.nodes.end(), node) != rule.nodes.end() && in_window(rule, _minute))
            b |= block_rule;
    return b;
}

std::vector<std::optional<double>> manager::metrics_of(ipv4_addr node, const node_rec& r) const {
    std::vector<std::optional<double>> m(_metrics.size());
    m[m_conns] = r.conns;
    m[m_conn_rate] = r.conn_rate;
    m[m_answer_time] = r.answer_ms;
    if (const auto h = _hosts.find(node); h != _hosts.end()) {
        if (h->second.reported) {
            const agent::host_report& rep = h->second.report;
            m[m_load] = rep.load1;
            m[m_cpu] = rep.cpu_busy;
            m[m_memory] = rep.mem_used;
            m[m_sockets] = rep.sock_mem;
            m[m_script] = rep.script;
        }
        for (std::size_t i = 0; i < h->second.user.size() && builtin_metrics + i < m.size(); ++i)
            m[builtin_metrics + i] = h->second.user[i];
    }
    return m;
}

namespace {

std::vector<double> held_weights(const std::vector<node_state>& states) {
    std::vector<double> out;
    for (const node_state& n : states) {
        const bool takes = n.mode == node_mode::adaptive || n.mode == node_mode::fixed;
        out.push_back(takes ? std::min(n.weight, static_cast<double>(n.bound)) : 0.0);
    }
    return out;
}

}  // namespace

std::vector<weight_change> manager::compute(clock::time_point now, bool step) {
    std::vector<weight_change> out;
    const formula_params fp{_cfg.smoothing, _cfg.min_weight};
    for (auto& [svc, nodes] : _services) {
        std::vector<node_state> states;
        std::vector<node_rec*> recs;
        std::vector<ipv4_addr> addrs;
        for (auto& [addr, r] : nodes) {
            node_state s{node_mode::adaptive, r.weight, r.base, r.bound, metrics_of(addr, r)};
            if (r.failed || _failed.contains(addr)) {
                // Held at its last adaptive weight, not the 0 of a block:
                // its spare serves with it.
                s.mode = node_mode::fixed;
            } else if (const auto m = _modes.find(addr); m != _modes.end() && m->second.mode != node_mode::adaptive) {
                s.mode = m->second.mode;
                if (s.mode == node_mode::fixed) s.weight = m->second.fixed;
            } else if (blocks_of(addr, r, now)) {
                s.mode = node_mode::blocked;
            }
            states.push_back(std::move(s));
            recs.push_back(&r);
            addrs.push_back(addr);
        }
        // Without a step, adaptive nodes keep their weights; modes and blocks still count.
        const std::vector<double> nw = step ? new_weights(states, _metrics, fp) : held_weights(states);
        std::vector<std::uint32_t> current, next = rounded(nw);
        for (std::size_t j = 0; j < recs.size(); ++j) {
            if (states[j].mode == node_mode::adaptive) recs[j]->weight = nw[j];
            current.push_back(recs[j]->dataplane);
        }
        if (!differs_enough(current, next, _cfg.threshold)) continue;
        for (std::size_t j = 0; j < recs.size(); ++j)
            if (next[j] != current[j]) out.push_back({svc, addrs[j], next[j]});
    }
    return out;
}

void manager::sent(const std::vector<weight_change>& changes) {
    for (const weight_change& w : changes) {
        const auto s = _services.find(w.svc);
        if (s == _services.end()) continue;
        const auto n = s->second.find(w.node);
        if (n == s->second.end()) continue;
        n->second.sent = w.weight;
        n->second.dataplane = w.weight;  // until the next reading says otherwise
    }
    if (!changes.empty()) ++_pushes;
}

std::vector<manager::service_view> manager::view(clock::time_point now) const {
    std::vector<service_view> out;
    for (const auto& [svc, nodes] : _services) {
        service_view v{svc, {}};
        for (const auto& [addr, r] : nodes) {
            node_view n{addr, node_mode::adaptive, blocks_of(addr, r, now), r.weight, r.base,
                        r.sent.value_or(0), r.dataplane, metrics_of(addr, r)};
            if (const auto m = _modes.find(addr); m != _modes.end()) n.mode = m->second.mode;
            v.nodes.push_back(std::move(n));
        }
        out.push_back(std::move(v));
    }
    return out;
}

}  // namespace cg::control
