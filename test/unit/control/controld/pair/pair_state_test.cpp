// The gateway pair's state machine: every transition, split brain by
// epochs, a half-failed peer, switchover, the tie-break, and pre-emption.
#include <catch2/catch.hpp>

#include "control/controld/pair/pair_state.hpp"

using namespace cg::control::pair;
using namespace std::chrono_literals;

namespace {

const cg::common::ipv4_addr me = 0xc6120003, other = 0xc6120004;  // 198.18.0.3, .4
const clock::time_point t0{};

machine make(std::uint8_t priority = 100, milliseconds preempt_delay = 0ms) {
    return machine({me, priority, 50ms, 3000ms, preempt_delay}, t0);
}

peer_state peer(role r, std::uint64_t epoch, health h = health::up, std::uint8_t priority = 100, bool handover = false) {
    return {other, r, epoch, h, priority, handover, 0};
}

/// A machine that took over at t0+60ms (no peer heard) and is active at epoch 1.
machine active_one(milliseconds preempt_delay = 0ms) {
    machine m = make(100, preempt_delay);
    CHECK(m.tick(health::up, t0 + 60ms) == action::take_over);
    CHECK(m.taken_over(true, t0 + 70ms) == action::none);
    REQUIRE(m.current() == role::active);
    REQUIRE(m.epoch() == 1);
    return m;
}

/// A backup of a healthy active peer at epoch 3.
machine backup_one() {
    machine m = make();
    CHECK(m.heard(peer(role::active, 3), t0 + 5ms) == action::demote);  // makes sure its own gatewayd is standby
    CHECK(m.tick(health::up, t0 + 10ms) == action::none);
    REQUIRE(m.current() == role::backup);
    REQUIRE(m.epoch() == 3);
    return m;
}

/// A gateway of a two-machine pair, with what its heartbeats carry.
struct side {
    machine m;
    cg::common::ipv4_addr address;
    std::uint8_t priority;
};

/// The heartbeat `s` sends, as pair_peer.cpp builds it.
peer_state heartbeat(const side& s) {
    return {s.address, s.m.current(), s.m.epoch(), s.m.own(), s.priority, s.m.handing_over(), 0};
}

/// controld's takeover, done at once.
void settle(side& s, action a, clock::time_point now) {
    if (a == action::take_over) CHECK(s.m.taken_over(true, now) == action::none);
}

/// One interval of a healthy pair on a good link: both tick, then each
/// hears the other.
void exchange(side& x, side& y, clock::time_point now) {
    settle(x, x.m.tick(health::up, now), now);
    settle(y, y.m.tick(health::up, now), now);
    settle(y, y.m.heard(heartbeat(x), now), now);
    settle(x, x.m.heard(heartbeat(y), now), now);
}

}  // namespace

TEST_CASE("a gateway that hears no peer listens for the dead time, then takes over at epoch 1", "[pair]") {
    machine m = make();
    CHECK(m.current() == role::starting);
    CHECK(m.tick(health::up, t0 + 20ms) == action::none);
    CHECK(m.current() == role::starting);
    CHECK(m.tick(health::up, t0 + 50ms) == action::take_over);
    CHECK(m.current() == role::taking_over);
    CHECK(m.epoch() == 1);
    CHECK(m.may_forward());
    CHECK(m.taken_over(true, t0 + 80ms) == action::none);
    CHECK(m.current() == role::active);
    CHECK(m.counters().takeovers == 1);
}

TEST_CASE("a gateway whose own gatewayd cannot forward never takes over", "[pair]") {
    machine m = make();
    CHECK(m.tick(health::down, t0 + 60ms) == action::none);
    CHECK(m.current() == role::backup);
    CHECK(m.tick(health::hung, t0 + 200ms) == action::none);
    CHECK_FALSE(m.may_forward());
    CHECK(m.tick(health::up, t0 + 300ms) == action::take_over);  // once it can
}

