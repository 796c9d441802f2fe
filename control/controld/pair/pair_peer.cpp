#include "control/controld/pair/pair_peer.hpp"

#include <sched.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "common/log.hpp"
#include "control/controld/manager/run_command.hpp"

namespace cg::control::pair {

namespace asio = boost::asio;
namespace capi = common::api;
namespace log = common::log;

namespace {

std::uint64_t wall_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count());
}

asio::ip::udp::endpoint endpoint_of(const std::string& text, std::string_view key) {
    const auto ep = common::parse_endpoint(text);
    if (!ep) throw std::runtime_error(fmt::format("manager.pair.{}: not address:port: '{}'", key, text));
    return {asio::ip::address_v4(ep->address), ep->port};
}

bool power_of_two(std::uint64_t n) { return n != 0 && (n & (n - 1)) == 0; }

}  // namespace

std::optional<peer_state> read_heartbeat(common::ipv4_addr from, const agent::heartbeat& h) {
    if (h.role >= role_count || h.health >= health_count) return std::nullopt;
    return peer_state{from, static_cast<role>(h.role), h.epoch, static_cast<health>(h.health), h.priority, h.handover,
                      h.conns, h.retire};
}

pair_peer::pair_peer(asio::io_context& io, const common::pair_cfg& cfg, std::function<local()> local_state,
                     action_handler on_action)
    : _io(io),
      _cfg(cfg),
      _local(std::move(local_state)),
      _on_action(std::move(on_action)),
      _key(agent::load_key(cfg.key_file)),
      _socket(io),
      _timer(io),
      _receiver(_key, static_cast<std::uint64_t>(cfg.max_skew.count())),
      _machine({.address = common::parse_endpoint(cfg.listen) ? common::parse_endpoint(cfg.listen)->address : 0,
                .priority = cfg.priority,
                .dead_time = cfg.dead_time,
                .preempt_delay = cfg.preempt_delay},
               clock::now()),
      // A restarted controld goes on above what its last run sent: its
      // first seq is the wall clock in microseconds.
      _seq(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count())) {
    const auto listen = endpoint_of(cfg.listen, "listen");
    _peer = endpoint_of(cfg.peer, "peer");
    _self = listen.address().to_v4().to_uint();
    _peer_ip = _peer.address().to_v4().to_uint();
    _receiver.allow(_peer_ip);
    for (const auto& h : cfg.pool) {
        _pool.push_back(endpoint_of(h.address, "pool").address().to_v4().to_uint());
        _receiver.allow(_pool.back());
    }
    _began = clock::now();
    boost::system::error_code ec;
    _socket.open(listen.protocol(), ec);
    if (!ec) _socket.bind(listen, ec);
    if (ec) throw std::runtime_error(fmt::format("pair heartbeats on {}: {}", cfg.listen, ec.message()));
}

pair_peer::~pair_peer() { *_alive = false; }

void pair_peer::start() {
    if (_cfg.rt_priority > 0) {
        // SCHED_RESET_ON_FORK: gatewayd, probes and metric commands that
        // controld starts run with normal priority.
        const sched_param sp{_cfg.rt_priority};
        if (::sched_setscheduler(0, SCHED_RR | SCHED_RESET_ON_FORK, &sp) != 0)
            log::warn("pair: no real-time priority {} ({}): a busy machine may delay heartbeats", _cfg.rt_priority,
                      std::strerror(errno));
        else
            log::info("pair: controld runs at real-time priority {} (SCHED_RR)", _cfg.rt_priority);
    }
    log::info("pair: heartbeats from {} to {} every {} ms, peer dead after {} ms, {}", _cfg.listen, _cfg.peer,
              _cfg.interval.count(), _cfg.dead_time.count(),
              _cfg.preempt_delay.count() ? fmt::format("pre-emption after {} ms", _cfg.preempt_delay.count())
                                         : std::string("no pre-emption"));
    receive();
    beat();
}

