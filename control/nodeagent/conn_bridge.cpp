#include "control/nodeagent/conn_bridge.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <array>

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

reply_resume::reply_resume(std::uint32_t skip, std::uint32_t marker) noexcept : _skip(skip) {
    for (int i = 0; i < 4; ++i) _marker[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(marker >> (24 - 8 * i));
}

std::optional<std::span<const std::uint8_t>> reply_resume::pass(std::span<const std::uint8_t> in) noexcept {
    if (done()) return in;
    for (std::size_t i = 0; i < in.size() && _pos + i < _marker.size(); ++i)
        if (in[i] != _marker[_pos + i]) return std::nullopt;
    const std::size_t drop = static_cast<std::size_t>(std::min<std::uint64_t>(in.size(), _skip - _pos));
    _pos += in.size();
    return in.subspan(drop);
}

namespace {

class bridge : public std::enable_shared_from_this<bridge> {
public:
    bridge(asio::io_context& io, owned_fd client, tcp::socket service, bridge_counters& c, reply_resume resume)
        : _client(io), _service(std::move(service)), _c(c), _resume(resume) {
        _client.assign(tcp::v4(), client.release());
        ++_c.opened;
    }

    void start() {
        pump(_client, _service, _up, _c.to_service_bytes);
        pump(_service, _client, _down, _c.to_client_bytes);
    }

private:
    using buffer = std::array<std::uint8_t, 16 * 1024>;

    void pump(tcp::socket& from, tcp::socket& to, buffer& buf, std::uint64_t& bytes) {
        from.async_read_some(asio::buffer(buf), [self = shared_from_this(), &from, &to, &buf, &bytes](
                                                    const boost::system::error_code& ec, std::size_t n) {
            if (self->_failed) return;
            if (ec == asio::error::eof) return self->ended(to);
            if (ec) return self->fail();
            std::span<const std::uint8_t> out(buf.data(), n);
            if (&from == &self->_service && !self->_resume.done()) {
                const auto rest = self->_resume.pass(out);
                if (!rest) {
                    ++self->_c.resume_mismatch;
                    return self->fail();
                }
                if (self->_resume.done()) ++self->_c.resumed;
                out = *rest;
            }
            asio::async_write(to, asio::buffer(out.data(), out.size()),
                              [self, &from, &to, &buf, &bytes](const boost::system::error_code& wec, std::size_t w) {
                                  if (self->_failed) return;
                                  if (wec) return self->fail();
                                  bytes += w;
                                  self->pump(from, to, buf, bytes);
                              });
        });
    }

    /// One direction reached its end: the other side hears it as a FIN.
    void ended(tcp::socket& to) {
        boost::system::error_code ignored;
        to.shutdown(tcp::socket::shutdown_send, ignored);
        if (++_ends == 2) ++_c.closed;
    }

    void fail() {
        _failed = true;
        ++_c.failed;
        boost::system::error_code ignored;
        _client.set_option(asio::socket_base::linger(true, 0), ignored);  // an RST: the client retries at once
        _client.close(ignored);
        _service.close(ignored);
    }

    tcp::socket _client, _service;
    bridge_counters& _c;
    reply_resume _resume;
    // Not zeroed: a restore starts hundreds of bridges at once, and zeroing
    // 32 KiB each (with the page faults of fresh memory) was half of the
    // spare's time; only the pages the bytes pass through are touched.
    buffer _up, _down;
    int _ends = 0;
    bool _failed = false;
};

}  // namespace

void start_bridge(asio::io_context& io, owned_fd client, tcp::socket service, bridge_counters& counters,
                  reply_resume resume) {
    std::make_shared<bridge>(io, std::move(client), std::move(service), counters, resume)->start();
}

}  // namespace cg::control
