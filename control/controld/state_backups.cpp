#include "control/controld/state_backups.hpp"

#include <fmt/format.h>

#include "common/log.hpp"
#include "control/controld/agent_exchange.hpp"

namespace cg::control {

namespace asio = boost::asio;
namespace capi = common::api;
namespace log = common::log;
using common::ipv4_addr;

static_assert(state_backup_max == shadow::max_state, "what controld stores is what the agents send");

namespace {

std::uint64_t ms_of(wall_time t) { return static_cast<std::uint64_t>(t.time_since_epoch().count()); }

std::uint32_t ms_since(std::chrono::steady_clock::time_point t0) {
    return static_cast<std::uint32_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count());
}

std::string refusal_text(const shadow::refused& r) {
    return fmt::format("refused: {}: {}", shadow::refusal_name(r.why), r.detail);
}

}  // namespace

state_backups::state_backups(asio::io_context& io, conn_restore& seq, common::state_backups_cfg cfg)
    : _io(io), _seq(seq), _cfg(std::move(cfg)), _store(_cfg.dir, _cfg.keep) {}

asio::ip::tcp::endpoint state_backups::agent(ipv4_addr node) const {
    return {asio::ip::address_v4(node), _seq.opts().shadow_port};
}

void state_backups::round(const std::map<ipv4_addr, ipv4_addr>& nodes) {
    for (const auto& [node, spare] : nodes) {
        node_status& s = _nodes[node];
        s.spare = spare;
        if (!s.busy) backup(node);
    }
}

void state_backups::backup(ipv4_addr node) {
    node_status& s = _nodes[node];
    s.busy = true;
    ++s.tries;
    ++_n.asked;
    const auto& o = _seq.opts();
    const auth::position at = _seq.next_position();
    auto request = shadow::seal({o.querier, at.epoch, at.seq, ms_of(wall_now()), shadow::backup_query{state_backup_max}},
                                o.key);
    auto got = std::make_shared<shadow::state_collector>(o.key, node, at, state_backup_max);
    const auto t0 = std::chrono::steady_clock::now();
    exchange_with_agent(
        _io, agent(node), std::move(request), _cfg.timeout, "the backup query",
        [got](std::span<const std::uint8_t> frame) {
            if (auto r = got->accept(frame)) return frame_verdict{false, "a chunk " + refusal_text(*r)};
            return frame_verdict{got->complete(), {}};
        },
        [this, node, got, t0](std::string error) {
            node_status& s = _nodes[node];
            s.busy = false;
            s.last_took_ms = ms_since(t0);
            if (error.empty() && !got->error().empty()) error = "the agent: " + got->error();
            if (error.empty()) {
                const auto& b = got->bytes();
                const wall_time taken{std::chrono::milliseconds(got->taken_ms())};
                if (auto err = _store.save(node, {reinterpret_cast<const char*>(b.data()), b.size()}, taken))
                    error = "storing it: " + *err;
            }
            if (error.empty()) {
                ++s.saved;
                ++_n.saved;
                if (!s.last_error.empty())
                    log::info("state backup of {}: taken again ({} bytes)", common::format_ipv4(node), got->bytes().size());
                s.last_error.clear();
                return;
            }
            ++s.failed;
            ++_n.failed;
            if (s.last_error != error)  // each new reason once, not every period
                log::warn("state backup of {}: {}", common::format_ipv4(node), error);
            s.last_error = std::move(error);
        });
}

void state_backups::hand_over(ipv4_addr failed, ipv4_addr spare, std::function<void(handover)> done) {
    backup_entry which;
    std::string why;
    auto state = _store.newest(failed, which, why);
    if (!state) {
        ++_n.handover_failed;
        return done({false, "no state: " + why, std::nullopt, 0});
    }
    const auto& o = _seq.opts();
    const auth::position at = _seq.next_position();
    const std::uint64_t now = ms_of(wall_now()), taken = ms_of(state->saved);
    std::vector<std::uint8_t> request = shadow::seal({o.querier, at.epoch, at.seq, now, shadow::state_restore{failed}}, o.key);
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(state->bytes.data()),
                                              state->bytes.size());
    for (std::size_t i = 0; i < shadow::state_chunks(bytes.size()); ++i) {
        const auto frame = shadow::seal_state_chunk(bytes, i, taken, "", o.querier, at, now, o.key);
        request.insert(request.end(), frame.begin(), frame.end());
    }
    auto said = std::make_shared<shadow::state_restored>();
    const std::uint64_t age = now > taken ? now - taken : 0;
    auto p = std::make_shared<pending_handover>(pending_handover{
        spare,
        fmt::format("the state taken at {} ({} bytes, {:.1f} s old)", format_wall(state->saved), bytes.size(),
                    static_cast<double>(age) / 1000),
        age, std::chrono::steady_clock::now(), std::move(done)});
    _handovers.push_back(p);
    exchange_with_agent(
        _io, agent(spare), std::move(request), _cfg.timeout, "the state restore",
        [said, k = o.key, spare, at](std::span<const std::uint8_t> frame) {
            auto r = shadow::open_state_restored(frame, k, spare, at);
            if (auto* no = std::get_if<shadow::refused>(&r)) return frame_verdict{false, "the answer " + refusal_text(*no)};
            *said = std::get<shadow::state_restored>(std::move(r));
            return frame_verdict{true, {}};
        },
        [this, said, p](std::string error) {
            if (error.empty() && !said->ok) error = "its restore command: " + said->why;
            end_handover(p, std::move(error));
        });
}

void state_backups::end_handover(const std::shared_ptr<pending_handover>& p, std::string error) {
    if (p->ended) return;
    p->ended = true;
    std::erase(_handovers, p);
    handover h{error.empty(), "", p->age_ms, ms_since(p->t0)};
    h.what = error.empty() ? fmt::format("{}, restored in {} ms", p->what, h.took_ms)
                           : fmt::format("{}, not restored: {}", p->what, error);
    ++(h.ok ? _n.handed_over : _n.handover_failed);
    p->done(std::move(h));
}

void state_backups::abandon(ipv4_addr spare) {
    for (auto p : std::vector(_handovers))  // end_handover erases from _handovers
        if (p->spare == spare) end_handover(p, "the spare failed during the handover");
}

capi::state_rep state_backups::view() {
    capi::state_rep r;
    r.enabled = true;
    r.dir = _cfg.dir;
    r.keep = _cfg.keep;
    r.every_ms = static_cast<std::uint64_t>(_cfg.every.count());
    r.now_ms = ms_of(wall_now());
    for (const auto& [node, s] : _nodes) {
        capi::node_state_view v{node, s.spare, s.tries, s.saved, s.failed, s.last_error, s.last_took_ms, {}};
        for (const backup_entry& e : _store.list(node))
            v.backups.push_back({e.seq, ms_of(e.saved), e.bytes, e.problem});
        r.nodes.push_back(std::move(v));
    }
    return r;
}

}  // namespace cg::control