void pair_peer::beat() {
    const auto preemptions = _machine.counters().preemptions;
    act(_machine.tick(_local().own, clock::now()));
    if (_machine.counters().preemptions != preemptions) log::info("pair: {}", _machine.why());
    heal(clock::now());
    send();  // with the handover flag, when the tick began a pre-emption
    _timer.expires_after(_cfg.interval);
    _timer.async_wait([this, alive = _alive](const boost::system::error_code& ec) {
        if (!ec && *alive) beat();
    });
}

void pair_peer::send() {
    if (!_silent) send_to(_peer, false);
}

void pair_peer::send_to(const asio::ip::udp::endpoint& to, bool retire) {
    const local l = _local();
    const agent::heartbeat h{_machine.epoch(),
                             static_cast<std::uint8_t>(_machine.current()),
                             static_cast<std::uint8_t>(l.own),
                             _cfg.priority,
                             _machine.handing_over(),
                             l.conns,
                             retire};
    auto bytes = std::make_shared<std::vector<std::uint8_t>>(agent::seal({_self, ++_seq, wall_ms(), h}, _key));
    _socket.async_send_to(asio::buffer(*bytes), to,
                          [this, bytes, alive = _alive](const boost::system::error_code& ec, std::size_t) {
        if (!*alive) return;
        // The peer's link down is the normal case of a dead peer: counted, not logged each time.
        ec ? ++_n.send_errors : ++_n.sent;
    });
}

void pair_peer::receive() {
    _socket.async_receive_from(asio::buffer(_buf), _from,
                               [this, alive = _alive](const boost::system::error_code& ec, std::size_t n) {
        if (ec == asio::error::operation_aborted || !*alive) return;
        if (!ec) {
            const common::ipv4_addr from = _from.address().is_v4() ? _from.address().to_v4().to_uint() : 0;
            auto r = _receiver.accept(std::span(_buf).first(n), from, wall_ms());
            if (auto* e = std::get_if<agent::envelope>(&r)) {
                const auto* h = std::get_if<agent::heartbeat>(&e->body);
                const auto p = h ? read_heartbeat(e->sender, *h) : std::nullopt;
                if (!h) {
                    ++_n.wrong_type;
                } else if (!p) {
                    ++_n.bad_fields;
                } else if (e->sender != _peer_ip && !take_as_peer(e->sender, clock::now())) {
                    // Another pair member while the peer lives: one that was
                    // replaced, or a second start from the pool. Tell it.
                    if (_machine.current() != role::retired) {
                        ++_n.retired_heard;
                        send_to(_from, true);
                    }
                } else {
                    ++_n.received;
                    const role before = _machine.current();
                    act(_machine.heard(*p, clock::now()));
                    if (before != _machine.current()) send();  // tell the peer at once
                }
            } else {
                const auto& why = std::get<agent::refused>(r);
                if (power_of_two(_receiver.count(why.why)))
                    log::warn("pair: datagram from {} refused: {}: {} ({} so far)", _from.address().to_string(),
                              agent::refusal_name(why.why), why.detail, _receiver.count(why.why));
            }
        }
        receive();
    });
}

bool pair_peer::take_as_peer(common::ipv4_addr from, clock::time_point now) {
    if (_machine.peer_alive(now) || _machine.current() == role::retired) return false;
    const std::string old = common::format_ipv4(_peer_ip);
    _peer = _from;
    _peer_ip = from;
    ++_n.peer_changes;
    std::string how = "it was heard first while the peer was dead";
    if (_heal && _pool[_heal->host] == from) {
        const auto ms = std::chrono::duration_cast<milliseconds>(now - _heal->started).count();
        _n.last_heal_ms = static_cast<std::uint64_t>(ms);
        ++_n.heals_done;
        how = fmt::format("started by auto-heal {} ms ago", ms);
        _heal.reset();
    }
    _heal_note = fmt::format("{} joined in place of {} ({})", common::format_ipv4(from), old, how);
    log::warn("pair: {} joins as the peer in place of {}: {}", common::format_ipv4(from), old, how);
    return true;
}

