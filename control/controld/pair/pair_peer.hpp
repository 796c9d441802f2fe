// This controld's side of the gateway pair on the wire: a UDP socket on the
// internal link, a heartbeat to the peer every interval (agent_msg.hpp's
// signed datagram, under the pair's key), the peer's heartbeats checked
// (MAC, sender, replay, clock skew, fields) and given to the state machine
// (pair_state.hpp), whose actions go to controld through `on_action`.
//
// The heartbeat is sent from a timer on controld's io_context, which never
// blocks (gw_link is asynchronous), so that nothing delays it but the CPU.
//
// Thread-safety: none; controld's io_context.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/config.hpp"
#include "common/ctl_msg.hpp"
#include "control/controld/pair/pair_state.hpp"
#include "control/proto/agent_msg.hpp"

namespace cg::control::pair {

/// A heartbeat's fields as the state machine takes them, or why not (its
/// role or health is not one of ours).
std::optional<peer_state> read_heartbeat(common::ipv4_addr from, const agent::heartbeat& h);

class pair_peer {
public:
    /// What this gateway tells its peer besides the machine's state.
    struct local {
        health own = health::down;
        std::string why;  ///< of `own`
        std::uint64_t conns = 0;
    };
    using action_handler = std::function<void(action)>;

    /// Throws std::runtime_error when the key cannot be read or the socket
    /// not bound.
    pair_peer(boost::asio::io_context& io, const common::pair_cfg& cfg, std::function<local()> local_state,
              action_handler on_action);
    ~pair_peer();

    void start();
    /// The takeover that an action::take_over asked for ended.
    void taken_over(bool ok);
    std::optional<std::string> switchover();
    /// Auto-heal of this gateway's own instance (the ladder's last rung):
    /// it leaves the pair for good (retired, its heartbeats stop) and, once
    /// the peer has had time to count it dead, starts a pool host as the
    /// peer's new backup. False without a pool.
    bool leave_for_pool(const std::string& why);

    const machine& state() const { return _machine; }
    /// `ha show`.
    common::api::ha_rep view() const;

private:
    void beat();
    void send();
    /// One heartbeat to `to`; with `retire`, telling it that it is not this
    /// gateway's peer any more.
    void send_to(const boost::asio::ip::udp::endpoint& to, bool retire);
    /// A pair member other than the peer was heard (from _from): it becomes
    /// the peer when the peer is dead (a pool host that auto-heal started,
    /// or the old peer back first); false: the peer lives, `from` is not it.
    bool take_as_peer(common::ipv4_addr from, clock::time_point now);
    /// Auto-heal: the peer dead for heal_after while this side forwards:
    /// the next pool host's start command.
    void heal(clock::time_point now);
    /// The next pool host in turn that is not the peer (unless it is the only one).
    std::size_t next_pool_host();
    /// The next pool host's start command (logged, counted), with {peer}
    /// and {failed}.
    void start_pool_host(std::size_t host, const std::string& peer, common::ipv4_addr failed, std::string why);
    bool _silent = false;  ///< left for the pool: no heartbeats any more
    void receive();
    void act(action a);

    boost::asio::io_context& _io;
    common::pair_cfg _cfg;
    std::vector<common::ipv4_addr> _pool;  ///< _cfg.pool's heartbeat addresses
    std::function<local()> _local;
    action_handler _on_action;
    agent::key _key;
    common::ipv4_addr _self = 0, _peer_ip = 0;
    boost::asio::ip::udp::endpoint _peer;
    boost::asio::ip::udp::socket _socket;
    boost::asio::steady_timer _timer;
    agent::receiver _receiver;
    machine _machine;
    std::uint64_t _seq;
    std::optional<clock::time_point> _takeover_began;
    clock::time_point _began;
    struct heal_state {
        std::size_t host;  ///< in _cfg.pool
        clock::time_point started;
    };
    std::optional<heal_state> _heal;  ///< a pool host started, not heard yet
    std::size_t _next_host = 0;
    clock::time_point _retry_at{};  ///< after a failed start: not before
    std::string _heal_note;         ///< the latest auto-heal, in words

    std::array<std::uint8_t, agent::max_datagram + 1> _buf{};
    boost::asio::ip::udp::endpoint _from;
    struct counts {
        std::uint64_t sent = 0, send_errors = 0, received = 0, wrong_type = 0, bad_fields = 0, last_takeover_ms = 0;
        std::uint64_t peer_changes = 0, heals_started = 0, heals_done = 0, heal_failures = 0, last_heal_ms = 0,
                      retired_heard = 0;
    } _n;
    /// False once this is gone: a completion already queued when the socket
    /// and timer went (a UDP send completes at once, its handler later) must
    /// not touch it.
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace cg::control::pair
