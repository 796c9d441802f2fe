// Two pair peers over loopback, real UDP sockets and timers: one becomes
// active and the other its backup; the backup takes over when the active
// stops; forged, replayed and foreign datagrams are refused and counted,
// and never move a role.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "control/controld/pair/pair_peer.hpp"

using namespace cg::control;
using namespace cg::control::pair;
using namespace std::chrono_literals;
namespace asio = boost::asio;

namespace {

std::uint16_t base_port() { return static_cast<std::uint16_t>(20000 + ::getpid() % 20000); }

struct key_file {
    std::string path = fmt::format("/tmp/cg-pair-test-{}.key", ::getpid());
    key_file() { std::ofstream(path) << std::string(32, 'k') << "\n"; }
    ~key_file() { std::filesystem::remove(path); }
};

cg::common::pair_cfg cfg(const key_file& k, int self, int other) {
    cg::common::pair_cfg c;
    c.listen = fmt::format("127.0.0.{}:{}", self, base_port() + self);
    c.peer = fmt::format("127.0.0.{}:{}", other, base_port() + other);
    c.key_file = k.path;
    c.interval = 5ms;
    c.dead_time = 40ms;
    c.rt_priority = 0;  // not the test runner's whole process
    return c;
}

struct side {
    std::vector<action> actions;
    std::unique_ptr<pair_peer> peer;
    side(asio::io_context& io, const cg::common::pair_cfg& c) {
        peer = std::make_unique<pair_peer>(io, c, [] { return pair_peer::local{health::up, "forwarding", 7}; },
                                           [this](action a) {
                                               actions.push_back(a);
                                               // controld's restore takes a while; here it is at once
                                               if (a == action::take_over) peer->taken_over(true);
                                           });
        peer->start();
    }
};

void run_for(asio::io_context& io, std::chrono::milliseconds d) {
    io.restart();
    io.run_for(d);
}

std::uint64_t counter(const cg::common::api::ha_rep& v, std::string_view name) {
    for (const auto& c : v.counters)
        if (c.name == name) return c.value;
    FAIL("no counter " << name);
    return 0;
}

/// Sends raw bytes to `to` from 127.0.0.<from_host>.
void send_raw(const std::vector<std::uint8_t>& bytes, const cg::common::pair_cfg& to, int from_host) {
    asio::io_context io;
    asio::ip::udp::socket s(io, asio::ip::udp::endpoint(asio::ip::make_address_v4(fmt::format("127.0.0.{}", from_host)), 0));
    const auto ep = cg::common::parse_endpoint(to.listen);
    s.send_to(asio::buffer(bytes), asio::ip::udp::endpoint(asio::ip::address_v4(ep->address), ep->port));
}

}  // namespace

TEST_CASE("two peers settle as active and backup; the backup takes over when the active stops", "[pair][udp]") {
    key_file k;
    asio::io_context io;
    const auto ca = cfg(k, 1, 2), cb = cfg(k, 2, 1);
    auto a = std::make_unique<side>(io, ca);
    side b(io, cb);
    run_for(io, 300ms);
    // 127.0.0.1 wins the tie-break (equal priority, lower address).
    CHECK(a->peer->state().current() == role::active);
    CHECK(b.peer->state().current() == role::backup);
    CHECK(b.peer->state().epoch() == a->peer->state().epoch());
    const auto va = a->peer->view();
    CHECK(va.peer_alive);
    CHECK(va.peer_role == "backup");
    CHECK(va.peer_conns == 7);
    CHECK(counter(va, "heartbeats_received") > 20);
    CHECK(counter(va, "takeovers") == 1);
    CHECK(counter(va, "preemptions") == 0);
    CHECK(counter(b.peer->view(), "takeovers") == 0);

    const auto epoch = a->peer->state().epoch();
    a.reset();  // the active's controld is gone
    run_for(io, 200ms);
    CHECK(b.peer->state().current() == role::active);
    CHECK(b.peer->state().epoch() == epoch + 1);
    CHECK_FALSE(b.peer->view().peer_alive);
    CHECK(counter(b.peer->view(), "takeovers") == 1);

    // It comes back: as the backup, at the new epoch.
    side again(io, ca);
    run_for(io, 300ms);
    CHECK(again.peer->state().current() == role::backup);
    CHECK(again.peer->state().epoch() == epoch + 1);
    CHECK(b.peer->state().current() == role::active);
}

