// Loopback TCP helpers for the tests of controld's I/O parts (probes, the
// Prometheus endpoint): a tiny server that answers each connection with a
// fixed text, and a port that nobody listens on.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <vector>

#include <boost/asio.hpp>

#include "common/net_types.hpp"

namespace cg::test {

inline constexpr common::ipv4_addr loopback = 0x7f000001;  // 127.0.0.1

/// A loopback TCP server answering each connection with `answer` (after
/// `delay`), or never answering when `answer` is empty. Connections stay
/// open for as long as the server lives.
struct tiny_server {
    boost::asio::io_context& io;
    boost::asio::ip::tcp::acceptor acceptor{
        io, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0)};
    std::string answer;
    std::chrono::milliseconds delay{0};
    std::vector<std::shared_ptr<boost::asio::ip::tcp::socket>> held;

    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    void serve() {
        namespace asio = boost::asio;
        acceptor.async_accept([this](const boost::system::error_code& ec, asio::ip::tcp::socket s) {
            if (ec) return;
            auto sock = std::make_shared<asio::ip::tcp::socket>(std::move(s));
            held.push_back(sock);
            if (!answer.empty()) {
                auto t = std::make_shared<asio::steady_timer>(io, delay);
                t->async_wait([sock, t, this](const boost::system::error_code&) {
                    asio::async_write(*sock, asio::buffer(answer), [sock](const boost::system::error_code&, std::size_t) {});
                });
            }
            serve();
        });
    }
};

/// A loopback port that was bound and closed again: nobody listens there now.
inline std::uint16_t unused_port(boost::asio::io_context& io) {
    boost::asio::ip::tcp::acceptor a(io, boost::asio::ip::tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    return a.local_endpoint().port();
}

}  // namespace cg::test
