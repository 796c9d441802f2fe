// A Prometheus text endpoint: GET /metrics answers the exposition format
// (version 0.0.4) that `render` returns at that moment; anything else gets
// 404. HTTP/1.0, one request per connection, requests over 8 KiB refused.
//
// Thread-safety: none; runs on controld's io_context.
#pragma once

#include <functional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/net_types.hpp"
#include "common/view_fields.hpp"

namespace cg::control {

class prometheus_endpoint {
public:
    /// Throws std::runtime_error when it cannot listen on `at`.
    prometheus_endpoint(boost::asio::io_context& io, common::endpoint at, std::function<std::string()> render);

private:
    void accept();
    boost::asio::ip::tcp::acceptor _acceptor;
    std::function<std::string()> _render;
};

/// "# TYPE name counter|gauge".
std::string prom_type(std::string_view name, common::api::metric_kind kind);

/// One sample line: name{label="value",...} value. Label values escaped.
std::string prom_line(std::string_view name, std::initializer_list<std::pair<std::string_view, std::string>> labels,
                      double value);

}  // namespace cg::control
