// The controller's connection requests: pages of the tables for the
// console (show connections), and connections in bulk, as controld moves
// them into a gatewayd that lost its tables (dump, insert). All of them run
// as worker jobs: each worker alone touches its own table.
#include <unordered_map>

#include <fmt/format.h>

#include "dataplane/ctl/controller.hpp"

namespace cg::dp {

namespace api = common::api;

namespace {

/// The address of an entry's node, or 0 when its slot has another node now.
common::ipv4_addr node_address(const snapshot& snap, const conn_entry& e) {
    const snap_node& n = snap.nodes[e.node];
    return n.gen == e.node_gen && (n.flags & snap_node::in_use) ? n.address : 0;
}

/// Node slots by (service slot, node address), draining ones included:
/// their connections are still theirs.
class node_index {
public:
    explicit node_index(const snapshot& snap) {
        for (std::size_t i = 0; i < snap.nodes.size(); ++i) {
            const snap_node& n = snap.nodes[i];
            if (n.flags & snap_node::in_use) _slots.emplace(key(n.service, n.address), static_cast<std::uint16_t>(i));
        }
    }
    std::optional<std::uint16_t> find(std::uint16_t service, common::ipv4_addr node) const {
        const auto it = _slots.find(key(service, node));
        return it == _slots.end() ? std::nullopt : std::optional(it->second);
    }

private:
    static std::uint64_t key(std::uint16_t service, common::ipv4_addr a) { return (std::uint64_t{service} << 32) | a; }
    std::unordered_map<std::uint64_t, std::uint16_t> _slots;
};

}  // namespace

controller::started controller::on(const api::show_conns_req& req) {
    // Cursor: worker index in the high 32 bits, table slot in the low ones.
    auto page = std::make_shared<api::conns_rep>();
    page->total = live_connections();
    const std::size_t w = req.cursor >> 32;
    if (w >= _dp.worker_count()) return api::reply{std::move(*page)};
    pending_request p = waiting();
    conns_step(p, page, std::clamp<std::uint32_t>(req.max, 1, api::max_conns_page), w, static_cast<std::uint32_t>(req.cursor));
    return p;
}

void controller::conns_step(pending_request& p, std::shared_ptr<api::conns_rep> page, std::uint32_t max,
                            std::size_t w, std::uint32_t slot) {
    auto job = std::make_shared<worker_job>();
    job->what = worker_job::kind::dump;
    job->cursor = slot;
    job->page.resize(max - page->conns.size());
    post(p, w, job);
    p._step = [this, page, max, w, job](pending_request& next) -> std::optional<api::reply> {
        // Under the lock (poll): this snapshot stays until the step returns.
        // An entry whose node slot has another generation in it names a node
        // that is gone.
        const snapshot& snap = _dp.current();
        for (std::uint32_t i = 0; i < job->count; ++i) {
            const conn_entry& e = job->page[i];
            page->conns.push_back({e.key, node_address(snap, e), static_cast<std::uint8_t>(e.state),
                                   job->now_ms - e.last_seen, static_cast<std::uint16_t>(w)});
        }
        if (job->next_cursor < job->slot_count) {  // the page filled up inside this table
            page->next_cursor = (std::uint64_t{w} << 32) | job->next_cursor;
            return std::move(*page);
        }
        if (page->conns.size() >= max) {
            page->next_cursor = w + 1 < _dp.worker_count() ? std::uint64_t{w + 1} << 32 : 0;
            return std::move(*page);
        }
        if (w + 1 >= _dp.worker_count()) return std::move(*page);
        conns_step(next, page, max, w + 1, 0);
        return std::nullopt;
    };
}

controller::started controller::on(const api::dump_conns_req& req) {
    if (req.worker >= _dp.worker_count())
        throw refused(fmt::format("no worker {}: there are {}", req.worker, _dp.worker_count()));
    pending_request p = waiting();
    auto job = std::make_shared<worker_job>();
    job->what = worker_job::kind::dump;
    job->cursor = req.cursor;
    job->page.resize(std::clamp<std::uint32_t>(req.max, 1, api::max_bulk_conns));
    post(p, req.worker, job);
    p._step = [this, job, w = req.worker](pending_request&) -> std::optional<api::reply> {
        const snapshot& snap = _dp.current();  // under the lock (poll)
        api::dump_conns_rep r;
        r.worker = w;
        r.workers = static_cast<std::uint16_t>(_dp.worker_count());
        r.next_cursor = job->next_cursor;
        r.done = job->next_cursor >= job->slot_count;
        r.table_size = job->table_size;
        r.conns.reserve(job->count);
        for (std::uint32_t i = 0; i < job->count; ++i) {
            const conn_entry& e = job->page[i];
            if (const common::ipv4_addr node = node_address(snap, e))
                r.conns.push_back({e.key, node, static_cast<std::uint8_t>(e.state)});
        }
        return r;
    };
    return p;
}

controller::started controller::on(const api::insert_conns_req& req) {
    if (req.conns.size() > api::max_bulk_conns)
        throw refused(fmt::format("{} connections in one insert: at most {}", req.conns.size(), api::max_bulk_conns));
    const snapshot& snap = _dp.current();
    const node_index nodes(snap);
    const std::size_t workers = _dp.worker_count();
    // Under RSS no hash has a known owner: every record goes to every worker.
    const bool copies = !_dp.owner_of(0).has_value();
    std::vector<std::shared_ptr<worker_job>> jobs(workers);
    for (auto& j : jobs) {
        j = std::make_shared<worker_job>();
        j->what = worker_job::kind::insert;
        j->replace = req.replace;
        j->page.reserve(req.conns.size() / workers + 1);
    }
    // Records counted here (refused) or by the first worker that takes them.
    auto out = std::make_shared<api::insert_conns_rep>();
    for (const api::conn_record& c : req.conns) {
        if (c.state != static_cast<std::uint8_t>(conn_state::active) &&
            c.state != static_cast<std::uint8_t>(conn_state::fin)) {
            ++out->bad;
            continue;
        }
        const snap_service* svc = snap.find_service(c.flow.daddr, c.flow.proto, c.flow.dport);
        if (!svc) {
            ++out->no_service;
            continue;
        }
        const auto slot = nodes.find(static_cast<std::uint16_t>(svc - snap.services.data()), c.node);
        if (!slot) {
            ++out->no_node;
            continue;
        }
        conn_entry e;
        e.key = c.flow;
        e.hash = common::flow_hash(c.flow);
        e.node = *slot;
        e.node_gen = snap.nodes[*slot].gen;
        e.state = static_cast<conn_state>(c.state);
        if (copies) {
            for (auto& j : jobs) j->page.push_back(e);
        } else {
            jobs[*_dp.owner_of(e.hash)]->page.push_back(e);
        }
    }
    pending_request p = waiting();
    for (std::size_t w = 0; w < workers; ++w)
        if (!jobs[w]->page.empty()) post(p, w, jobs[w]);
    p._step = [out, jobs = std::move(jobs), copies](pending_request&) -> std::optional<api::reply> {
        // A record copied to every worker is counted by worker 0's copy.
        for (std::size_t w = 0; w < (copies ? 1 : jobs.size()); ++w) {
            const auto& n = jobs[w]->results;
            using rr = router::restore_result;
            out->inserted += n[static_cast<std::size_t>(rr::inserted)];
            out->replaced += n[static_cast<std::size_t>(rr::replaced)];
            out->kept += n[static_cast<std::size_t>(rr::kept)];
            out->full += n[static_cast<std::size_t>(rr::full)];
        }
        return std::move(*out);
    };
    return p;
}

}  // namespace cg::dp
