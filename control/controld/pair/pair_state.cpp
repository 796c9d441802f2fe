#include "control/controld/pair/pair_state.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace cg::control::pair {

std::string_view role_name(role r) {
    static constexpr std::string_view names[] = {"starting", "backup", "taking_over", "active", "retired"};
    static_assert(std::size(names) == role_count);
    return names[static_cast<std::size_t>(r)];
}

std::string_view health_name(health h) {
    static constexpr std::string_view names[] = {"down", "up", "hung"};
    static_assert(std::size(names) == health_count);
    return names[static_cast<std::size_t>(h)];
}

namespace {

bool claims_active(role r) { return r == role::active || r == role::taking_over; }

/// The tie-break: whether a (priority, address) wins against b.
bool beats(std::uint8_t a_priority, common::ipv4_addr a_address, std::uint8_t b_priority, common::ipv4_addr b_address) {
    if (a_priority != b_priority) return a_priority > b_priority;
    return a_address < b_address;
}

long long ms_between(clock::time_point a, clock::time_point b) {
    return std::chrono::duration_cast<milliseconds>(b - a).count();
}

}  // namespace

machine::machine(options o, clock::time_point now) : _opt(o), _started(now) {}

bool machine::peer_alive(clock::time_point now) const { return _heard && now - *_heard < _opt.dead_time; }

bool machine::wins(const peer_state& p) const { return beats(_opt.priority, _opt.address, p.priority, p.address); }

bool machine::peer_should_lead(clock::time_point now) const {
    // The peer must win by the tie-break itself, not only fail to lose:
    // then the new active never finds its old one winning, and nothing loops.
    return _opt.preempt_delay > milliseconds(0) && _role == role::active && _own == health::up && !_handover_until &&
           peer_alive(now) && _peer->r == role::backup && _peer->h == health::up &&
           beats(_peer->priority, _peer->address, _opt.priority, _opt.address);
}

void machine::watch_preemption(clock::time_point now) {
    if (!peer_should_lead(now))
        _preempt_since.reset();
    else if (!_preempt_since)
        _preempt_since = now;
}

void machine::hand_over(clock::time_point now, std::string why) {
    _handover_until = now + _opt.handover_wait;
    _why = std::move(why);
}

action machine::begin_takeover(std::string why, bool planned) {
    _role = role::taking_over;
    _planned = planned;
    _epoch = std::max(_epoch, _peer ? _peer->epoch : 0) + 1;
    _handover_until.reset();
    _preempt_since.reset();
    ++_n.takeovers;
    _why = std::move(why);
    return action::take_over;
}

action machine::demote(std::string why) {
    _role = role::backup;
    _handover_until.reset();
    _preempt_since.reset();
    ++_n.demotions;
    _why = std::move(why);
    return action::demote;
}

action machine::heard(const peer_state& p, clock::time_point now) {
    if (!peer_alive(now)) _preempt_since.reset();  // a silence past the dead time: the wait begins again
    _peer = p;
    _heard = now;
    if (_role == role::retired) return action::none;
    if (p.retire) {
        retire(fmt::format("retired: peer {} has another gateway in this one's place; forwards nothing until "
                           "controld is started again",
                           common::format_ipv4(p.address)));
        return action::demote;
    }
    watch_preemption(now);
    if (claims_active(_role) && claims_active(p.r)) {
        // Two that say they are active: the higher epoch stays; at the same
        // epoch (both took over at once) the tie-break decides.
        if (p.epoch > _epoch || (p.epoch == _epoch && !wins(p))) {
            // A planned handover: this side keeps forwarding until the
            // backup is fully active, so that nothing is lost meanwhile.
            if (_handover_until && p.r == role::taking_over && p.epoch > _epoch) return action::none;
            if (p.epoch == _epoch) ++_n.split_brains;
            _epoch = p.epoch;
            return demote(fmt::format("peer {} is {} at epoch {}", common::format_ipv4(p.address), role_name(p.r),
                                      p.epoch));
        }
        return action::none;  // the peer demotes itself when it hears this side
    }
    if (claims_active(p.r) && p.epoch > _epoch) _epoch = p.epoch;
    return decide(now);
}

action machine::tick(health own, clock::time_point now) {
    _own = own;
    if (_handover_until && now >= *_handover_until) {
        _handover_until.reset();
        _why = "switchover called off: the backup did not take over";
    }
    watch_preemption(now);
    if (_preempt_since && now - *_preempt_since >= _opt.preempt_delay) {
        ++_n.preemptions;
        hand_over(now, fmt::format("pre-emption: peer {} wins and was a healthy backup for {} ms: asked it to take over",
                                   common::format_ipv4(_peer->address), ms_between(*_preempt_since, now)));
        _preempt_since.reset();
    }
    return decide(now);
}

action machine::taken_over(bool ok, clock::time_point now) {
    if (_role != role::taking_over) return action::none;  // demoted meanwhile
    if (!ok) return decide(now);
    _role = role::active;
    _why = fmt::format("active at epoch {}: {}", _epoch, _why);  // and why it took over
    return action::none;
}

void machine::retire(std::string why) {
    _role = role::retired;
    _handover_until.reset();
    _preempt_since.reset();
    ++_n.retirements;
    _why = std::move(why);
}

std::optional<std::string> machine::switchover(clock::time_point now) {
    if (_role != role::active) return fmt::format("this gateway is {}: only the active one hands over", role_name(_role));
    if (!peer_alive(now)) return std::string("the peer is not heard: nobody to hand over to");
    if (_peer->r != role::backup) return fmt::format("the peer is {}, not backup", role_name(_peer->r));
    if (_peer->h != health::up)
        return fmt::format("the peer's gatewayd is {}: it could not forward", health_name(_peer->h));
    ++_n.switchovers;
    hand_over(now, "switchover: asked the backup to take over");
    return std::nullopt;
}

action machine::decide(clock::time_point now) {
    const bool alive = peer_alive(now);
    switch (_role) {
        case role::starting:
            if (alive && claims_active(_peer->r)) {
                // gatewayd may still be active from before this controld
                // started: make sure it is not.
                _role = role::backup;
                _why = fmt::format("peer {} is active: backup", common::format_ipv4(_peer->address));
                return action::demote;
            }
            if (now - _started < _opt.dead_time) return action::none;  // still listening
            _role = role::backup;
            _why = alive ? "peer is not active" : "no peer heard";
            [[fallthrough]];
        case role::backup: {
            if (_own != health::up) return action::none;  // cannot forward: let the peer be
            if (!alive)
                return begin_takeover(_heard ? fmt::format("peer silent for {} ms", ms_between(*_heard, now))
                                             : std::string("no peer heard since the start"));
            const peer_state& p = *_peer;
            if (p.r == role::active && p.handover) return begin_takeover("switchover: the active handed over", true);
            if (claims_active(p.r) && p.h != health::up)
                return begin_takeover(fmt::format("peer's gatewayd is {}", health_name(p.h)));
            if (!claims_active(p.r) && p.h != health::up) return begin_takeover("nobody active: the peer cannot forward");
            if (!claims_active(p.r) && wins(p)) return begin_takeover("nobody active: this gateway wins");
            return action::none;
        }
        case role::taking_over:
        case role::active:
        case role::retired:
            return action::none;
    }
    return action::none;
}

}  // namespace cg::control::pair
