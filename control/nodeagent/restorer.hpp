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
// Thread-safety: none; runs on nodeagent's io_context. A restore of many
// connections runs there whole (about a millisecond each).
#pragma once

#include <cstdint>
#include <map>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/nodeagent/conn_bridge.hpp"
#include "control/proto/shadow_msg.hpp"

namespace cg::control {

struct restorer_config {
    /// The local service of each cluster port (--restore-service PORT=ADDR:PORT).
    std::map<std::uint16_t, boost::asio::ip::tcp::endpoint> services;
};

struct restorer_counters {
    std::uint64_t restores = 0;  ///< restore requests served
    std::uint64_t restored = 0, not_restored = 0;  ///< connections
};

class restorer {
public:
    restorer(boost::asio::io_context& io, restorer_config cfg) : _io(io), _cfg(std::move(cfg)) {}

    /// One outcome per connection, in order.
    shadow::restored restore(const shadow::restore& r);

    const restorer_counters& counters() const { return _c; }
    const bridge_counters& bridges() const { return _bridges; }

private:
    shadow::restore_outcome restore_one(const shadow::restore_conn& c);

    boost::asio::io_context& _io;
    restorer_config _cfg;
    restorer_counters _c;
    bridge_counters _bridges;
};

}  // namespace cg::control
