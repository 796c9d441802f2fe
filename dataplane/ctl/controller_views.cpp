// The read-only requests of the controller: tables, counters, connections,
// simulate. Counters are summed over workers and shown relative to the
// slot's base (controller.hpp).
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/spare_rules.hpp"
#include "dataplane/ctl/controller.hpp"
#include "dataplane/tables/spare_view.hpp"

namespace cg::dp {

namespace api = common::api;

namespace {

void add_stats(node_stats& to, const node_stats& from) {
    to.new_conns.v += from.new_conns.read();
    to.completed.v += from.completed.read();
    to.active.v += from.active.read();
    to.fin.v += from.fin.read();
    to.pkts.v += from.pkts.read();
    to.bytes.v += from.bytes.read();
}

/// `now - base` for cumulative counters; gauges (active, fin) are absolute.
node_stats since(const node_stats& now, const node_stats& base) {
    node_stats d = now;
    d.new_conns.v -= base.new_conns.v;
    d.completed.v -= base.completed.v;
    d.pkts.v -= base.pkts.v;
    d.bytes.v -= base.bytes.v;
    return d;
}

}  // namespace

node_stats controller::sum_node(std::uint16_t slot) const {
    node_stats s{};
    for (std::size_t w = 0; w < _dp.worker_count(); ++w) add_stats(s, _dp.nodes(w)[slot]);
    return s;
}

service_stats controller::sum_service(std::uint16_t slot) const {
    service_stats s{};
    for (std::size_t w = 0; w < _dp.worker_count(); ++w) {
        const service_stats& x = _dp.services(w)[slot];
        s.pkts.v += x.pkts.read();
        s.new_conns.v += x.new_conns.read();
        s.no_node.v += x.no_node.read();
    }
    return s;
}

std::uint64_t controller::live_connections() const {
    std::uint64_t n = 0;
    for (std::size_t slot = 0; slot < _slots.nodes().size(); ++slot) {
        const node_stats s = sum_node(static_cast<std::uint16_t>(slot));
        n += s.active.read() + s.fin.read();
    }
    return n;
}

api::node_view controller::node_view_of(std::uint16_t slot) const {
    const node_slot& ns = _slots.nodes()[slot];
    const snap_node& sn = _dp.current().nodes[slot];
    api::node_view v;
    v.address = ns.id.addr;
    v.mac = sn.mac;
    v.mac_source = ns.cfg.mac ? 0 : (sn.flags & snap_node::has_mac) ? 1 : 2;
    v.weight = ns.cfg.weight;
    v.effective_weight =
        ns.draining ? 0 : effective_weight(ns.cfg, sn.flags & snap_node::has_mac, sn.flags & snap_node::failed);
    v.weight_bound = ns.cfg.weight_bound;
    v.port = ns.cfg.port;
    v.quiesced = ns.cfg.quiesced;
    v.draining = ns.draining;
    v.failed = sn.flags & snap_node::failed;
    const node_stats c = since(sum_node(slot), _node_base[slot].at);
    v.new_conns = c.new_conns.v;
    v.active = c.active.v;
    v.fin = c.fin.v;
    v.completed = c.completed.v;
    v.pkts = c.pkts.v;
    v.bytes = c.bytes.v;
    return v;
}

api::reply controller::on(const api::hello_req&) {
    api::hello_rep r;
    r.gateway = _cfg.name;
    r.software = _opt.software;
    r.uptime_ms = static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - _started).count());
    r.ports = _dp.port_views();
    r.lcores = _dp.lcore_views();
    r.role = std::string(role_name(_role));
    r.pid = static_cast<std::uint32_t>(::getpid());
    return r;
}

api::reply controller::on(const api::show_tables_req& req) {
    api::tables_rep r;
    std::vector<bool> shown(_slots.nodes().size());
    const auto owners = spare_owners(_cfg.clusters, _cfg.spares);
    for (const auto& c : _serving) {
        if (req.vip != 0 && c.address != req.vip) continue;
        api::cluster_view cv{c.name, c.address, {}};
        for (const auto& s : c.ports) {
            const service_key sid{c.address, s.protocol, s.port};
            const std::uint16_t sslot = *_slots.find_service(sid);
            const service_stats sc = sum_service(sslot);
            const service_stats& base = _service_base[sslot].at;
            api::service_view sv;
            sv.proto = s.protocol;
            sv.port = s.port;
            sv.msl_ms = static_cast<std::uint32_t>(s.msl.count());
            sv.fin_ms = static_cast<std::uint32_t>(s.fin_timeout.count());
            sv.stale_ms = static_cast<std::uint32_t>(s.stale_timeout.count());
            sv.weight_bound = s.weight_bound;
            sv.pkts = sc.pkts.v - base.pkts.v;
            sv.new_conns = sc.new_conns.v - base.new_conns.v;
            sv.no_node = sc.no_node.v - base.no_node.v;
            for (const auto& n : s.nodes) {
                const std::uint16_t slot = *_slots.find_node({sid, n.address});
                sv.nodes.push_back(node_view_of(slot));
                if (const auto o = owners.find(n.address); o != owners.end()) sv.nodes.back().spare_for = o->second;
                shown[slot] = true;
            }
            for (std::size_t i = 0; i < _slots.nodes().size(); ++i) {
                const node_slot& ns = _slots.nodes()[i];
                if (ns.used && ns.draining && ns.id.svc == sid) {
                    sv.nodes.push_back(node_view_of(static_cast<std::uint16_t>(i)));
                    shown[i] = true;
                }
            }
            cv.ports.push_back(std::move(sv));
        }
        r.clusters.push_back(std::move(cv));
    }
    for (std::size_t i = 0; i < _slots.nodes().size(); ++i) {
        const node_slot& ns = _slots.nodes()[i];
        if (ns.used && !shown[i] && (req.vip == 0 || ns.id.svc.vip == req.vip))
            r.orphans.push_back(node_view_of(static_cast<std::uint16_t>(i)));
    }
    for (const common::spare_cfg& s : _cfg.spares) r.spares.push_back(common::rule_of(s));
    return r;
}

