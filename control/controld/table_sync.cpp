#include "control/controld/table_sync.hpp"

#include <map>
#include <tuple>

namespace cg::control {

namespace api = common::api;

namespace {

using port_key = std::tuple<common::l4_proto, std::uint16_t>;

std::map<common::ipv4_addr, const api::cluster_view*> by_vip(const api::tables_rep& t) {
    std::map<common::ipv4_addr, const api::cluster_view*> m;
    for (const auto& c : t.clusters) m[c.vip] = &c;
    return m;
}

std::map<port_key, const api::service_view*> by_port(const api::cluster_view* c) {
    std::map<port_key, const api::service_view*> m;
    if (c)
        for (const auto& s : c->ports) m[{s.proto, s.port}] = &s;
    return m;
}

std::map<common::ipv4_addr, const api::node_view*> live_nodes(const api::service_view* s) {
    std::map<common::ipv4_addr, const api::node_view*> m;
    if (s)
        for (const auto& n : s->nodes)
            if (!n.draining) m[n.address] = &n;
    return m;
}

api::add_node_req add_node(const api::service_key& svc, const api::node_view& n) {
    api::add_node_req r{svc, n.address};
    if (n.mac_source == 0) r.mac = n.mac;  // configured; learned ones are learned again
    r.weight = n.weight;
    r.weight_bound = n.weight_bound;
    r.port = n.port;
    r.quiesced = n.quiesced;
    return r;
}

}  // namespace

api::tables_rep without_spares(api::tables_rep t) {
    for (auto& c : t.clusters)
        for (auto& s : c.ports) std::erase_if(s.nodes, [](const api::node_view& n) { return n.spare_for != 0; });
    return t;
}

std::vector<api::request> resync(const api::tables_rep& want, const api::tables_rep& have) {
    std::vector<api::request> out;
    const auto want_c = by_vip(want), have_c = by_vip(have);
    for (const auto& [vip, c] : have_c)
        if (!want_c.contains(vip)) out.push_back(api::del_cluster_req{vip});
    for (const auto& [vip, c] : want_c) {
        const auto hc = have_c.find(vip);
        const api::cluster_view* had = hc == have_c.end() ? nullptr : hc->second;
        if (!had) out.push_back(api::add_cluster_req{c->name, vip});
        const auto want_p = by_port(c), have_p = by_port(had);
        for (const auto& [key, s] : have_p)
            if (!want_p.contains(key)) out.push_back(api::del_port_req{{vip, s->proto, s->port}});
        for (const auto& [key, s] : want_p) {
            const api::service_key svc{vip, s->proto, s->port};
            const auto hp = have_p.find(key);
            const api::service_view* had_s = hp == have_p.end() ? nullptr : hp->second;
            if (!had_s) out.push_back(api::add_port_req{svc, s->msl_ms, s->fin_ms, s->stale_ms, s->weight_bound});
            const auto want_n = live_nodes(s), have_n = live_nodes(had_s);
            for (const auto& [addr, n] : have_n)
                if (!want_n.contains(addr)) out.push_back(api::del_node_req{svc, addr});
            for (const auto& [addr, n] : want_n) {
                const auto hn = have_n.find(addr);
                if (hn == have_n.end()) {
                    out.push_back(add_node(svc, *n));
                    continue;
                }
                api::set_node_req set{svc, addr};
                if (hn->second->weight != n->weight) set.weight = n->weight;
                if (hn->second->quiesced != n->quiesced) set.quiesced = n->quiesced;
                if (set.weight || set.quiesced) out.push_back(set);
            }
        }
    }
    // Last: the spares table is checked against the nodes it names.
    if (want.spares != have.spares) out.push_back(api::set_spares_req{want.spares});
    return out;
}

std::vector<api::request> rebuild(const api::tables_rep& want, const api::tables_rep& have) {
    std::vector<api::request> out;
    for (const auto& c : have.clusters) out.push_back(api::del_cluster_req{c.vip});
    api::tables_rep none;  // no cluster left, the spares table still as it was
    none.spares = have.spares;
    auto adds = resync(want, none);
    out.insert(out.end(), std::make_move_iterator(adds.begin()), std::make_move_iterator(adds.end()));
    return out;
}

}  // namespace cg::control
