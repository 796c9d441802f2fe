// libFuzzer harness for the gateway pair's state machine (pair_state.hpp):
// two machines, A and B, a simulated clock, and the link between them, run
// by a script of events (pair_input.hpp): time passing (each side ticks and
// sends a heartbeat every interval, as pair_peer.cpp does), heartbeats in
// flight arriving, lost or overtaken, a gatewayd's health, a takeover
// ending well or not, and the operator's `ha switchover`. What the link
// delivers passes the receiver's checks first: a heartbeat older than the
// last one taken (its seq) or than max_skew is refused, as agent::receiver
// does.
//
// Checked after every step (a violation aborts, which libFuzzer reports as
// a crash):
//  - neither side's epoch ever goes down;
//  - neither claims the active role (active or taking_over) at epoch 0;
//  - two sides that claim it at the same epoch: once each has heard the
//    other say so, one has demoted (and a split that ends, ends by a
//    demotion);
// and after the script, a quiet phase (both gatewayds up, a heartbeat each
// way every interval with a fixed latency and no loss, takeovers done after
// a fixed time) of 20 dead times plus the pre-emption delay, after which
// exactly one side is active and the other its backup, and with
// pre-emption the active is the one that wins the tie-break.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <utility>

#include "control/controld/pair/pair_state.hpp"
#include "pair_input.hpp"

namespace {

using namespace cg::control::pair;
namespace in = cg::fuzz::pair_input;

constexpr milliseconds max_skew{30000};     // pair_cfg's default
constexpr std::size_t max_in_flight = 32;   // per direction; the oldest is lost beyond
constexpr std::size_t max_events = 2000;    // bounds one input's time
const cg::common::ipv4_addr low_address = 0xc6120003, high_address = 0xc6120004;

bool claims_active(role r) { return r == role::active || r == role::taking_over; }

struct heartbeat {
    peer_state p;
    std::uint64_t seq;
    clock::time_point sent, arrives;  ///< arrives: in the quiet phase only
};

struct side {
    const char* name;
    machine m;
    cg::common::ipv4_addr address;
    std::uint8_t priority;
    health h = health::up;  ///< its gatewayd's, as its controld sees it
    bool restoring = false;  ///< controld runs the takeover that take_over asked for
    clock::time_point restore_began{}, next_beat{};
    std::uint64_t seq = 0, last_seq_taken = 0;  ///< sent; and taken from the peer (the replay check)
    std::uint64_t highest_epoch = 0;
    std::deque<heartbeat> in_flight;  ///< to the peer
};

class sim {
public:
    sim(std::span<const std::uint8_t> header, clock::time_point t0);
    void run(std::span<const std::uint8_t> events);
    void quiet_phase();

private:
    [[noreturn]] void fail(const char* what) const;
    side& peer_of(const side& s) { return &s == &_a ? _b : _a; }
    void send(side& s);
    void act(side& s, action a);
    void beat(side& s);
    void deliver(side& from);
    void taken_over(side& s, bool ok);
    /// A link event on what `from` sent: arrives, is lost, or is overtaken.
    void on_link(side& from, in::op o, std::uint8_t arg);
    void advance_to(clock::time_point t);
    /// When the quiet phase ends a takeover that runs.
    clock::time_point restore_done(const side& s) const {
        return std::max(s.restore_began, _quiet_since) + _takeover_time;
    }
    void check();

