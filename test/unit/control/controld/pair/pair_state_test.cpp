// The gateway pair's state machine: every transition, split brain by
// epochs, a half-failed peer, switchover, and the tie-break.
#include <catch2/catch.hpp>

#include "control/controld/pair/pair_state.hpp"

using namespace cg::control::pair;
using namespace std::chrono_literals;

namespace {

const cg::common::ipv4_addr me = 0xc6120003, other = 0xc6120004;  // 198.18.0.3, .4
const clock::time_point t0{};

machine make(std::uint8_t priority = 100) { return machine({me, priority, 50ms, 3000ms}, t0); }

peer_state peer(role r, std::uint64_t epoch, health h = health::up, std::uint8_t priority = 100, bool handover = false) {
    return {other, r, epoch, h, priority, handover, 0};
}

/// A machine that took over at t0+60ms (no peer heard) and is active at epoch 1.
machine active_one() {
    machine m = make();
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

TEST_CASE("role and health names", "[pair]") {
    CHECK(role_name(role::taking_over) == "taking_over");
    CHECK(role_name(role::active) == "active");
    CHECK(health_name(health::hung) == "hung");
}
