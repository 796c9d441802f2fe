#include "dataplane/ctl/controller.hpp"

#include <algorithm>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/config_check.hpp"
#include "common/config_load.hpp"
#include "common/spare_rules.hpp"
#include "dataplane/tables/spare_view.hpp"

namespace cg::dp {

namespace api = common::api;
using common::cluster_cfg;
using common::millis;
using common::node_cfg;
using common::service_cfg;

namespace {

cluster_cfg& find_cluster(std::vector<cluster_cfg>& cs, common::ipv4_addr vip) {
    for (auto& c : cs)
        if (c.address == vip) return c;
    throw refused(fmt::format("no cluster {}", common::format_ipv4(vip)));
}

service_cfg& find_service(std::vector<cluster_cfg>& cs, const api::service_key& ref) {
    const auto proto = ref.proto;
    for (auto& s : find_cluster(cs, ref.vip).ports)
        if (s.protocol == proto && s.port == ref.port) return s;
    throw refused(fmt::format("cluster {} has no port {}/{}", common::format_ipv4(ref.vip),
                              common::proto_name(proto), ref.port));
}

std::vector<node_cfg>::iterator find_node(service_cfg& s, const api::service_key& ref, common::ipv4_addr node) {
    const auto it = std::find_if(s.nodes.begin(), s.nodes.end(), [&](const node_cfg& n) { return n.address == node; });
    if (it == s.nodes.end()) throw refused(fmt::format("{} has no node {}", common::format_service(ref), common::format_ipv4(node)));
    return it;
}

millis ms(std::uint32_t v) { return millis{v}; }

/// Names the static parts of two configs that differ (they need a restart).
std::vector<std::string> static_differences(const common::gateway_cfg& a, const common::gateway_cfg& b) {
    std::vector<std::string> out;
    if (a.name != b.name || a.control_socket != b.control_socket || a.idle_sleep != b.idle_sleep)
        out.push_back("gateway");
    if (a.eal != b.eal) out.push_back("eal");
    if (a.lcores != b.lcores) out.push_back("lcores");
    if (a.ports != b.ports) out.push_back("ports");
    if (a.tables != b.tables) out.push_back("tables");
    if (a.timers != b.timers) out.push_back("timers");
    if (a.mirror != b.mirror) out.push_back("mirror");
    if (a.mirror_parser != b.mirror_parser) out.push_back("mirror_parser");
    return out;
}

/// The nodes down: those marked failed and, of each, its terminators that
/// are nodes of a cluster port (spares table: they fail with it).
std::set<common::ipv4_addr> down_of(const std::set<common::ipv4_addr>& failed,
                                    const std::vector<common::spare_cfg>& spares,
                                    const std::vector<common::cluster_cfg>& clusters) {
    std::set<common::ipv4_addr> down = failed;
    if (failed.empty() || spares.empty()) return down;
    const auto nodes = common::node_addresses(clusters);
    for (const common::ipv4_addr f : failed)
        for (const common::ipv4_addr t : common::terminators_of(spares, f))
            if (nodes.contains(t)) down.insert(t);
    return down;
}

}  // namespace

controller::controller(common::gateway_cfg cfg, std::vector<port_binding> ports, dp_adapter& dp, options opt)
    : _cfg(std::move(cfg)),
      _ports(std::move(ports)),
      _dp(dp),
      _opt(std::move(opt)),
      _slots(_cfg.tables.services, _cfg.tables.nodes),
      _node_base(_cfg.tables.nodes),
      _service_base(_cfg.tables.services),
      _role(_opt.role) {
    _down = down_of(_failed, _cfg.spares, _cfg.clusters);
    _serving = with_spares(_cfg.clusters, _cfg.spares, _down);
    _slots.sync(_serving);
    rebase_counters();
    publish();
}

namespace {

/// f(), or the error_rep of what it threw (counted as refused).
template <class R, class F>
R or_refusal(std::uint64_t& refusals, F&& f) {
    try {
        return f();
    } catch (const refused& e) {
        ++refusals;
        return R{api::reply{api::error_rep{e.what(), e.details}}};
    } catch (const std::exception& e) {
        ++refusals;
        return R{api::reply{api::error_rep{e.what(), {}}}};
    }
}

}  // namespace

bool pending_request::jobs_done() const {
    return std::all_of(_jobs.begin(), _jobs.end(),
                       [](const posted& p) { return p.done->load(std::memory_order_acquire); });
}

controller::started controller::begin(const api::request& r) {
    std::lock_guard guard(_lock);
    ++_counts.requests;
    return or_refusal<started>(_counts.refused,
                               [&] { return std::visit([this](const auto& req) -> started { return on(req); }, r); });
}

std::optional<api::reply> controller::poll(pending_request& p) {
    // The done flags are atomics: no lock while the workers are still at it.
    if (!p.jobs_done()) {
        if (std::chrono::steady_clock::now() < p._deadline) return std::nullopt;
        const auto late = std::find_if(p._jobs.begin(), p._jobs.end(), [](const pending_request::posted& j) {
            return !j.done->load(std::memory_order_acquire);
        });
        std::lock_guard guard(_lock);
        ++_counts.refused;
        return api::error_rep{fmt::format("{} did not answer within {} ms", late->who,
                                          _opt.job_timeout.count()),
                              {}};
    }
    std::lock_guard guard(_lock);
    auto step = std::move(p._step);
    p._jobs.clear();
    return or_refusal<std::optional<api::reply>>(_counts.refused, [&] { return step(p); });
}

api::reply controller::handle(const api::request& r) {
    started s = begin(r);
    if (auto* rep = std::get_if<api::reply>(&s)) return std::move(*rep);
    auto& p = std::get<pending_request>(s);
    for (;;) {
        if (auto rep = poll(p)) return std::move(*rep);
        std::this_thread::sleep_for(std::chrono::microseconds(50));
    }
}

pending_request controller::waiting() const {
    pending_request p;
    p._deadline = std::chrono::steady_clock::now() + _opt.job_timeout;
    return p;
}

void controller::post(pending_request& p, std::size_t w, std::shared_ptr<worker_job> job) {
    if (!_dp.post_job(w, job))
        throw refused(fmt::format("worker {} cannot take a job now (its job queue is full, or it is not running)", w));
    auto* done = &job->done;
    p._jobs.push_back({fmt::format("worker {}", w), std::shared_ptr<const std::atomic<bool>>(std::move(job), done)});
}

void controller::post(pending_request& p, std::size_t lcore, std::shared_ptr<parser_request> req) {
    if (!_dp.post_parser(lcore, req))
        throw refused(fmt::format("parser lcore {} cannot take a request now (its queue is full, or it is not running)",
                                  lcore));
    auto* done = &req->done;
    p._jobs.push_back({fmt::format("parser lcore {}", lcore),
                       std::shared_ptr<const std::atomic<bool>>(std::move(req), done)});
}

void controller::count_bad_frame() {
    std::lock_guard guard(_lock);
    ++_counts.bad_frames;
}

void controller::apply(std::vector<cluster_cfg> next, const std::string& what,
                       std::optional<std::vector<common::spare_cfg>> spares) {
    common::gateway_cfg candidate = _cfg;
    candidate.clusters = std::move(next);
    if (spares) candidate.spares = std::move(*spares);
    auto errors = common::check_clusters(candidate, what);
    for (auto& e : common::check_spares(candidate, what)) errors.push_back(std::move(e));
    if (!errors.empty()) {
        std::vector<std::string> lines;
        for (const auto& e : errors) lines.push_back(common::format_error(e));
        throw refused(lines.size() == 1 ? lines.front() : fmt::format("{} refused: {} errors", what, lines.size()),
                      lines.size() == 1 ? std::vector<std::string>{} : lines);
    }
    auto down = down_of(_failed, candidate.spares, candidate.clusters);
    auto serving = with_spares(candidate.clusters, candidate.spares, down);
    _slots.sync(serving);  // throws, changing nothing, when slots run out
    _cfg.clusters = std::move(candidate.clusters);
    _cfg.spares = std::move(candidate.spares);
    const auto served = common::node_addresses(serving);
    std::erase_if(_failed, [&](common::ipv4_addr a) { return !served.contains(a); });
    if (auto after = down_of(_failed, _cfg.spares, _cfg.clusters); after != down) {
        down = std::move(after);
        serving = with_spares(_cfg.clusters, _cfg.spares, down);
        _slots.sync(serving);  // the same nodes, other weights: no new slot
    }
    _down = std::move(down);
    _serving = std::move(serving);
    rebase_counters();
    publish();
}

void controller::publish() {
    _dp.publish(build_snapshot({_serving, _slots, _ports, _arp,
                                static_cast<std::uint32_t>(_cfg.timers.stale_timeout.count()), ++_generation,
                                _role, _reset_until, _cfg.mirror ? &*_cfg.mirror : nullptr, &_down,
                                _failed_epoch}));
    ++_counts.publishes;
}

void controller::rebase_counters() {
    for (std::size_t i = 0; i < _node_base.size(); ++i) {
        const node_slot& s = _slots.nodes()[i];
        node_base& b = _node_base[i];
        if (b.used == s.used && b.gen == s.gen && b.id == s.id) continue;
        b = {s.used, s.gen, s.id, sum_node(static_cast<std::uint16_t>(i))};
    }
    for (std::size_t i = 0; i < _service_base.size(); ++i) {
        const service_slot& s = _slots.services()[i];
        service_base& b = _service_base[i];
        if (b.used == s.used && b.id == s.id) continue;
        b = {s.used, s.id, sum_service(static_cast<std::uint16_t>(i))};
    }
}

bool controller::parent_ended() {
    std::lock_guard guard(_lock);
    if (_role != gateway_role::active) return false;
    _role = gateway_role::standby;
    _reset_until = 0;
    publish();  // one snapshot, as set role standby
    return true;
}

void controller::housekeeping() {
    std::lock_guard guard(_lock);
    bool changed = false;
    if (_reset_until != 0 && static_cast<std::int32_t>(_reset_until - _dp.now_ms()) <= 0) {
        _reset_until = 0;  // the window is over: before the clock could wrap into it again
        changed = true;
    }
    for (const arp_learned& l : _dp.take_learned()) {
        for (const node_slot& n : _slots.nodes()) {
            if (!n.used || n.cfg.mac || n.id.addr != l.ip) continue;
            auto [it, fresh] = _arp.try_emplace({l.port, l.ip}, l.mac);
            if (fresh || it->second != l.mac) {
                it->second = l.mac;
                ++_counts.arp_learned;
                changed = true;
            }
            break;
        }
    }
    const auto released = _slots.release_drained([this](std::uint16_t slot) {
        const node_stats s = sum_node(slot);
        return s.active.read() == 0 && s.fin.read() == 0;
    });
    _counts.released += released.size();
    if (!released.empty()) rebase_counters();
    if (changed || !released.empty()) publish();
}

// ---- edits ------------------------------------------------------------

api::reply controller::on(const api::add_cluster_req& r) {
    auto next = _cfg.clusters;
    if (std::any_of(next.begin(), next.end(), [&](const cluster_cfg& c) { return c.address == r.vip; }))
        throw refused(fmt::format("cluster {} exists already", common::format_ipv4(r.vip)));
    cluster_cfg c;
    c.address = r.vip;
    c.name = r.name.empty() ? common::format_ipv4(r.vip) : r.name;
    next.push_back(std::move(c));
    apply(std::move(next), "add cluster");
    return api::ok_rep{fmt::format("cluster {} added", common::format_ipv4(r.vip))};
}

api::reply controller::on(const api::del_cluster_req& r) {
    auto next = _cfg.clusters;
    find_cluster(next, r.vip);
    std::erase_if(next, [&](const cluster_cfg& c) { return c.address == r.vip; });
    apply(std::move(next), "del cluster");
    return api::ok_rep{fmt::format("cluster {} removed; its nodes drain", common::format_ipv4(r.vip))};
}

api::reply controller::on(const api::add_port_req& r) {
    auto next = _cfg.clusters;
    cluster_cfg& c = find_cluster(next, r.svc.vip);
    const auto proto = r.svc.proto;
    if (std::any_of(c.ports.begin(), c.ports.end(),
                    [&](const service_cfg& s) { return s.protocol == proto && s.port == r.svc.port; }))
        throw refused(fmt::format("{} exists already", common::format_service(r.svc)));
    service_cfg s;
    s.protocol = proto;
    s.port = r.svc.port;
    s.msl = r.msl_ms ? ms(*r.msl_ms) : _cfg.timers.msl;
    s.fin_timeout = r.fin_ms ? ms(*r.fin_ms) : r.msl_ms ? 3 * s.msl : _cfg.timers.fin_timeout.value_or(3 * s.msl);
    s.stale_timeout = r.stale_ms ? ms(*r.stale_ms) : _cfg.timers.stale_timeout;
    s.weight_bound = r.weight_bound.value_or(s.weight_bound);
    c.ports.push_back(std::move(s));
    apply(std::move(next), "add port");
    return api::ok_rep{fmt::format("{} added", common::format_service(r.svc))};
}

api::reply controller::on(const api::del_port_req& r) {
    auto next = _cfg.clusters;
    find_service(next, r.svc);
    const auto proto = r.svc.proto;
    std::erase_if(find_cluster(next, r.svc.vip).ports,
                  [&](const service_cfg& s) { return s.protocol == proto && s.port == r.svc.port; });
    apply(std::move(next), "del port");
    return api::ok_rep{fmt::format("{} removed; its nodes drain", common::format_service(r.svc))};
}

api::reply controller::on(const api::add_node_req& r) {
    auto next = _cfg.clusters;
    service_cfg& s = find_service(next, r.svc);
    if (std::any_of(s.nodes.begin(), s.nodes.end(), [&](const node_cfg& n) { return n.address == r.node; }))
        throw refused(fmt::format("{} has node {} already", common::format_service(r.svc), common::format_ipv4(r.node)));
    node_cfg n;
    n.address = r.node;
    n.mac = r.mac;
    n.weight = r.weight;
    n.weight_bound = r.weight_bound;
    n.port = r.port.empty() ? common::default_node_port(_cfg) : r.port;
    n.quiesced = r.quiesced;
    s.nodes.push_back(std::move(n));
    apply(std::move(next), "add node");
    return api::ok_rep{fmt::format("node {} added to {}", common::format_ipv4(r.node), common::format_service(r.svc))};
}

api::reply controller::on(const api::del_node_req& r) {
    auto next = _cfg.clusters;
    service_cfg& s = find_service(next, r.svc);
    s.nodes.erase(find_node(s, r.svc, r.node));
    apply(std::move(next), "del node");
    return api::ok_rep{fmt::format("node {} removed from {}; its connections drain", common::format_ipv4(r.node),
                                   common::format_service(r.svc))};
}

api::reply controller::on(const api::set_node_req& r) {
    auto next = _cfg.clusters;
    service_cfg& s = find_service(next, r.svc);
    node_cfg& n = *find_node(s, r.svc, r.node);
    if (r.weight) n.weight = *r.weight;
    if (r.quiesced) n.quiesced = *r.quiesced;
    apply(std::move(next), "set node");
    return api::ok_rep{fmt::format("node {} of {}: weight {}{}", common::format_ipv4(r.node), common::format_service(r.svc),
                                   n.weight, n.quiesced ? " (quiesced)" : "")};
}

api::reply controller::on(const api::fail_node_req& r) {
    const std::string addr = common::format_ipv4(r.node);
    if (r.failed && !common::node_addresses(_serving).contains(r.node))
        throw refused(fmt::format("node {}: no cluster port has it, as a node or a spare", addr));
    const bool was = _failed.contains(r.node);
    if (!r.failed && !was && _down.contains(r.node))
        throw refused(fmt::format("node {} is down as the terminator of a failed node: it comes back with that node", addr));
    if (was == r.failed) return api::ok_rep{fmt::format("node {} {} already", addr, was ? "failed" : "live")};
    // A node's terminators (its front-ends, spares table) cannot reach it
    // while it is failed: they are down with it, and back with it.
    const std::set<common::ipv4_addr> before = _down;
    if (r.failed)
        _failed.insert(r.node);
    else
        _failed.erase(r.node);
    _down = down_of(_failed, _cfg.spares, _cfg.clusters);
    if (r.failed) ++_failed_epoch;  // the workers tickle its clients
    _serving = with_spares(_cfg.clusters, _cfg.spares, _down);
    _slots.sync(_serving);  // the same nodes, so no new slot: only the spares' weights change
    publish();
    std::string terms;
    for (const common::ipv4_addr t : common::terminators_of(_cfg.spares, r.node))
        if (before.contains(t) != _down.contains(t))
            terms += fmt::format("{}{}", terms.empty() ? "" : ", ", common::format_ipv4(t));
    if (!terms.empty()) terms = fmt::format("; its terminators {} {} with it", terms, r.failed ? "down" : "back");
    if (!r.failed && _down.contains(r.node)) terms += "; still down: it is the terminator of a failed node";
    const auto spare = common::spare_of(_cfg.spares, r.node);
    const std::string to_spare =
        spare && !_down.contains(*spare) ? fmt::format("; its spare {} takes its new connections", common::format_ipv4(*spare)) : "";
    return api::ok_rep{r.failed ? fmt::format("node {} failed: no new connections; its TCP connections are reset "
                                              "at their next segment, its UDP flows move{}{}", addr, to_spare, terms)
                                : fmt::format("node {} live again: it takes new connections{}{}", addr,
                                              spare ? fmt::format(" (its spare {} keeps those it has)", common::format_ipv4(*spare)) : "",
                                              terms)};
}

api::reply controller::on(const api::set_spares_req& r) {
    std::vector<common::spare_cfg> spares;
    for (const api::spare_rule& e : r.spares) spares.push_back(common::cfg_of(e));
    if (spares == _cfg.spares) return api::ok_rep{"spares: nothing changed"};
    apply(_cfg.clusters, "set spares", std::move(spares));
    return api::ok_rep{fmt::format("spares: {} entries; {} spares on the cluster ports", _cfg.spares.size(),
                                   spare_owners(_cfg.clusters, _cfg.spares).size())};
}

api::reply controller::on(const api::reload_req& r) {
    const std::string path = r.path.empty() ? _opt.config_path : r.path;
    auto loaded = common::load_config_file(path);
    if (!loaded.ok()) {
        std::vector<std::string> lines;
        for (const auto& e : loaded.errors) lines.push_back(common::format_error(e));
        throw refused(fmt::format("{}: {} errors, nothing changed", path, lines.size()), lines);
    }
    if (const auto diff = static_differences(loaded.cfg, _cfg); !diff.empty()) {
        std::string parts;
        for (const auto& d : diff) parts += (parts.empty() ? "" : ", ") + d;
        throw refused(fmt::format("{} changes {}: that needs a restart of gatewayd; nothing changed", path, parts));
    }
    apply(std::move(loaded.cfg.clusters), path, std::move(loaded.cfg.spares));
    return api::ok_rep{fmt::format("{} applied: {} clusters", path, _cfg.clusters.size())};
}

api::reply controller::on(const api::set_role_req& r) {
    const auto role = parse_role(r.role);
    if (!role) throw refused(fmt::format("role '{}': neither active nor standby", r.role));
    if (r.reset_unknown_ms != 0 && *role != gateway_role::active)
        throw refused("a reset window needs the active role: a standby answers nothing");
    if (r.reset_unknown_ms > common::max_reset_window_ms)
        throw refused(fmt::format("reset window {} ms: at most {} ms", r.reset_unknown_ms, common::max_reset_window_ms));
    const bool same = *role == _role;
    if (same && r.reset_unknown_ms == 0) return api::ok_rep{fmt::format("{} already", role_name(_role))};
    _role = *role;
    _reset_until = 0;
    if (r.reset_unknown_ms != 0) _reset_until = std::max(1u, _dp.now_ms() + r.reset_unknown_ms);  // 0 means none
    publish();  // one snapshot: the workers change role between two bursts, never halfway
    const std::string window =
        r.reset_unknown_ms ? fmt::format("; unknown connections reset for {} ms", r.reset_unknown_ms) : "";
    return api::ok_rep{fmt::format("{}{}{}", same ? "" : "now ", role_name(_role), window)};
}

namespace {

api::reply not_a_pair() {
    throw refused("this is gatewayd: the gateway pair is controld's (ha commands go to manager.control_socket)");
}

api::reply not_a_supervisor() {
    throw refused("this is gatewayd: its supervision is controld's (show escalation goes to manager.control_socket)");
}

api::reply not_a_manager() {
    throw refused("this is gatewayd: manager commands go to controld's socket (manager.control_socket)");
}

}  // namespace

api::reply controller::on(const api::manager_show_req&) { return not_a_manager(); }
api::reply controller::on(const api::manager_set_req&) { return not_a_manager(); }
api::reply controller::on(const api::manager_node_req&) { return not_a_manager(); }
api::reply controller::on(const api::ha_show_req&) { return not_a_pair(); }
api::reply controller::on(const api::ha_switchover_req&) { return not_a_pair(); }
api::reply controller::on(const api::escalation_show_req&) { return not_a_supervisor(); }
api::reply controller::on(const api::restore_show_req&) {
    throw refused("this is gatewayd: carrying a failed node's connections on is controld's (show restore goes to "
                  "manager.control_socket); show mirror plans says what it would carry on");
}
api::reply controller::on(const api::state_show_req&) {
    throw refused("this is gatewayd: the nodes' state backups are controld's (show backups goes to "
                  "manager.control_socket)");
}

}  // namespace cg::dp
