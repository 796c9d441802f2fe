// Forward metrics (requirements 4.3): one probe of one node, a TCP connect or an
// HTTP GET, bounded by the probe's timeout. The answer time is the metric;
// no answer in time, a refused connection or an unexpected status is a
// failure.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/config.hpp"

namespace cg::control {

struct probe_outcome {
    std::optional<double> ms;  ///< answer time; nullopt: failed
    std::string why;           ///< for a failure: "timeout", "connection refused", "status 503"...
};

/// Probes `node` as `p` says and calls `done` exactly once.
void run_probe(boost::asio::io_context& io, const common::probe_cfg& p, common::ipv4_addr node,
               std::function<void(probe_outcome)> done);

/// The status code of an HTTP status line ("HTTP/1.1 200 OK"), or nullopt.
std::optional<unsigned> http_status(std::string_view status_line);

}  // namespace cg::control
