#include "control/controld/manager/prober.hpp"

#include <charconv>
#include <chrono>
#include <memory>

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

std::optional<unsigned> http_status(std::string_view line) {
    if (!line.starts_with("HTTP/1.")) return std::nullopt;
    const auto sp = line.find(' ');
    if (sp == std::string_view::npos || line.size() < sp + 4) return std::nullopt;
    unsigned code = 0;
    const auto digits = line.substr(sp + 1, 3);
    const auto [p, ec] = std::from_chars(digits.data(), digits.data() + 3, code);
    if (ec != std::errc{} || p != digits.data() + 3 || code < 100 || code > 599) return std::nullopt;
    if (line.size() > sp + 4 && line[sp + 4] != ' ' && line[sp + 4] != '\r') return std::nullopt;
    return code;
}

namespace {

/// One probe in flight; whichever of answer and deadline comes first ends it.
struct attempt : std::enable_shared_from_this<attempt> {
    attempt(asio::io_context& io, const common::probe_cfg& p, std::function<void(probe_outcome)> d)
        : cfg(p), socket(io), deadline(io), done(std::move(d)) {}

    common::probe_cfg cfg;
    tcp::socket socket;
    asio::steady_timer deadline;
    std::function<void(probe_outcome)> done;
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    std::string request;
    asio::streambuf reply{4096};  // a status line longer than this is no answer
    bool finished = false;

    void finish(probe_outcome o) {
        if (finished) return;
        finished = true;
        deadline.cancel();
        boost::system::error_code ignored;
        socket.close(ignored);
        done(std::move(o));
    }
    double elapsed_ms() const {
        return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    }

    void start(common::ipv4_addr node) {
        auto self = shared_from_this();
        deadline.expires_after(cfg.timeout);
        deadline.async_wait([self](const boost::system::error_code& ec) {
            if (!ec) self->finish({std::nullopt, "timeout"});
        });
        const tcp::endpoint ep(asio::ip::address_v4(node), cfg.target.value_or(cfg.port));
        socket.async_connect(ep, [self](const boost::system::error_code& ec) {
            if (self->finished) return;
            if (ec) return self->finish({std::nullopt, ec.message()});
            if (self->cfg.type == common::probe_kind::tcp) return self->finish({self->elapsed_ms(), {}});
            self->send_get();
        });
    }

    void send_get() {
        auto self = shared_from_this();
        request = fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: clustergate-controld\r\nConnection: close\r\n\r\n",
                              cfg.path, socket.remote_endpoint().address().to_string());
        asio::async_write(socket, asio::buffer(request), [self](const boost::system::error_code& ec, std::size_t) {
            if (self->finished) return;
            if (ec) return self->finish({std::nullopt, ec.message()});
            asio::async_read_until(self->socket, self->reply, "\r\n",
                                   [self](const boost::system::error_code& rec, std::size_t n) {
                                       if (self->finished) return;
                                       if (rec) return self->finish({std::nullopt, rec.message()});
                                       const std::string line(asio::buffers_begin(self->reply.data()),
                                                              asio::buffers_begin(self->reply.data()) +
                                                                  static_cast<std::ptrdiff_t>(n));
                                       const auto status = http_status(line);
                                       if (!status) return self->finish({std::nullopt, "not an HTTP answer"});
                                       if (*status != self->cfg.expect)
                                           return self->finish({std::nullopt, fmt::format("status {}", *status)});
                                       self->finish({self->elapsed_ms(), {}});
                                   });
        });
    }
};

}  // namespace

void run_probe(asio::io_context& io, const common::probe_cfg& p, common::ipv4_addr node,
               std::function<void(probe_outcome)> done) {
    std::make_shared<attempt>(io, p, std::move(done))->start(node);
}

}  // namespace cg::control
