#include "control/controld/node_restore.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
namespace capi = common::api;
using clock = std::chrono::steady_clock;

namespace {

/// What a restore frame holds of connections.
constexpr std::size_t frame_room = shadow::max_frame - shadow::restore_overhead;

std::uint32_t ms_since(clock::time_point t) {
    return static_cast<std::uint32_t>(std::chrono::duration_cast<std::chrono::milliseconds>(clock::now() - t).count());
}

}  // namespace

struct node_restore::state {
    explicit state(common::ipv4_addr node) : pages(node) {}

    outcome out;
    capi::restore_plans_pages pages;  ///< the plans, page after page
    std::vector<capi::restore_plan_view> plans;
    std::size_t next = 0;  ///< the first plan not asked of the spare yet
    std::vector<capi::conn_record> moving;
    clock::time_point started = clock::now(), spare_started;
    std::function<void(outcome)> done;
    bool ended = false;              ///< done called (abandoned): later answers are ignored
    bool spare_done = false;         ///< every restore asked of the spare is answered
    bool move_in_flight = false;     ///< a bulk insert of `moving` entries is under way
    std::uint32_t in_flight = 0;     ///< connections asked of the spare, not answered yet

    void fail_reason(const std::string& why) {
        if (out.failures.size() < 8 && std::find(out.failures.begin(), out.failures.end(), why) == out.failures.end())
            out.failures.push_back(why);
    }
};

void node_restore::run(common::ipv4_addr node, common::ipv4_addr spare, std::function<void(outcome)> done) {
    auto s = std::make_shared<state>(node);
    s->out.node = node;
    s->out.spare = spare;
    s->done = std::move(done);
    std::erase_if(_running, [](const std::weak_ptr<state>& w) { return w.expired(); });
    _running.push_back(s);
    ask_plans(s);
}

void node_restore::ask_plans(std::shared_ptr<state> s) {
    _link.ask(s->pages.request(), [this, s](gw_answer a) {
        if (s->ended) return;
        const auto* rep = a.as<capi::restore_plans_rep>();
        std::string bad;
        if (!rep) {
            const auto* err = a.as<capi::error_rep>();
            bad = err ? err->message : a.why;
        } else {
            bad = s->pages.add(capi::restore_plans_rep(*rep));
        }
        if (!bad.empty()) {
            s->out.plans_ms = ms_since(s->started);
            s->out.error = "restore plans: " + bad;
            return finish(s);
        }
        if (!s->pages.done()) return ask_plans(s);
        s->out.plans_ms = ms_since(s->started);
        capi::restore_plans_rep& all = s->pages.all();
        s->out.followed = all.conns;
        for (const auto& v : all.verdicts)
            if (v.name != "restorable" && !v.name.starts_with("incomplete.") && v.value != 0)
                s->out.not_restorable.push_back(v);
        s->plans = std::move(all.plans);
        s->out.planned = static_cast<std::uint32_t>(s->plans.size());
        s->spare_started = clock::now();
        restore_next(s);
    });
}