api::reply controller::on(const api::show_stats_req&) {
    api::stats_rep r;
    r.uptime_ms = std::get<api::hello_rep>(on(api::hello_req{})).uptime_ms;
    r.ports = _dp.port_views();
    r.lcores = _dp.lcore_views();

    std::vector<const worker_stats*> lcores;
    for (std::size_t w = 0; w < _dp.worker_count(); ++w) lcores.push_back(&_dp.stats(w));
    if (const worker_stats* io = _dp.io_stats()) lcores.push_back(io);  // the dispatch lcore drops too
    auto sum = [&](auto field) {
        std::uint64_t n = 0;
        for (const worker_stats* s : lcores) n += field(*s).read();
        return n;
    };
    for (std::size_t i = 0; i < drop_reason_count; ++i)
        r.drops.push_back({std::string(drop_reason_names[i]), sum([i](const worker_stats& s) -> const counter& {
                               return s.drops[i];
                           })});
    r.connections.push_back({"live", live_connections()});
    for (std::size_t i = 0; i < conn_event_count; ++i)
        r.connections.push_back({std::string(conn_event_names[i]), sum([i](const worker_stats& s) -> const counter& {
                                     return s.conn_events[i];
                                 })});
    const auto named = [&](const char* name, counter worker_stats::*field) {
        return api::named_count{name, sum([field](const worker_stats& s) -> const counter& { return s.*field; })};
    };
    r.control = {{"requests", _counts.requests},
                 {"refused", _counts.refused},
                 {"bad_frames", _counts.bad_frames},
                 {"snapshots_published", _counts.publishes},
                 named("arp_replies", &worker_stats::arp_replies),
                 named("icmp_replies", &worker_stats::icmp_replies),
                 named("arp_requests_sent", &worker_stats::arp_requests),
                 named("gratuitous_arps_sent", &worker_stats::garps_sent),
                 {"arp_macs_learned", _counts.arp_learned},
                 named("arp_learn_lost", &worker_stats::arp_learn_lost),
                 named("arp_not_answered", &worker_stats::consumed),
                 named("tcp_resets_sent", &worker_stats::tcp_resets),
                 named("tcp_resets_limited", &worker_stats::resets_limited),
                 named("tickles_sent", &worker_stats::tickles_sent),
                 named("tickles_no_peer", &worker_stats::tickles_no_peer),
                 named("tickles_resent", &worker_stats::tickles_resent),
                 named("mirror_sent", &worker_stats::mirror_sent),
                 named("mirror_dropped", &worker_stats::mirror_dropped),
                 named("mirror_followed", &worker_stats::mirror_followed),
                 named("mirror_unknown_service", &worker_stats::mirror_unknown_service),
                 named("mirror_unknown_node", &worker_stats::mirror_unknown_node),
                 named("mirror_ignored", &worker_stats::mirror_ignored),
                 {"node_slots_released", _counts.released}};
    return r;
}

controller::started controller::on(const api::simulate_req& req) {
    pending_request p = waiting();
    std::vector<std::shared_ptr<worker_job>> jobs;
    for (std::size_t w = 0; w < _dp.worker_count(); ++w) {
        auto job = std::make_shared<worker_job>();
        job->what = worker_job::kind::simulate;
        job->flow = req.flow;
        post(p, w, job);
        jobs.push_back(std::move(job));
    }
    // Reads no snapshot: each job carries the address its worker saw.
    p._step = [flow = req.flow, jobs = std::move(jobs)](pending_request&) -> std::optional<api::reply> {
        api::simulate_rep r;
        for (std::size_t w = 0; w < jobs.size(); ++w) {
            const simulation& s = jobs[w]->sim;
            if (s.what != simulation::outcome::existing) continue;
            r.verdict = "existing";
            r.node = jobs[w]->sim_address;
            r.worker = static_cast<std::uint16_t>(w);
            r.state = static_cast<std::uint8_t>(s.state);
            r.detail = fmt::format("idle {} ms", s.idle_ms);
            return r;
        }
        const std::uint32_t w = worker_for_hash(common::flow_hash(flow), static_cast<std::uint32_t>(jobs.size()));
        const worker_job& job = *jobs.at(w);
        r.worker = static_cast<std::uint16_t>(w);
        if (job.sim.what == simulation::outcome::dropped) {
            r.verdict = std::string(drop_reason_names[static_cast<std::size_t>(job.sim.why)]);
            return r;
        }
        r.verdict = "new";
        r.node = job.sim_address;
        if (jobs.size() > 1)
            r.detail = "the worker is the one a dispatch lcore would choose; with RSS the NIC chooses";
        return r;
    };
    return p;
}

}  // namespace cg::dp
