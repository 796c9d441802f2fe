// nodeagent's answer to the takeover query (requirements 5.3, shadow_msg.hpp): a TCP
// listener. On each connection it reads one query, checks it (framing, MAC,
// freshness, payload: query_receiver), reads the node's sockets on the asked
// cluster addresses from the kernel (shadow_table.hpp), streams the answer's
// chunks and closes. A restore (a spare asked to carry a failed node's
// connections on, requirements 6.4) is checked the same way and answered
// with one frame of outcomes from the restore handler. A bad query is refused, counted and logged, and its
// connection closed; the server goes on.
//
// Bounded against strangers: a connection must bring its whole query within
// io_timeout, a frame's length is checked before the rest is read, a query
// is at most max_query_frame bytes, and at most max_sessions connections
// are served at once (others are closed at once, counted `busy`). A
// querier that stops reading the answer for io_timeout is dropped.
//
// The kernel read runs on a reader thread of the server's own, and the
// chunks leave as its batches come: on a loaded node the dump of 30,000
// sockets took 0.9 s, and a querier waiting for the whole of it before the
// first chunk took the node for dead.
//
// Thread-safety: none; runs on nodeagent's io_context (the reader thread
// only posts to it).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/nodeagent/shadow_table.hpp"
#include "control/nodeagent/state_keeper.hpp"
#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct shadow_server_config {
    boost::asio::ip::tcp::endpoint listen;
    common::ipv4_addr node = 0;                ///< the sender the chunks name: the agent's --node
    std::vector<common::ipv4_addr> clusters;   ///< the addresses it answers for; empty: any a query asks
    shadow::key key;
    std::uint64_t max_skew_ms = 30'000;
    std::chrono::milliseconds io_timeout{5'000};  ///< for the query to arrive, for each chunk to be taken
    std::size_t max_sessions = 4;
};

/// What the server reads the sockets with (the kernel, or a test's table):
/// it hands them to the sink as they come, and may throw. Runs on the
/// server's reader thread, not on the io_context.
using table_reader = std::function<void(const sockdiag::filter&, const sockdiag::batch_sink&)>;

/// Carries a failed node's connections on (restorer.hpp) and calls the
/// callback once with one outcome per connection. Runs on the io_context,
/// and must not block it: the agent's signs of life share it.
using restore_handler =
    std::function<void(const shadow::restore&, std::function<void(shadow::restored)>)>;

/// Takes the node's state for a backup query (state_keeper.hpp): at most
/// the bytes given, then the callback once.
using backup_handler = std::function<void(std::size_t, std::function<void(taken_state)>)>;
/// Restores a failed node's state on this spare (state_keeper.hpp).
using state_restore_handler = std::function<void(common::ipv4_addr failed, std::vector<std::uint8_t> bytes,
                                                 std::uint64_t taken_ms, std::function<void(shadow::state_restored)>)>;

struct shadow_server_counters {
    std::uint64_t answered = 0;      ///< answers sent whole
    std::uint64_t entries_sent = 0;
    std::uint64_t not_served = 0;    ///< authentic queries for an address not in `clusters`
    std::uint64_t busy = 0;          ///< connections closed at once: max_sessions were being served
    std::uint64_t timeouts = 0;      ///< no whole query in io_timeout, or a chunk not taken in it
    std::uint64_t table_errors = 0;  ///< the kernel read failed
    std::uint64_t write_errors = 0;  ///< the querier went away during the answer
    std::uint64_t restores = 0;      ///< restore requests answered
    std::uint64_t backups = 0;       ///< backup queries answered (with the state, or why there is none)
    std::uint64_t state_restores = 0;  ///< state restores answered
};

class shadow_server {
public:
    shadow_server(boost::asio::io_context& io, shadow_server_config cfg,
                  table_reader read = [](const sockdiag::filter& f, const sockdiag::batch_sink& each) {
                      sockdiag::read_shadow_table(f, each);
                  });
    ~shadow_server();

    /// Serves restores with `h`; without one, every connection of a restore
    /// is answered not restored.
    void on_restore(restore_handler h) { _restore = std::move(h); }
    /// Serves backup queries and state restores; without them, each is
    /// answered with why not.
    void on_backup(backup_handler h) { _backup = std::move(h); }
    void on_state_restore(state_restore_handler h) { _state_restore = std::move(h); }
    /// Starts accepting. Throws boost::system::system_error when it cannot listen.
    void start();
    std::uint16_t port() const;

    const shadow::query_receiver& queries() const { return _receiver; }
    const shadow_server_counters& counters() const { return _counters; }
    std::size_t sessions() const { return _sessions; }  ///< connections being served

private:
    class session;
    void accept();

    boost::asio::io_context& _io;
    shadow_server_config _cfg;
    table_reader _read;
    restore_handler _restore;
    backup_handler _backup;
    state_restore_handler _state_restore;
    boost::asio::ip::tcp::acceptor _acceptor;
    boost::asio::steady_timer _retry;
    shadow::query_receiver _receiver;
    shadow_server_counters _counters;
    std::size_t _sessions = 0;
    boost::asio::thread_pool _reader{1};  ///< the kernel reads; joined first when the server goes
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);  // sessions outliving the server stop touching it
};

}  // namespace cg::control
