// A terminator's watch on its server (requirements 7.2; docs/operations.md
// "A terminator's report"): the agent of a front-end (a proxy, a TLS
// terminator at the node's address + k) started with --upstream ADDR:PORT
// connects to its server's service every interval and closes at once. After
// `failures` failed connects in a row (refused, unreachable, or no answer
// within the interval) it says the server is unreachable; after one success,
// reachable again. Every probe's verdict goes to the report callback (the
// agent sends it to controld as agent::upstream), so that controld's view
// is at most one interval old and a lost datagram is made good by the next.
//
// Thread-safety: none; runs on nodeagent's io_context.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "control/proto/agent_msg.hpp"

namespace cg::control {

struct upstream_config {
    boost::asio::ip::tcp::endpoint server;  ///< the server's service, by the server's own address
    std::chrono::milliseconds interval{50};  ///< between probes, and each probe's deadline
    std::uint32_t failures = 3;              ///< failed probes in a row that make it unreachable (>= 1)
};

class upstream_probe {
public:
    using report_fn = std::function<void(const agent::upstream&)>;

    struct counters {
        std::uint64_t probes = 0, failed = 0, timeouts = 0, verdicts_changed = 0;
    };

    upstream_probe(boost::asio::io_context& io, upstream_config cfg, report_fn report);
    ~upstream_probe();
    upstream_probe(const upstream_probe&) = delete;
    upstream_probe& operator=(const upstream_probe&) = delete;

    /// The first probe at once, then one every interval.
    void start();

    bool reachable() const noexcept { return _reachable; }
    const counters& counts() const noexcept { return _n; }

private:
    void probe();
    void finish(const boost::system::error_code& ec);

    boost::asio::io_context& _io;
    upstream_config _cfg;
    report_fn _report;
    boost::asio::steady_timer _next, _deadline;
    std::unique_ptr<boost::asio::ip::tcp::socket> _socket;  ///< the probe in flight, if any
    std::chrono::steady_clock::time_point _started;
    bool _reachable = true, _timed_out = false;
    std::uint32_t _in_a_row = 0;  ///< failed probes in a row
    std::string _last_error;
    counters _n;
    std::shared_ptr<bool> _alive = std::make_shared<bool>(true);
};

}  // namespace cg::control