std::size_t pair_peer::next_pool_host() {
    std::size_t host = _next_host % _cfg.pool.size();
    for (std::size_t i = 0; i < _cfg.pool.size() && _pool[host] == _peer_ip; ++i) host = (host + 1) % _cfg.pool.size();
    _next_host = host + 1;
    return host;
}

void pair_peer::heal(clock::time_point now) {
    if (_cfg.pool.empty() || _machine.peer_alive(now)) return;
    const role r = _machine.current();
    if (r != role::active && r != role::taking_over) return;  // someone must forward meanwhile: this side
    if (_heal) {
        if (now - _heal->started < _cfg.heal_timeout) return;
        ++_n.heal_failures;
        log::error("pair: auto-heal: pool host {} not heard {} ms after its start; the next one",
                   _cfg.pool[_heal->host].address, _cfg.heal_timeout.count());
        _heal.reset();
    }
    const clock::time_point silent_since = _machine.peer_heard().value_or(_began);
    if (now - silent_since < _cfg.heal_after || now < _retry_at) return;
    const std::size_t host = next_pool_host();  // the dead peer itself, if it is the only one
    const auto silent = std::chrono::duration_cast<milliseconds>(now - silent_since).count();
    start_pool_host(host, _cfg.listen, _peer_ip,
                    fmt::format("peer {} silent for {} ms: its instance is dead", common::format_ipv4(_peer_ip), silent));
}

void pair_peer::start_pool_host(std::size_t host, const std::string& peer, common::ipv4_addr failed, std::string why) {
    _heal = heal_state{host, clock::now()};
    ++_n.heals_started;
    std::string cmd = _cfg.pool[host].start;
    const auto replace = [&cmd](std::string_view word, const std::string& by) {
        for (auto at = cmd.find(word); at != std::string::npos; at = cmd.find(word, at + by.size()))
            cmd.replace(at, word.size(), by);
    };
    replace("{peer}", peer);
    replace("{failed}", common::format_ipv4(failed));
    log::warn("pair: {}; auto-heal: a new gateway on pool host {}: {}", why, _cfg.pool[host].address, cmd);
    _heal_note = fmt::format("started pool host {} ({})", _cfg.pool[host].address, why);
    const std::uint64_t attempt = _n.heals_started;
    run_command(_io, cmd, _cfg.heal_timeout, 4096, [this, alive = _alive, attempt, host](command_result res) {
        if (!*alive || !_heal || _n.heals_started != attempt) return;  // heard meanwhile, or given up
        if (res.ok) {
            log::info("pair: auto-heal: pool host {}'s start command done; waiting for its heartbeats",
                      _cfg.pool[host].address);
            if (_silent) _heal.reset();  // its heartbeats go to the peer, not here
            return;
        }
        ++_n.heal_failures;
        log::error("pair: auto-heal: pool host {}'s start command failed: {}{}", _cfg.pool[host].address, res.why,
                   res.output.empty() ? "" : ": " + res.output.substr(0, 200));
        _heal_note = fmt::format("pool host {}'s start command failed: {}", _cfg.pool[host].address, res.why);
        _heal.reset();
        _retry_at = clock::now() + _cfg.heal_after;
    });
}

bool pair_peer::leave_for_pool(const std::string& why) {
    if (_cfg.pool.empty() || _machine.current() == role::retired) return false;
    const std::size_t host = next_pool_host();
    if (_pool[host] == _peer_ip) return false;  // the only pool host is the peer itself
    _machine.retire(fmt::format("retired: left the pair for pool host {} (auto-heal: {})", _cfg.pool[host].address, why));
    _silent = true;
    log::warn("pair: {}", _machine.why());
    // The pool host's first heartbeat must find this gateway dead to the
    // peer (else the peer tells it it was replaced): start it once the
    // peer has missed two dead times of heartbeats.
    auto wait = std::make_shared<asio::steady_timer>(_io, 2 * _cfg.dead_time + _cfg.interval);
    const std::string peer = fmt::format("{}:{}", _peer.address().to_string(), _peer.port());
    wait->async_wait([this, wait, alive = _alive, host, peer, why](const boost::system::error_code& ec) {
        if (ec || !*alive) return;
        start_pool_host(host, peer, _self, "this gateway's own instance keeps failing (" + why + ")");
    });
    return true;
}

