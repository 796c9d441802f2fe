#include "control/controld/manager/prometheus.hpp"

#include <memory>
#include <stdexcept>

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::string prom_type(std::string_view name, common::api::metric_kind kind) {
    return fmt::format("# TYPE {} {}\n", name, kind == common::api::metric_kind::counter ? "counter" : "gauge");
}

std::string prom_line(std::string_view name, std::initializer_list<std::pair<std::string_view, std::string>> labels,
                      double value) {
    std::string out(name);
    if (labels.size() > 0) {
        out += '{';
        bool first = true;
        for (const auto& [k, v] : labels) {
            out += fmt::format("{}{}=\"", first ? "" : ",", k);
            for (char c : v) {
                if (c == '\\' || c == '"') out += '\\';
                if (c == '\n') {
                    out += "\\n";
                    continue;
                }
                out += c;
            }
            out += '"';
            first = false;
        }
        out += '}';
    }
    out += fmt::format(" {}\n", value);
    return out;
}

namespace {

struct exchange : std::enable_shared_from_this<exchange> {
    exchange(tcp::socket s, const std::function<std::string()>& r)
        : socket(std::move(s)), render(r), deadline(socket.get_executor()) {}
    tcp::socket socket;
    const std::function<std::string()>& render;
    asio::steady_timer deadline;
    asio::streambuf in{8192};
    std::string out;

    void start() {
        auto self = shared_from_this();
        deadline.expires_after(std::chrono::seconds(5));  // a client that never finishes its request
        deadline.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->socket.close();
        });
        asio::async_read_until(socket, in, "\r\n\r\n", [self](const boost::system::error_code& ec, std::size_t) {
            if (ec) {
                self->deadline.cancel();
                return;
            }
            const std::string head(asio::buffers_begin(self->in.data()), asio::buffers_end(self->in.data()));
            const bool metrics = head.starts_with("GET /metrics ") || head.starts_with("GET /metrics?");
            const std::string body = metrics ? self->render() : "only GET /metrics here\n";
            self->out = fmt::format("HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n"
                                    "Connection: close\r\n\r\n{}",
                                    metrics ? "200 OK" : "404 Not Found", body.size(), body);
            asio::async_write(self->socket, asio::buffer(self->out), [self](const boost::system::error_code&, std::size_t) {
                self->deadline.cancel();
                boost::system::error_code ignored;
                self->socket.shutdown(tcp::socket::shutdown_both, ignored);
            });
        });
    }
};

}  // namespace

prometheus_endpoint::prometheus_endpoint(asio::io_context& io, common::endpoint at, std::function<std::string()> render)
    : _acceptor(io), _render(std::move(render)) {
    const tcp::endpoint ep(asio::ip::address_v4(at.address), at.port);
    boost::system::error_code ec;
    _acceptor.open(ep.protocol(), ec);
    if (!ec) _acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) _acceptor.bind(ep, ec);
    if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        throw std::runtime_error(fmt::format("prometheus endpoint {}:{}: {}", common::format_ipv4(at.address), at.port,
                                             ec.message()));
    accept();
}

void prometheus_endpoint::accept() {
    _acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket s) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) std::make_shared<exchange>(std::move(s), _render)->start();
        accept();
    });
}

}  // namespace cg::control
