// A restored connection handed to a service that knows nothing of it
// (requirements 6.4; docs/architecture.md "Spares and restoration"): the
// spare's agent holds the re-created client socket (tcp_repair.hpp) and a
// fresh local connection to the service, and copies bytes between the two,
// each way, until both have ended. The replayed requests wait in the
// client socket's receive queue, so they are the first bytes the service
// reads: it resumes from the first request the dead node left unanswered.
//
// A reply the failed node had begun is finished by the service's answer to
// the same call, less its first bytes (reply_resume): the client's already.
//
// An end of one side (EOF) is passed on as a half-close of the other; an
// error on either side closes both, the client's with an RST (SO_LINGER 0),
// so that the client reconnects at once rather than waiting on a dead
// bridge.
//
// Thread-safety: none; runs on nodeagent's io_context. Each bridge owns
// itself (shared_ptr) until both directions are done.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/nodeagent/tcp_repair.hpp"

namespace cg::control {

struct bridge_counters {
    std::uint64_t opened = 0;
    std::uint64_t closed = 0;          ///< both directions ended by EOF
    std::uint64_t failed = 0;          ///< closed on an error of either side
    std::uint64_t resumed = 0;         ///< a cut reply finished: the service's first bytes dropped as planned
    std::uint64_t resume_mismatch = 0; ///< the service's reply was not the node's (another marker): reset
    std::uint64_t to_service_bytes = 0, to_client_bytes = 0;
};

/// The rest of a reply the failed node had begun (tcp_repair_params::
/// resume_skip, resume_marker): of the service's bytes, the first `skip` are
/// the client's already and are dropped, once the service's record marker
/// (its first 4 bytes) is found to be the node's. Pure; one per bridge.
class reply_resume {
public:
    reply_resume(std::uint32_t skip, std::uint32_t marker) noexcept;
    /// Of the service's next bytes `in`, the part to send to the client (an
    /// empty span while dropping); nullopt once the service's reply is not
    /// the node's.
    std::optional<std::span<const std::uint8_t>> pass(std::span<const std::uint8_t> in) noexcept;
    bool done() const noexcept { return _pos >= _skip; }

private:
    std::uint64_t _pos = 0;  ///< the service's bytes seen
    std::uint32_t _skip;
    std::array<std::uint8_t, 4> _marker{};
};

/// Copies between `client` (a repaired socket, now owned by the bridge) and
/// `service` (connected). `counters` must outlive the io_context's work.
/// `resume`: the cut reply to finish (skip 0: none).
void start_bridge(boost::asio::io_context& io, owned_fd client, boost::asio::ip::tcp::socket service,
                  bridge_counters& counters, reply_resume resume = {0, 0});

}  // namespace cg::control