void pair_peer::act(action a) {
    if (a == action::none) return;
    if (a == action::take_over) {
        _takeover_began = clock::now();
        log::warn("pair: taking over at epoch {}: {}", _machine.epoch(), _machine.why());
        send();  // the epoch fences the old active before the takeover is done
    } else {
        log::warn("pair: {} at epoch {}: {}", role_name(_machine.current()), _machine.epoch(), _machine.why());
    }
    _on_action(a);
}

void pair_peer::taken_over(bool ok) {
    const auto now = clock::now();
    const role before = _machine.current();
    act(_machine.taken_over(ok, now));
    if (before == role::taking_over && _machine.current() == role::active && _takeover_began) {
        _n.last_takeover_ms = static_cast<std::uint64_t>(
            std::chrono::duration_cast<milliseconds>(now - *_takeover_began).count());
        log::info("pair: active at epoch {}, {} ms after the takeover began", _machine.epoch(), _n.last_takeover_ms);
        send();
    }
}

std::optional<std::string> pair_peer::switchover() {
    auto err = _machine.switchover(clock::now());
    if (!err) {
        log::info("pair: switchover: asking the backup to take over");
        send();
    }
    return err;
}

capi::ha_rep pair_peer::view() const {
    const auto now = clock::now();
    capi::ha_rep v;
    v.role = std::string(role_name(_machine.current()));
    v.epoch = _machine.epoch();
    const local l = _local();
    v.health = std::string(health_name(l.own));
    v.health_why = l.why;
    v.why = _machine.why();
    v.address = _self;
    v.peer = _peer_ip;
    v.peer_alive = _machine.peer_alive(now);
    if (_cfg.pool.empty())
        v.heal = "no pool (manager.pair.pool)";
    else if (_heal)
        v.heal = fmt::format("{}, {} ms ago", _heal_note,
                             std::chrono::duration_cast<milliseconds>(now - _heal->started).count());
    else
        v.heal = _heal_note.empty() ? fmt::format("{} pool host(s), none started", _cfg.pool.size()) : _heal_note;
    if (const auto& p = _machine.peer()) {
        v.peer_role = std::string(role_name(p->r));
        v.peer_health = std::string(health_name(p->h));
        v.peer_epoch = p->epoch;
        v.peer_conns = p->conns;
        v.peer_heard_ms = static_cast<std::uint64_t>(
            std::chrono::duration_cast<milliseconds>(now - *_machine.peer_heard()).count());
    }
    auto count = [&](std::string name, std::uint64_t value) { v.counters.push_back({std::move(name), value}); };
    const auto& m = _machine.counters();
    count("takeovers", m.takeovers);
    count("demotions", m.demotions);
    count("split_brains", m.split_brains);
    count("switchovers", m.switchovers);
    count("preemptions", m.preemptions);
    count("retirements", m.retirements);
    count("peer_changes", _n.peer_changes);
    count("heals_started", _n.heals_started);
    count("heals_done", _n.heals_done);
    count("heal_failures", _n.heal_failures);
    count("last_heal_ms", _n.last_heal_ms);
    count("heartbeats_from_replaced", _n.retired_heard);
    count("last_takeover_ms", _n.last_takeover_ms);
    count("heartbeats_sent", _n.sent);
    count("heartbeat_send_errors", _n.send_errors);
    count("heartbeats_received", _n.received);
    count("heartbeats_wrong_type", _n.wrong_type);
    count("heartbeats_bad_fields", _n.bad_fields);
    for (std::size_t i = 0; i < agent::refusal_count; ++i) {
        const auto why = static_cast<agent::refusal>(i);
        count(fmt::format("heartbeats_refused_{}", agent::refusal_name(why)), _receiver.count(why));
    }
    return v;
}

}  // namespace cg::control::pair
