#include "control/nodeagent/upstream_probe.hpp"

#include <fmt/format.h>

#include "common/log.hpp"

namespace cg::control {

namespace asio = boost::asio;
namespace log = common::log;

upstream_probe::upstream_probe(asio::io_context& io, upstream_config cfg, report_fn report)
    : _io(io), _cfg(std::move(cfg)), _report(std::move(report)), _next(io), _deadline(io) {}

upstream_probe::~upstream_probe() { *_alive = false; }

void upstream_probe::start() { probe(); }

void upstream_probe::probe() {
    _started = std::chrono::steady_clock::now();
    _timed_out = false;
    _socket = std::make_unique<asio::ip::tcp::socket>(_io);
    _socket->async_connect(_cfg.server, [this, alive = _alive](const boost::system::error_code& ec) {
        if (*alive) finish(ec);
    });
    // No answer within the interval is a failure too (a server gone from
    // the wire answers nothing): the connect is cancelled.
    _deadline.expires_after(_cfg.interval);
    _deadline.async_wait([this, alive = _alive](const boost::system::error_code& ec) {
        if (ec || !*alive || !_socket) return;
        _timed_out = true;
        boost::system::error_code ignored;
        _socket->close(ignored);
    });
}

void upstream_probe::finish(const boost::system::error_code& ec) {
    _deadline.cancel();
    boost::system::error_code ignored;
    if (_socket) _socket->close(ignored);
    _socket.reset();
    ++_n.probes;
    if (ec) {
        ++_n.failed;
        if (_timed_out) ++_n.timeouts;
        ++_in_a_row;
        _last_error = _timed_out ? "no answer within the interval" : ec.message();
    } else {
        _in_a_row = 0;
    }
    const bool reachable = _in_a_row < _cfg.failures;
    const std::string server = fmt::format("{}:{}", _cfg.server.address().to_string(), _cfg.server.port());
    if (reachable != _reachable) {
        ++_n.verdicts_changed;
        if (reachable)
            log::info("upstream {} reachable again", server);
        else
            log::warn("upstream {} unreachable: {} failed connects in a row (last: {})", server, _in_a_row,
                      _last_error);
    }
    _reachable = reachable;
    _report({_cfg.server.address().to_v4().to_uint(), _cfg.server.port(), reachable, _in_a_row,
             static_cast<std::uint32_t>(_cfg.interval.count())});
    // The next probe one interval after this one began (at once if it took that long).
    _next.expires_at(_started + _cfg.interval);
    _next.async_wait([this, alive = _alive](const boost::system::error_code& e) {
        if (!e && *alive) probe();
    });
}

}  // namespace cg::control