TEST_CASE("with preempt_delay, a gateway of higher priority that comes back is handed the active role", "[pair][udp]") {
    key_file k;
    asio::io_context io;
    auto ca = cfg(k, 5, 6), cb = cfg(k, 6, 5);
    // Slower than the other cases: b must hear a within a dead time of its
    // start, or it takes over itself; a sanitizer's build on a busy
    // machine has missed 40 ms.
    ca.interval = cb.interval = 10ms;
    ca.dead_time = cb.dead_time = 150ms;
    ca.preempt_delay = cb.preempt_delay = 1000ms;
    cb.priority = 200;
    side a(io, ca);
    run_for(io, 300ms);
    REQUIRE(a.peer->state().current() == role::active);  // alone
    side b(io, cb);
    run_for(io, 400ms);
    CHECK(b.peer->state().current() == role::backup);  // it comes back as the backup
    CHECK(a.peer->state().current() == role::active);
    run_for(io, 1200ms);
    CHECK(b.peer->state().current() == role::active);
    CHECK(b.peer->state().planned());
    CHECK(a.peer->state().current() == role::backup);
    CHECK(counter(a.peer->view(), "preemptions") == 1);
    CHECK(counter(a.peer->view(), "switchovers") == 0);
}

TEST_CASE("forged, replayed and foreign heartbeats are refused, counted, and move nothing", "[pair][udp]") {
    key_file k;
    asio::io_context io;
    const auto cb = cfg(k, 4, 3);  // its peer 127.0.0.3 never runs
    side b(io, cb);
    run_for(io, 100ms);
    REQUIRE(b.peer->state().current() == role::active);  // nobody heard: it took over
    const auto epoch = b.peer->state().epoch();

    const agent::key right(32, 'k'), wrong(32, 'x');
    const cg::common::ipv4_addr peer_ip = 0x7f000003;
    const auto now_ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                       std::chrono::system_clock::now().time_since_epoch())
                                                       .count());
    // A higher epoch would demote it, if it were believed.
    const agent::heartbeat usurper{epoch + 10, static_cast<std::uint8_t>(role::active), 1, 200, false, 0};
    send_raw(agent::seal({peer_ip, 1, now_ms, usurper}, wrong), cb, 3);                  // another key
    send_raw(agent::seal({0x7f000009, 1, now_ms, usurper}, right), cb, 9);               // not the peer
    send_raw(agent::seal({peer_ip, 1, now_ms - 3'600'000, usurper}, right), cb, 3);      // an old one
    send_raw(agent::seal({peer_ip, 2, now_ms, agent::host_report{}}, right), cb, 3);     // not a heartbeat
    agent::heartbeat strange = usurper;
    strange.role = 9;
    send_raw(agent::seal({peer_ip, 3, now_ms, strange}, right), cb, 3);                  // no such role
    auto cut = agent::seal({peer_ip, 4, now_ms, usurper}, right);
    cut.resize(cut.size() - 5);
    send_raw(cut, cb, 3);                                                                 // truncated
    run_for(io, 100ms);

    const auto v = b.peer->view();
    CHECK(counter(v, "heartbeats_refused_bad_mac") == 1);
    CHECK(counter(v, "heartbeats_refused_unknown_peer") == 1);
    CHECK(counter(v, "heartbeats_refused_clock_skew") == 1);
    CHECK(counter(v, "heartbeats_wrong_type") == 1);
    CHECK(counter(v, "heartbeats_bad_fields") == 1);
    CHECK(counter(v, "heartbeats_refused_truncated") == 1);
    CHECK(counter(v, "heartbeats_received") == 0);
    CHECK(b.peer->state().current() == role::active);
    CHECK(b.peer->state().epoch() == epoch);

    // A real one from the peer, then the same bytes again: the copy is refused.
    const agent::heartbeat backup{epoch, static_cast<std::uint8_t>(role::backup), 1, 100, false, 0};
    const auto real = agent::seal({peer_ip, 10, now_ms, backup}, right);
    send_raw(real, cb, 3);
    send_raw(real, cb, 3);
    run_for(io, 50ms);
    CHECK(counter(b.peer->view(), "heartbeats_received") == 1);
    CHECK(counter(b.peer->view(), "heartbeats_refused_replayed") == 1);
    CHECK(b.peer->view().peer_role == "backup");
}

TEST_CASE("read_heartbeat takes our roles and healths, nothing else", "[pair]") {
    agent::heartbeat h{3, 3, 2, 9, true, 5};
    const auto p = read_heartbeat(0x01020304, h);
    REQUIRE(p);
    CHECK(p->r == role::active);
    CHECK(p->h == health::hung);
    CHECK(p->epoch == 3);
    CHECK(p->handover);
    h.health = 3;
    CHECK_FALSE(read_heartbeat(0, h));
    h.health = 0;
    h.role = 4;
    CHECK(read_heartbeat(0, h)->r == role::retired);
    h.role = 5;
    CHECK_FALSE(read_heartbeat(0, h));
    h.role = 3;
    h.retire = true;
    CHECK(read_heartbeat(0, h)->retire);
}