TEST_CASE("a starting gateway that hears an active peer becomes its backup, at its epoch", "[pair]") {
    machine m = backup_one();
    CHECK_FALSE(m.may_forward());
    // The peer heard every 10 ms: nothing happens, for as long as it is healthy.
    for (int i = 1; i <= 30; ++i) {
        CHECK(m.heard(peer(role::active, 3), t0 + 10ms * i) == action::none);
        CHECK(m.tick(health::up, t0 + 10ms * i + 1ms) == action::none);
    }
    CHECK(m.current() == role::backup);
}

TEST_CASE("the backup takes over when the peer falls silent for the dead time, with the next epoch", "[pair]") {
    machine m = backup_one();
    CHECK(m.heard(peer(role::active, 3), t0 + 100ms) == action::none);
    CHECK(m.tick(health::up, t0 + 149ms) == action::none);
    CHECK(m.peer_alive(t0 + 149ms));
    CHECK(m.tick(health::up, t0 + 150ms) == action::take_over);
    CHECK_FALSE(m.planned());
    CHECK_FALSE(m.peer_alive(t0 + 150ms));
    CHECK(m.epoch() == 4);
    CHECK_THAT(m.why(), Catch::Contains("silent for 50 ms"));
    CHECK(m.taken_over(true, t0 + 200ms) == action::none);
    CHECK(m.current() == role::active);
    CHECK(m.why() == "active at epoch 4: peer silent for 50 ms");
}

TEST_CASE("a half-failed active (controld alive, gatewayd hung or down) is taken over at once", "[pair]") {
    for (const health h : {health::hung, health::down}) {
        INFO(health_name(h));
        machine m = backup_one();
        CHECK(m.heard(peer(role::active, 3, h), t0 + 20ms) == action::take_over);
        CHECK(m.epoch() == 4);
        CHECK_THAT(m.why(), Catch::Contains(std::string(health_name(h))));
    }
}

TEST_CASE("a backup whose own gatewayd is sick does not take over from a sick active", "[pair]") {
    machine m = backup_one();
    CHECK(m.tick(health::hung, t0 + 15ms) == action::none);
    CHECK(m.heard(peer(role::active, 3, health::hung), t0 + 20ms) == action::none);
    CHECK(m.tick(health::hung, t0 + 200ms) == action::none);
    CHECK(m.current() == role::backup);
}

TEST_CASE("an active that hears a higher epoch demotes itself; a lower one is ignored", "[pair]") {
    machine m = active_one();
    CHECK(m.heard(peer(role::active, 0), t0 + 80ms) == action::none);  // the peer demotes itself
    CHECK(m.current() == role::active);
    CHECK(m.heard(peer(role::taking_over, 2), t0 + 90ms) == action::demote);
    CHECK(m.current() == role::backup);
    CHECK(m.epoch() == 2);
    CHECK(m.counters().demotions == 1);
    CHECK(m.counters().split_brains == 0);
    // It stays the backup: no pre-emption.
    CHECK(m.heard(peer(role::active, 2), t0 + 100ms) == action::none);
    CHECK(m.tick(health::up, t0 + 105ms) == action::none);
    CHECK(m.current() == role::backup);
}

TEST_CASE("split brain at one epoch: the higher priority stays active, then the lower address", "[pair]") {
    SECTION("the peer wins on address at equal priority") {
        machine m = active_one();
        auto p = peer(role::active, 1);
        p.address = me - 1;
        CHECK(m.heard(p, t0 + 80ms) == action::demote);
        CHECK(m.counters().split_brains == 1);
    }
    SECTION("this side wins on address") {
        machine m = active_one();
        CHECK(m.heard(peer(role::active, 1), t0 + 80ms) == action::none);
        CHECK(m.current() == role::active);
    }
    SECTION("the peer wins on priority") {
        machine m = active_one();
        CHECK(m.heard(peer(role::active, 1, health::up, 200), t0 + 80ms) == action::demote);
    }
}

