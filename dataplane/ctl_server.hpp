// gatewayd's control socket: a Unix stream socket, owner-only (0600),
// speaking the framed control API (common/ctl_msg.hpp). Each request is
// answered by the controller; a malformed frame gets an error reply and a
// counter, and the connection is closed when the framing itself is lost.
//
// Runs on the main lcore's io_context. Thread-safety: none needed (one thread).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <string>

#include "controller.hpp"

namespace cg::dp {

class ctl_server {
public:
    /// Throws std::runtime_error if another gatewayd listens on `path`, or
    /// the socket cannot be made.
    ctl_server(boost::asio::io_context& io, std::string path, controller& ctl);
    ~ctl_server();
    ctl_server(const ctl_server&) = delete;
    ctl_server& operator=(const ctl_server&) = delete;

private:
    using socket = boost::asio::local::stream_protocol::socket;
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(socket s);

    std::string _path;
    controller& _ctl;
    boost::asio::local::stream_protocol::acceptor _acceptor;
};

}  // namespace cg::dp