TEST_CASE("a pair peer gone with its heartbeat's completion still queued touches nothing of itself", "[pair][udp]") {
    // A UDP send completes at once, its handler later: destroyed right after
    // start() (which sends), the peer must leave that handler nothing to
    // write into (under AddressSanitizer, a heap-use-after-free otherwise).
    const key_file k;
    asio::io_context io;
    for (int i = 0; i < 20; ++i) {
        auto s = std::make_unique<side>(io, cfg(k, 1, 2));  // binds the same port each time: the last one let it go
        s.reset();
        run_for(io, 1ms);
    }
    side last(io, cfg(k, 1, 2));
    run_for(io, 20ms);
    CHECK(counter(last.peer->view(), "heartbeats_sent") > 0);
}

namespace {

std::string read_file(const std::string& path) {
    std::ifstream f(path);
    std::string s;
    std::getline(f, s);
    return s;
}

/// Runs `io` until `path` exists (a pool host's start command ran), at most `limit`.
/// A command that writes the file renames it into place: the shell's
/// redirection creates a file before it writes to it.
bool run_until_file(asio::io_context& io, const std::string& path, std::chrono::milliseconds limit) {
    for (auto waited = 0ms; waited < limit; waited += 10ms) {
        run_for(io, 10ms);
        if (std::filesystem::exists(path)) return true;
    }
    return false;
}

}  // namespace

TEST_CASE("auto-heal: the active's peer dead, a pool host is started and joins as the backup; the old one is retired",
          "[pair][udp][heal]") {
    key_file k;
    asio::io_context io;
    const std::string started = fmt::format("/tmp/cg-heal-test-{}", ::getpid());
    std::filesystem::remove(started);
    const auto ca = cfg(k, 11, 12);
    auto cb = cfg(k, 12, 11);
    const auto cc = cfg(k, 13, 12);  // the pool host's own configuration: its peer is b
    cb.heal_after = 100ms;
    cb.heal_timeout = 2s;
    // A first pool host whose start fails, then the one that works.
    cb.pool = {{fmt::format("127.0.0.14:{}", base_port() + 14), "echo no such host >&2; exit 3"},
               {cc.listen, fmt::format("echo {{peer}} {{failed}} > {0}.tmp && mv {0}.tmp {0}", started)}};
    auto a = std::make_unique<side>(io, ca);
    side b(io, cb);
    run_for(io, 300ms);
    REQUIRE(b.peer->state().current() == role::backup);
    CHECK(counter(b.peer->view(), "heals_started") == 0);  // the peer lives: nothing to heal

    a.reset();  // the whole active instance dead
    REQUIRE(run_until_file(io, started, 3s));
    CHECK(b.peer->state().current() == role::active);
    const auto v = b.peer->view();
    CHECK(counter(v, "heals_started") == 2);
    CHECK(counter(v, "heal_failures") == 1);
    CHECK(read_file(started) == fmt::format("{} 127.0.0.11", cb.listen));  // {peer} and {failed}

    side c(io, cc);  // what the command would have started
    run_for(io, 300ms);
    CHECK(c.peer->state().current() == role::backup);
    CHECK(b.peer->state().current() == role::active);
    const auto healed = b.peer->view();
    CHECK(healed.peer == cg::common::parse_endpoint(cc.listen)->address);
    CHECK(healed.peer_alive);
    CHECK(healed.peer_role == "backup");
    CHECK(counter(healed, "heals_done") == 1);
    CHECK(counter(healed, "peer_changes") == 1);
    CHECK(healed.heal.find("joined in place of 127.0.0.11") != std::string::npos);
    CHECK(counter(c.peer->view(), "takeovers") == 0);

    // The old active comes back: it is told it was replaced, and stays out.
    side old(io, ca);
    run_for(io, 300ms);
    CHECK(old.peer->state().current() == role::retired);
    CHECK(std::count(old.actions.begin(), old.actions.end(), action::take_over) == 0);
    CHECK(counter(old.peer->view(), "retirements") == 1);
    CHECK(counter(b.peer->view(), "heartbeats_from_replaced") > 0);
    CHECK(b.peer->state().current() == role::active);
    CHECK(c.peer->state().current() == role::backup);

    // And the healed pair works: b gone, c takes over; the retired one does not.
    const auto epoch = b.peer->state().epoch();
    // b is a local of the test: stop it by destroying its peer.
    b.peer.reset();
    run_for(io, 300ms);
    CHECK(c.peer->state().current() == role::active);
    CHECK(c.peer->state().epoch() == epoch + 1);
    CHECK(old.peer->state().current() == role::retired);
    std::filesystem::remove(started);
}

