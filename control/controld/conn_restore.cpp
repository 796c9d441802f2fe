#include "control/controld/conn_restore.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "control/controld/shadow_query.hpp"

namespace cg::control {

namespace asio = boost::asio;
namespace capi = common::api;
using clock = std::chrono::steady_clock;

struct conn_restore::state {
    std::vector<common::ipv4_addr> nodes, clusters;
    std::optional<catch_up> later;
    bool second = false;  ///< the catch-up pass runs
    std::unique_ptr<asio::steady_timer> wait;
    std::vector<node_sockets> answers;
    std::size_t waiting = 0;
    std::size_t heard = 0;  ///< nodes that answered this pass
    int asked = 0;          ///< passes of queries so far
    outcome out;

    /// The pass that reconciles a followed (hot) table with the nodes.
    bool reconciling() const { return second && later->hot; }
    /// There were nodes to ask, and none answered this pass.
    bool heard_nobody() const { return heard == 0 && !nodes.empty() && !clusters.empty(); }
    clock::time_point started = clock::now();
    std::function<void(outcome)> done;
};

conn_restore::conn_restore(asio::io_context& io, gw_link& link, options opt)
    : _io(io),
      _link(link),
      _opt(std::move(opt)),
      _epoch(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count())) {}

void conn_restore::run(std::vector<common::ipv4_addr> nodes, std::vector<common::ipv4_addr> clusters,
                       std::function<void(outcome)> done, std::optional<catch_up> later) {
    auto s = std::make_shared<state>();
    s->nodes = std::move(nodes);
    s->clusters = std::move(clusters);
    s->later = std::move(later);
    s->done = std::move(done);
    s->out.nodes = s->nodes.size();
    if (s->later && s->later->hot)
        activate(s);  // the followed table forwards at once; the nodes' answers come after
    else
        query_all(s);
}

void conn_restore::query_all(std::shared_ptr<state> s) {
    if (s->nodes.empty() || s->clusters.empty()) {
        asio::post(_io, [this, s] { insert_all(s); });
        return;
    }
    s->waiting = s->nodes.size();
    s->heard = 0;
    if (++s->asked > 1 && s->reconciling()) s->out.failures.clear();  // a reconcile asked again
    const auth::position at = next_position();
    const shadow_request req{_opt.querier, at.epoch, at.seq, s->clusters, false};
    for (common::ipv4_addr node : s->nodes) {
        const asio::ip::tcp::endpoint agent(asio::ip::address_v4(node), _opt.shadow_port);
        query_shadow_table(_io, agent, node, _opt.key, req, _opt.deadline, [this, s, node](shadow_result r) {
            const bool counted = !s->second || s->later->hot;  // the pass whose answers the outcome reports
            if (r.ok()) {
                ++s->heard;
                if (counted) {
                    ++s->out.answered;
                    s->out.sockets += r.entries.size();
                }
                s->answers.push_back({node, std::move(r.entries)});
            } else if (counted) {
                s->out.failures.push_back(fmt::format("{}: {}", common::format_ipv4(node), r.error));
            }
            if (--s->waiting == 0) insert_all(s);
        });
    }
}

void conn_restore::insert_all(std::shared_ptr<state> s) {
    // A followed table forwards already; if no node answered (loaded, or
    // this gateway's link to them down), ask again rather than reset what
    // the mirror may have missed.
    if (s->reconciling() && s->heard_nobody() && s->asked < reconcile_tries) {
        s->wait = std::make_unique<asio::steady_timer>(_io, reconcile_pause);
        s->wait->async_wait([this, s](const boost::system::error_code& ec) {
            if (!ec) query_all(s);
        });
        return;
    }
    if (!s->second || s->later->hot)
        s->out.queried = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - s->started);
    // Answers in node order, so that the merge's "first node" is the same
    // whichever agent answered first.
    std::sort(s->answers.begin(), s->answers.end(),
              [](const node_sockets& a, const node_sockets& b) { return a.node < b.node; });
    merged_conns m = merge_shadow(s->answers, s->clusters);
    s->answers.clear();
    std::vector<capi::conn_record> all = std::move(m.conns);
    s->out.merged = std::move(m);
    if (all.empty()) return activate(s);

    const std::size_t pages = (all.size() + capi::max_bulk_conns - 1) / capi::max_bulk_conns;
    auto left = std::make_shared<std::size_t>(pages);
    for (std::size_t p = 0; p < pages; ++p) {
        const auto from = all.begin() + static_cast<std::ptrdiff_t>(p * capi::max_bulk_conns);
        const auto to = all.begin() + static_cast<std::ptrdiff_t>(std::min(all.size(), (p + 1) * capi::max_bulk_conns));
        // The first pass: a node's answer wins over what gatewayd may have
        // made meanwhile. The catch-up: what gatewayd learned by forwarding
        // since it went active is newer than the answer.
        const bool replace = !s->second || s->later->hot;
        _link.ask(capi::insert_conns_req{{from, to}, replace}, [this, s, left](gw_answer a) {
            if (const auto* r = a.as<capi::insert_conns_rep>()) {
                (s->second ? s->out.caught_up : s->out.inserted) += *r;
            } else {
                ++s->out.inserts_failed;
            }
            if (--*left == 0) activate(s);
        });
    }
}

void conn_restore::activate(std::shared_ptr<state> s) {
    const bool first_of_two = s->later && !s->second;
    // Reset only what no live node holds: not when a connection may be
    // missing from gatewayd (an insert failed, the table is full), nor when
    // a followed table heard from no node at all (more likely this
    // gateway's link or load than every node dead). A table started empty
    // resets even then: what it lacks it could never forward anyway.
    if (first_of_two)
        s->out.no_window = "the nodes are asked after";
    else if (s->out.inserts_failed != 0)
        s->out.no_window = "bulk inserts failed";
    else if (s->out.inserted.full != 0 || s->out.caught_up.full != 0)
        s->out.no_window = "the table is full";
    else if (s->reconciling() && s->heard_nobody())
        s->out.no_window = fmt::format("no node answered in {} tries", s->asked);
    else
        s->out.no_window.clear();
    const auto window = s->out.no_window.empty() ? static_cast<std::uint32_t>(_opt.reset_window.count()) : 0u;
    _link.ask(capi::set_role_req{"active", window}, [this, s, first_of_two](gw_answer a) {
        const bool active = a.as<capi::ok_rep>() != nullptr;
        if (!s->second) {
            s->out.active = active;
            s->out.took = std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - s->started);
        }
        if (!active) {
            const auto* e = a.as<capi::error_rep>();
            s->out.why_not_active = e ? e->message : a.why;
        }
        if (!first_of_two || !active) {
            auto& done = s->second ? s->later->done : s->done;
            return done(std::move(s->out));
        }
        s->done(s->out);  // active: the caller tells its peer, which stops forwarding
        s->second = true;
        s->wait = std::make_unique<asio::steady_timer>(_io, s->later->after);
        s->wait->async_wait([this, s](const boost::system::error_code& ec) {
            if (!ec) query_all(s);
        });
    });
}

}  // namespace cg::control