    milliseconds _dead, _interval, _preempt, _latency{0}, _takeover_time{0};
    clock::time_point _now;
    side _a, _b;
    bool _quiet = false;
    clock::time_point _quiet_since{};
    struct {
        bool on = false;
        std::uint64_t epoch = 0, demotions = 0;
        bool a_heard = false, b_heard = false;  ///< each side's claim reached the other
    } _split;
};

std::uint8_t at(std::span<const std::uint8_t> d, std::size_t i) { return i < d.size() ? d[i] : 0; }

milliseconds dead_of(std::span<const std::uint8_t> h) { return milliseconds(20 + at(h, 2) % 9 * 10); }

machine::options options_of(std::span<const std::uint8_t> h, bool a) {
    const milliseconds dead = dead_of(h);
    const bool b_low = at(h, 6) & 0x80;
    return {.address = a != b_low ? low_address : high_address,
            .priority = at(h, a ? 0 : 1),
            .dead_time = dead,
            .preempt_delay = dead * 10 * (at(h, 4) % 4)};
}

sim::sim(std::span<const std::uint8_t> h, clock::time_point t0)
    : _dead(dead_of(h)),
      _interval(_dead / (2 + at(h, 3) % 3)),
      _preempt(options_of(h, true).preempt_delay),
      _now(t0),
      _a{"A", machine(options_of(h, true), t0), options_of(h, true).address, at(h, 0)},
      _b{"B", machine(options_of(h, false), t0), options_of(h, false).address, at(h, 1)} {
    _latency = milliseconds((at(h, 6) & 0x7f) % _interval.count());
    _takeover_time = _dead * (at(h, 7) % 21) / 10;
    _a.next_beat = t0;  // pair_peer::start beats at once
    _b.next_beat = t0 + milliseconds(at(h, 5) % _interval.count());
}

void sim::fail(const char* what) const {
    std::fprintf(stderr, "fuzz_pair: %s\n  at %lld ms%s, dead time %lld ms, interval %lld, pre-emption %lld ms\n",
                 what, static_cast<long long>(std::chrono::duration_cast<milliseconds>(_now.time_since_epoch()).count()),
                 _quiet ? " (quiet phase)" : "", static_cast<long long>(_dead.count()),
                 static_cast<long long>(_interval.count()), static_cast<long long>(_preempt.count()));
    for (const side* s : {&_a, &_b})
        std::fprintf(stderr, "  %s (priority %u, address .%u): %s at epoch %llu, gatewayd %s%s; %s\n", s->name,
                     s->priority, s->address & 0xff, std::string(role_name(s->m.current())).c_str(),
                     static_cast<unsigned long long>(s->m.epoch()), std::string(health_name(s->h)).c_str(),
                     s->m.handing_over() ? ", handing over" : "", s->m.why().c_str());
    std::abort();
}

// pair_peer::send: the machine's state and the gatewayd's health now.
void sim::send(side& s) {
    const peer_state p{s.address, s.m.current(), s.m.epoch(), s.h, s.priority, s.m.handing_over(), 0};
    if (s.in_flight.size() == max_in_flight) s.in_flight.pop_front();
    s.in_flight.push_back({p, ++s.seq, _now, _now + _latency});
}

// pair_peer::act and controld::on_pair: a takeover begins with a heartbeat
// that carries the new epoch; a demotion only makes gatewayd standby.
void sim::act(side& s, action a) {
    if (a != action::take_over) return;
    s.restoring = true;
    s.restore_began = _now;
    send(s);
}

void sim::beat(side& s) {
    act(s, s.m.tick(s.h, _now));
    send(s);
    s.next_beat += _interval;
    check();
}

void sim::deliver(side& from) {
    if (from.in_flight.empty()) return;
    const heartbeat hb = from.in_flight.front();
    from.in_flight.pop_front();
    side& to = peer_of(from);
    if (hb.seq <= to.last_seq_taken || _now - hb.sent > max_skew) return;  // refused by the receiver
    to.last_seq_taken = hb.seq;
    if (_split.on && claims_active(hb.p.r) && hb.p.epoch == _split.epoch)
        (&from == &_a ? _split.a_heard : _split.b_heard) = true;
    const role before = to.m.current();
    act(to, to.m.heard(hb.p, _now));
    if (before != to.m.current()) send(to);  // pair_peer tells the peer at once
    check();
}

// pair_peer::taken_over, from controld's restore (which tries again when it failed).
void sim::taken_over(side& s, bool ok) {
    if (!s.restoring) return;
    const role before = s.m.current();
    act(s, s.m.taken_over(ok, _now));
    if (ok) s.restoring = false;
    if (before == role::taking_over && s.m.current() == role::active) send(s);
    check();
}

void sim::advance_to(clock::time_point t) {
    enum class what { arrival, restored, beat };
    for (;;) {
        // The next thing to happen by t; at one instant, in this order: a
        // heartbeat arriving, a takeover ending (both in the quiet phase
        // only), a timer.
        std::optional<std::pair<what, side*>> next;
        clock::time_point when = t;
        auto consider = [&](what w, side& s, clock::time_point at) {
            if (at <= when && (!next || at < when)) next = {w, &s}, when = at;
        };
        for (side* s : {&_a, &_b})
            if (_quiet && !s->in_flight.empty()) consider(what::arrival, *s, s->in_flight.front().arrives);
        for (side* s : {&_a, &_b})
            if (_quiet && s->restoring) consider(what::restored, *s, restore_done(*s));
        for (side* s : {&_a, &_b}) consider(what::beat, *s, s->next_beat);
        if (!next) break;
        _now = when;
        switch (next->first) {
            case what::arrival: deliver(*next->second); break;
            case what::restored: taken_over(*next->second, true); break;
            case what::beat: beat(*next->second); break;
        }
    }
    _now = t;
}

void sim::check() {
    for (side* s : {&_a, &_b}) {
        if (s->m.epoch() < s->highest_epoch) fail("an epoch went down");
        s->highest_epoch = s->m.epoch();
        if (claims_active(s->m.current()) && s->m.epoch() == 0) fail("the active role at epoch 0");
    }
    const std::uint64_t demotions = _a.m.counters().demotions + _b.m.counters().demotions;
    const bool split = claims_active(_a.m.current()) && claims_active(_b.m.current()) && _a.m.epoch() == _b.m.epoch();
    if (_split.on && (!split || _split.epoch != _a.m.epoch() || (_split.a_heard && _split.b_heard))) {
        if (demotions == _split.demotions)
            fail(split ? "both active at one epoch after each heard the other: nobody demoted"
                       : "a split brain ended without a demotion");
        _split.on = false;
    }
    if (!_split.on && split) _split = {true, _a.m.epoch(), demotions, false, false};
}

void sim::on_link(side& from, in::op o, std::uint8_t arg) {
    if (o == in::op::deliver_ab || o == in::op::deliver_ba) {
        for (int k = 0; k <= arg % 8; ++k) deliver(from);
        return;
    }
    if (from.in_flight.empty()) return;
    const heartbeat oldest = from.in_flight.front();
    from.in_flight.pop_front();
    // Delayed: the next one overtakes it, and the receiver will refuse it.
    if (o == in::op::delay_ab || o == in::op::delay_ba) from.in_flight.push_back(oldest);
}

void sim::run(std::span<const std::uint8_t> events) {
    const std::size_t n = std::min(events.size() / 2, max_events);
    for (std::size_t i = 0; i < n; ++i) {
        const std::uint8_t arg = events[2 * i + 1];
        const auto o = static_cast<in::op>(events[2 * i] % static_cast<std::uint8_t>(in::op::count));
        switch (o) {
            case in::op::wait: advance_to(_now + milliseconds(arg + 1)); break;
            case in::op::wait_long: advance_to(_now + _dead * (arg % 64 + 1)); break;
            case in::op::deliver_ab:
            case in::op::drop_ab:
            case in::op::delay_ab: on_link(_a, o, arg); break;
            case in::op::deliver_ba:
            case in::op::drop_ba:
            case in::op::delay_ba: on_link(_b, o, arg); break;
            case in::op::health_a: _a.h = static_cast<health>(arg % health_count); break;
            case in::op::health_b: _b.h = static_cast<health>(arg % health_count); break;
            case in::op::taken_over_a: taken_over(_a, arg & 1); break;
            case in::op::taken_over_b: taken_over(_b, arg & 1); break;
            case in::op::switchover_a:
            case in::op::switchover_b: {
                side& s = o == in::op::switchover_a ? _a : _b;
                if (!s.m.switchover(_now)) send(s);  // pair_peer::switchover
                check();
                break;
            }
            case in::op::count: break;
        }
    }
}

void sim::quiet_phase() {
    _quiet = true;
    _quiet_since = _now;
    _a.h = _b.h = health::up;
    // What the bad link still held is lost; from now on it is a good one.
    _a.in_flight.clear();
    _b.in_flight.clear();
    advance_to(_now + 20 * _dead + _preempt);
    const role a = _a.m.current(), b = _b.m.current();
    if (!((a == role::active && b == role::backup) || (a == role::backup && b == role::active)))
        fail("the quiet phase did not end with one side active and the other its backup");
    if (_preempt > milliseconds(0)) {
        const bool a_wins = _a.priority != _b.priority ? _a.priority > _b.priority : _a.address < _b.address;
        if ((a == role::active) != a_wins) fail("with pre-emption, the quiet phase ended with the loser active");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::span<const std::uint8_t> input(data, size);
    const auto header = input.first(std::min(size, in::header_size));
    // Far from the clock's epoch, so that nothing is "since ever" by accident.
    sim s(header, clock::time_point{} + std::chrono::hours(1));
    s.run(input.subspan(header.size()));
    s.quiet_phase();
    return 0;
}
