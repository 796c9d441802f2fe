// A restored connection handed to a service that knows nothing of it
// (requirements 6.4; docs/architecture.md "Spares and restoration"): the
// spare's agent holds the re-created client socket (tcp_repair.hpp) and a
// fresh local connection to the service, and copies bytes between the two,
// each way, until both have ended. The replayed requests wait in the
// client socket's receive queue, so they are the first bytes the service
// reads: it resumes from the first request the dead node left unanswered.
//
// An end of one side (EOF) is passed on as a half-close of the other; an
// error on either side closes both, the client's with an RST (SO_LINGER 0),
// so that the client reconnects at once rather than waiting on a dead
// bridge.
//
// Thread-safety: none; runs on nodeagent's io_context. Each bridge owns
// itself (shared_ptr) until both directions are done.
#pragma once

#include <cstdint>
#include <memory>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/nodeagent/tcp_repair.hpp"

namespace cg::control {

struct bridge_counters {
    std::uint64_t opened = 0;
    std::uint64_t closed = 0;          ///< both directions ended by EOF
    std::uint64_t failed = 0;          ///< closed on an error of either side
    std::uint64_t to_service_bytes = 0, to_client_bytes = 0;
};

/// Copies between `client` (a repaired socket, now owned by the bridge) and
/// `service` (connected). `counters` must outlive the io_context's work.
void start_bridge(boost::asio::io_context& io, owned_fd client, boost::asio::ip::tcp::socket service,
                  bridge_counters& counters);

}  // namespace cg::control