TEST_CASE("two backups with nobody active: the winner takes over, the other waits", "[pair]") {
    machine low = make(50), high = make(150);
    CHECK(low.tick(health::up, t0 + 10ms) == action::none);
    CHECK(low.heard(peer(role::starting, 0, health::up, 150), t0 + 20ms) == action::none);
    CHECK(low.tick(health::up, t0 + 60ms) == action::none);  // the peer is alive and wins
    CHECK(low.current() == role::backup);
    CHECK(high.heard(peer(role::backup, 0, health::up, 50), t0 + 20ms) == action::none);
    CHECK(high.tick(health::up, t0 + 60ms) == action::take_over);
}

TEST_CASE("a backup takes over from a backup peer that cannot forward", "[pair]") {
    machine m = make(50);
    CHECK(m.heard(peer(role::backup, 0, health::down, 150), t0 + 40ms) == action::none);
    CHECK(m.tick(health::up, t0 + 50ms) == action::take_over);
    CHECK_THAT(m.why(), Catch::Contains("cannot forward"));
}

TEST_CASE("switchover: the active hands over, forwards until the backup is active, then demotes", "[pair]") {
    machine a = active_one();
    CHECK(a.switchover(t0 + 80ms) == std::optional<std::string>("the peer is not heard: nobody to hand over to"));
    CHECK(a.heard(peer(role::backup, 1, health::hung), t0 + 90ms) == action::none);
    CHECK_THAT(a.switchover(t0 + 91ms).value_or(""), Catch::Contains("hung"));
    CHECK(a.heard(peer(role::backup, 1), t0 + 100ms) == action::none);
    CHECK_FALSE(a.switchover(t0 + 101ms).has_value());
    CHECK(a.handing_over());
    CHECK(a.counters().switchovers == 1);

    // The backup sees the handover and takes over.
    machine b = make();
    CHECK(b.heard(peer(role::active, 1, health::up, 100, true), t0 + 5ms) == action::demote);  // from starting
    CHECK(b.tick(health::up, t0 + 10ms) == action::take_over);
    CHECK(b.epoch() == 2);
    CHECK(b.planned());  // the old active still forwards: the restore catches up after

    // The old active keeps forwarding while the backup takes over, then demotes.
    CHECK(a.heard(peer(role::taking_over, 2), t0 + 120ms) == action::none);
    CHECK(a.current() == role::active);
    CHECK(a.heard(peer(role::active, 2), t0 + 160ms) == action::demote);
    CHECK(a.current() == role::backup);
    CHECK_FALSE(a.handing_over());
}

TEST_CASE("a switchover the backup does not take is called off", "[pair]") {
    machine a = active_one();
    CHECK(a.heard(peer(role::backup, 1), t0 + 100ms) == action::none);
    REQUIRE_FALSE(a.switchover(t0 + 100ms).has_value());
    CHECK(a.heard(peer(role::backup, 1), t0 + 3000ms) == action::none);
    CHECK(a.tick(health::up, t0 + 3101ms) == action::none);
    CHECK_FALSE(a.handing_over());
    CHECK(a.current() == role::active);
    CHECK_THAT(a.why(), Catch::Contains("called off"));
}

TEST_CASE("only the active hands over", "[pair]") {
    machine b = backup_one();
    CHECK_THAT(b.switchover(t0 + 20ms).value_or(""), Catch::Contains("backup"));
}

TEST_CASE("a takeover that fails is tried again; one demoted meanwhile is not", "[pair]") {
    machine m = make();
    REQUIRE(m.tick(health::up, t0 + 60ms) == action::take_over);
    CHECK(m.taken_over(false, t0 + 70ms) == action::none);
    CHECK(m.current() == role::taking_over);  // controld tries the restore again
    CHECK(m.heard(peer(role::active, 5), t0 + 80ms) == action::demote);
    CHECK(m.taken_over(true, t0 + 90ms) == action::none);
    CHECK(m.current() == role::backup);
}