TEST_CASE("auto-heal waits while the peer is only restarting, and never starts from a backup", "[pair][udp][heal]") {
    key_file k;
    asio::io_context io;
    const std::string started = fmt::format("/tmp/cg-heal-test2-{}", ::getpid());
    std::filesystem::remove(started);
    const auto ca = cfg(k, 21, 22);
    auto cb = cfg(k, 22, 21);
    cb.heal_after = 1s;
    cb.pool = {{fmt::format("127.0.0.23:{}", base_port() + 23), fmt::format("touch {}", started)}};
    auto a = std::make_unique<side>(io, ca);
    side b(io, cb);
    run_for(io, 300ms);
    REQUIRE(b.peer->state().current() == role::backup);
    a.reset();
    run_for(io, 300ms);  // silent 300 ms of the 1 s: b has taken over, and waits
    CHECK(b.peer->state().current() == role::active);
    CHECK(counter(b.peer->view(), "heals_started") == 0);
    a = std::make_unique<side>(io, ca);  // back in time (as a PH2.5 restart would be)
    run_for(io, 1500ms);
    CHECK(a->peer->state().current() == role::backup);
    CHECK(counter(b.peer->view(), "heals_started") == 0);
    CHECK_FALSE(std::filesystem::exists(started));
}

TEST_CASE("auto-heal of its own instance: a gateway leaves the pair and a pool host becomes its peer's backup",
          "[pair][udp][heal]") {
    key_file k;
    asio::io_context io;
    const std::string started = fmt::format("/tmp/cg-heal-test3-{}", ::getpid());
    std::filesystem::remove(started);
    auto ca = cfg(k, 31, 32);
    auto cb = cfg(k, 32, 31);
    const auto cc = cfg(k, 33, 31);  // the pool host's: its peer is a
    cb.pool = {{cc.listen, fmt::format("echo {{peer}} {{failed}} > {0}.tmp && mv {0}.tmp {0}", started)}};
    ca.pool = cb.pool;  // the same pool on both: a takes c's heartbeats
    side a(io, ca);
    side b(io, cb);
    run_for(io, 300ms);
    REQUIRE(b.peer->state().current() == role::backup);

    CHECK(b.peer->leave_for_pool("10 deaths in a row"));
    CHECK(b.peer->state().current() == role::retired);
    CHECK_FALSE(b.peer->leave_for_pool("again"));  // once
    REQUIRE(run_until_file(io, started, 2s));
    CHECK(read_file(started) == fmt::format("{} 127.0.0.32", ca.listen));
    CHECK_FALSE(a.peer->view().peer_alive);  // b fell silent before the pool host was started

    side c(io, cc);
    run_for(io, 300ms);
    CHECK(a.peer->state().current() == role::active);
    CHECK(c.peer->state().current() == role::backup);
    const auto v = a.peer->view();
    CHECK(v.peer == cg::common::parse_endpoint(cc.listen)->address);
    CHECK(counter(v, "peer_changes") == 1);
    CHECK(counter(a.peer->view(), "heartbeats_from_replaced") == 0);  // b is silent for good
    CHECK(b.peer->state().current() == role::retired);
    CHECK(counter(b.peer->view(), "heals_started") == 1);
    std::filesystem::remove(started);
}

TEST_CASE("auto-heal: a pool host started but never heard within heal_timeout is given up for the next",
          "[pair][udp][heal]") {
    key_file k;
    asio::io_context io;
    const std::string started = fmt::format("/tmp/cg-heal-test4-{}", ::getpid());
    std::filesystem::remove(started);
    const auto ca = cfg(k, 41, 42);
    auto cb = cfg(k, 42, 41);
    cb.heal_after = 100ms;
    cb.heal_timeout = 300ms;
    cb.pool = {{fmt::format("127.0.0.43:{}", base_port() + 43), "true"},  // starts nothing that speaks
               {fmt::format("127.0.0.44:{}", base_port() + 44), fmt::format("touch {}", started)}};
    auto a = std::make_unique<side>(io, ca);
    side b(io, cb);
    run_for(io, 300ms);
    REQUIRE(b.peer->state().current() == role::backup);
    a.reset();
    run_for(io, 250ms);  // the first host started, its start command done, nobody heard
    CHECK(counter(b.peer->view(), "heals_started") == 1);
    CHECK(counter(b.peer->view(), "heal_failures") == 0);
    CHECK_FALSE(std::filesystem::exists(started));
    REQUIRE(run_until_file(io, started, 2s));
    CHECK(counter(b.peer->view(), "heals_started") == 2);
    CHECK(counter(b.peer->view(), "heal_failures") == 1);
    std::filesystem::remove(started);
}