void node_restore::restore_next(std::shared_ptr<state> s) {
    if (s->next == s->plans.size()) {
        s->out.spare_ms = ms_since(s->spare_started);
        s->spare_done = true;
        return move(s);
    }
    shadow::restore r{s->out.node, {}};
    std::size_t bytes = 0;
    while (s->next < s->plans.size() && r.conns.size() < shadow::max_restore_conns) {
        const capi::restore_plan_view& p = s->plans[s->next];
        const std::size_t need = shadow::restore_conn_size(p.replay.size());
        if (!r.conns.empty() && bytes + need > frame_room) break;
        ++s->next;
        if (need > frame_room) {  // more than a frame holds alone: cannot be handed over
            ++s->out.not_restored;
            s->fail_reason("its requests do not fit a restore frame");
            continue;
        }
        bytes += need;
        r.conns.push_back({p.params, p.replay});
    }
    if (r.conns.empty()) return restore_next(s);
    const auto& o = _seq.opts();
    const asio::ip::tcp::endpoint agent(asio::ip::address_v4(s->out.spare), o.shadow_port);
    std::vector<capi::conn_record> asked;
    for (const auto& c : r.conns) {
        capi::conn_record rec;
        rec.flow.saddr = c.params.client_addr;
        rec.flow.daddr = c.params.server_addr;
        rec.flow.sport = c.params.client_port;
        rec.flow.dport = c.params.server_port;
        rec.flow.proto = 6;
        rec.node = s->out.spare;
        rec.state = 1;
        asked.push_back(rec);
    }
    // The spare repairs and connects each one before it answers: its time grows with the frame.
    const auto deadline = _deadline + per_conn_allowance * static_cast<int>(asked.size());
    s->in_flight = static_cast<std::uint32_t>(asked.size());
    ask_spare(_io, agent, s->out.spare, o.key, o.querier, _seq.next_position(), std::move(r), deadline,
              [this, s, asked = std::move(asked)](spare_answer a) {
                  if (s->ended) return;
                  s->in_flight = 0;
                  if (!a.ok()) {
                      s->out.not_restored += static_cast<std::uint32_t>(asked.size());
                      s->out.error = fmt::format("restore on {}: {}", common::format_ipv4(s->out.spare), a.error);
                  } else {
                      for (std::size_t i = 0; i < a.outcomes.size(); ++i) {
                          if (a.outcomes[i].restored) {
                              ++s->out.restored;
                              s->moving.push_back(asked[i]);
                          } else {
                              ++s->out.not_restored;
                              s->fail_reason(a.outcomes[i].why);
                          }
                      }
                  }
                  move(s);  // these at once, beside the spare's next restore: their clients speak again
                  restore_next(s);
              });
}

void node_restore::move(std::shared_ptr<state> s) {
    if (s->move_in_flight) return;  // the one under way takes the rest when it is answered
    if (s->moving.empty()) {
        if (s->spare_done) finish(s);
        return;
    }
    std::vector<capi::conn_record> some;
    const std::size_t n = std::min<std::size_t>(s->moving.size(), capi::max_bulk_conns);
    some.assign(s->moving.end() - static_cast<std::ptrdiff_t>(n), s->moving.end());
    s->moving.resize(s->moving.size() - n);
    s->move_in_flight = true;
    _link.ask(capi::insert_conns_req{std::move(some), true}, [this, s](gw_answer a) {
        if (s->ended) return;
        s->move_in_flight = false;
        if (const auto* rep = a.as<capi::insert_conns_rep>()) {
            s->out.moved += rep->inserted + rep->replaced;
        } else {
            const auto* err = a.as<capi::error_rep>();
            s->out.error = "moving the entries to the spare: " + (err ? err->message : a.why);
        }
        move(s);
    });
}

std::size_t node_restore::abandon(common::ipv4_addr spare) {
    std::size_t n = 0;
    for (const auto& w : _running) {
        auto s = w.lock();
        if (!s || s->ended || s->out.spare != spare) continue;
        // Asked and not answered, not asked yet, restored but not moved:
        // none of them can live on a failed spare.
        s->out.not_restored += s->in_flight + static_cast<std::uint32_t>(s->plans.size() - s->next) +
                               static_cast<std::uint32_t>(s->moving.size());
        s->out.restored -= static_cast<std::uint32_t>(s->moving.size());
        s->moving.clear();
        s->out.error = fmt::format("the spare {} failed during the restore", common::format_ipv4(spare));
        if (s->out.spare_ms == 0 && s->spare_started != clock::time_point{}) s->out.spare_ms = ms_since(s->spare_started);
        finish(s);
        ++n;
    }
    return n;
}

void node_restore::finish(std::shared_ptr<state> s) {
    if (s->ended) return;
    s->ended = true;
    s->out.took_ms = ms_since(s->started);
    s->out.at_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                  std::chrono::system_clock::now().time_since_epoch())
                                                  .count());
    s->done(std::move(s->out));
}

}  // namespace cg::control