TEST_CASE("pre-emption: off by default; when set, a recovered gateway that wins is handed the active role once",
          "[pair][preempt]") {
    struct row {
        const char* what;
        milliseconds delay;
        std::optional<milliseconds> flip;  ///< when the winner becomes active; none: never
    };
    const row rows[] = {
        {"off: the winner stays the backup", 0ms, std::nullopt},
        // b is first heard as a healthy backup at 100 ms.
        {"after one second", 1000ms, 1100ms},
        {"after ten seconds", 10000ms, 10100ms},
    };
    for (const row& r : rows) {
        INFO(r.what);
        side a{machine({me, 50, 50ms, 3000ms, r.delay}, t0), me, 50};
        CHECK(a.m.tick(health::up, t0 + 60ms) == action::take_over);
        a.m.taken_over(true, t0 + 70ms);
        REQUIRE(a.m.current() == role::active);
        // The primary recovers: it comes back as the backup, whatever its priority.
        side b{machine({other, 150, 50ms, 3000ms, r.delay}, t0 + 100ms), other, 150};
        for (milliseconds t = 100ms; t <= 60s; t += 10ms) {
            exchange(a, b, t0 + t);
            const bool flipped = r.flip && t >= *r.flip;
            INFO("at " << t.count() << " ms");
            REQUIRE(a.m.current() == (flipped ? role::backup : role::active));
            REQUIRE(b.m.current() == (flipped ? role::active : role::backup));
        }
        CHECK(a.m.counters().preemptions == (r.flip ? 1 : 0));
        CHECK(a.m.counters().switchovers == 0);
        CHECK(a.m.counters().demotions == (r.flip ? 1 : 0));
        // No flip-back: the new active never finds the old one winning.
        CHECK(b.m.counters().preemptions == 0);
        CHECK(b.m.counters().takeovers == (r.flip ? 1 : 0));
        if (r.flip) CHECK(b.m.planned());  // by the zero-loss handover, as `ha switchover`
    }
}

TEST_CASE("pre-emption hands over like `ha switchover`, and says why", "[pair][preempt]") {
    machine a = active_one(1000ms);
    const auto winner = peer(role::backup, 1, health::up, 200);
    for (milliseconds t = 100ms; t < 1100ms; t += 10ms) {
        CHECK(a.heard(winner, t0 + t) == action::none);
        CHECK(a.tick(health::up, t0 + t + 5ms) == action::none);
        REQUIRE_FALSE(a.handing_over());
    }
    CHECK(a.heard(winner, t0 + 1100ms) == action::none);  // the heartbeat alone starts nothing: ticks do
    CHECK_FALSE(a.handing_over());
    CHECK(a.tick(health::up, t0 + 1100ms) == action::none);
    CHECK(a.handing_over());
    CHECK(a.current() == role::active);  // it forwards until the peer is active
    CHECK(a.counters().preemptions == 1);
    CHECK(a.counters().switchovers == 0);
    CHECK(a.why() == "pre-emption: peer 198.18.0.4 wins and was a healthy backup for 1000 ms: asked it to take over");
    // The peer takes over, and is active: this side demotes.
    CHECK(a.heard(peer(role::taking_over, 2, health::up, 200), t0 + 1110ms) == action::none);
    CHECK(a.heard(peer(role::active, 2, health::up, 200), t0 + 1150ms) == action::demote);
    CHECK(a.current() == role::backup);
}

TEST_CASE("a pre-emption the peer does not take is called off, and the wait begins again", "[pair][preempt]") {
    machine a = active_one(1000ms);
    const auto winner = peer(role::backup, 1, health::up, 200);
    int handovers = 0;
    bool before = false;
    for (milliseconds t = 100ms; t <= 6000ms; t += 10ms) {
        a.heard(winner, t0 + t);  // it never takes over
        a.tick(health::up, t0 + t);
        if (a.handing_over() && !before) {
            ++handovers;
            // at 1.1 s, called off at 4.1 s (handover_wait), then 1 s later
            CHECK(t == (handovers == 1 ? 1100ms : 5100ms));
        }
        before = a.handing_over();
    }
    CHECK(handovers == 2);
    CHECK(a.counters().preemptions == 2);
    CHECK(a.current() == role::active);
}

