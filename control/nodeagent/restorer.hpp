// The spare's agent carrying a failed node's connections on (requirements
// 6.4; docs/architecture.md "Spares and restoration"): for each connection
// of a restore (shadow_msg.hpp), in the order given (most recently used
// first), a fresh connection to the local service that serves its cluster
// port, the client's socket re-created with TCP_REPAIR and its unanswered
// requests (tcp_repair.hpp), and the two bridged (conn_bridge.hpp). The
// service is connected to first: a service that is down costs nothing to
// repair, and the connection is reported not restored (the gateway then
// resets its client).
//
// First the clients' first hops are resolved (neigh_warm.hpp), for at most
// warm_timeout: a spare that has never spoken to them would otherwise lose
// most of its first segments in the ARP queue. Then every connection's
// service connect is started at once, in the order
// given, and each is repaired as its connect completes (a connection whose
// reply the node had begun, after the service's answer to the replayed
// call: resume_first); the answer goes
// when the last is done, or when connect_timeout has passed (the rest are
// reported not restored). Nothing blocks the io_context, which the agent's
// signs of life share: a spare busy restoring is not taken for dead.
//
// Thread-safety: none; runs on nodeagent's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/nodeagent/conn_bridge.hpp"
#include "control/nodeagent/neigh_warm.hpp"
#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct restorer_config {
    /// The local service of each cluster port (--restore-service PORT=ADDR:PORT).
    std::map<std::uint16_t, boost::asio::ip::tcp::endpoint> services;
    std::chrono::milliseconds connect_timeout{2000};
    /// How long a restore waits for its clients' first hops to resolve.
    std::chrono::milliseconds warm_timeout{100};
};

struct restorer_counters {
    std::uint64_t restores = 0;  ///< restore requests served
    std::uint64_t restored = 0, not_restored = 0;  ///< connections
    /// Restores that waited for a first hop to resolve, gave up waiting
    /// after warm_timeout, or could not ask (netlink failed).
    std::uint64_t warm_waits = 0, warm_timeouts = 0, warm_errors = 0;
};

class restorer {
public:
    restorer(boost::asio::io_context& io, restorer_config cfg) : _io(io), _cfg(std::move(cfg)) {}

    /// Calls `done` once, on the io_context, with one outcome per
    /// connection, in the restore's order.
    void restore(const shadow::restore& r, std::function<void(shadow::restored)> done);

    const restorer_counters& counters() const { return _c; }
    const bridge_counters& bridges() const { return _bridges; }

private:
    struct job;
    void warm(const std::shared_ptr<job>& j);
    void begin(const std::shared_ptr<job>& j);
    void connected(const std::shared_ptr<job>& j, std::size_t i, const boost::system::error_code& ec);
    /// A reply the node had begun, and sent past the client's last
    /// acknowledgement the mirror saw: the call goes to the service first,
    /// and the node's bytes of its reply go into the send queue as sent.
    void resume_first(const std::shared_ptr<job>& j, std::size_t i);
    /// After the reply's marker: the rest of the node's bytes, then the repair.
    void resume_rest(const std::shared_ptr<job>& j, std::size_t i,
                     const std::shared_ptr<std::vector<std::uint8_t>>& reply,
                     const std::shared_ptr<reply_resume>& check, std::size_t head);
    /// One part of the service's reply read: false (and settled) on an
    /// error, or when it is not the node's.
    bool resumed_part(const std::shared_ptr<job>& j, std::size_t i, const boost::system::error_code& ec,
                      reply_resume& check, std::span<const std::uint8_t> part);
    void settle(const std::shared_ptr<job>& j, std::size_t i, bool restored, std::string why);

    boost::asio::io_context& _io;
    restorer_config _cfg;
    restorer_counters _c;
    bridge_counters _bridges;
    neigh_warm _warm;
};

}  // namespace cg::control