TEST_CASE("pre-emption's wait begins again when the peer drops out or is unhealthy, or this side is",
          "[pair][preempt]") {
    const auto winner = peer(role::backup, 1, health::up, 200);
    struct row {
        const char* what;
        std::optional<peer_state> heard;  ///< from 710 to 770 ms; none: nothing heard
        health own;                       ///< this side's, meanwhile
        bool tick;                        ///< whether this side ticks meanwhile
    };
    const row rows[] = {
        {"the peer silent past the dead time", std::nullopt, health::up, true},
        {"the peer silent, and no tick meanwhile", std::nullopt, health::up, false},
        {"the peer's gatewayd hung", peer(role::backup, 1, health::hung, 200), health::up, true},
        {"the peer's gatewayd down", peer(role::backup, 1, health::down, 200), health::up, true},
        {"the peer restarting", peer(role::starting, 0, health::up, 200), health::up, true},
        {"this side's gatewayd hung", winner, health::hung, true},
    };
    for (const row& r : rows) {
        INFO(r.what);
        machine a = active_one(1000ms);
        for (milliseconds t = 100ms; t <= 3000ms; t += 10ms) {
            const bool broken = t > 700ms && t < 780ms;
            if (!broken || r.heard) CHECK(a.heard(broken ? *r.heard : winner, t0 + t) == action::none);
            if (!broken || r.tick) CHECK(a.tick(broken ? r.own : health::up, t0 + t) == action::none);
            INFO("at " << t.count() << " ms");
            REQUIRE(a.handing_over() == (t >= 1780ms));  // a whole delay from 780 ms on, not from 100 ms
        }
        CHECK(a.counters().preemptions == 1);
    }
}

TEST_CASE("no pre-emption of a peer that does not win the tie-break", "[pair][preempt]") {
    struct row {
        const char* what;
        std::uint8_t priority;
        cg::common::ipv4_addr address;
        bool preempts;
    };
    const row rows[] = {
        {"higher priority", 101, other, true},
        {"same priority, lower address", 100, me - 1, true},
        {"same priority, higher address", 100, other, false},
        {"lower priority, lower address", 99, me - 1, false},
        {"same priority, same address (refused by the config)", 100, me, false},
    };
    for (const row& r : rows) {
        INFO(r.what);
        machine a = active_one(1000ms);
        auto p = peer(role::backup, 1, health::up, r.priority);
        p.address = r.address;
        for (milliseconds t = 100ms; t <= 5000ms; t += 10ms) {
            a.heard(p, t0 + t);
            a.tick(health::up, t0 + t);
        }
        CHECK(a.counters().preemptions == (r.preempts ? 1 : 0));
        CHECK(a.current() == role::active);
    }
}

TEST_CASE("role and health names", "[pair]") {
    CHECK(role_name(role::taking_over) == "taking_over");
    CHECK(role_name(role::active) == "active");
    CHECK(health_name(health::hung) == "hung");
}

TEST_CASE("a gateway told it was replaced is retired: demoted, and never takes over again", "[pair]") {
    for (machine m : {active_one(), backup_one()}) {
        peer_state told = peer(role::active, 4);
        told.retire = true;
        CHECK(m.heard(told, t0 + 100ms) == action::demote);
        CHECK(m.current() == role::retired);
        CHECK_FALSE(m.may_forward());
        CHECK(m.counters().retirements == 1);
        CHECK(m.why().find("retired") != std::string::npos);
        // The peer falls silent, this gatewayd is healthy: still nothing.
        CHECK(m.tick(health::up, t0 + 1s) == action::none);
        CHECK(m.heard(peer(role::backup, 4, health::down), t0 + 2s) == action::none);
        CHECK(m.tick(health::up, t0 + 3s) == action::none);
        CHECK(m.current() == role::retired);
        CHECK(m.switchover(t0 + 3s));  // refused
    }
}
