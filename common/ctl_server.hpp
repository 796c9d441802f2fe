// A control socket: a Unix stream socket, owner-only (0600), speaking the
// framed control API (ctl_msg.hpp). gatewayd answers on it with its
// controller, controld with its manager (and gatewayd behind it). Each
// request goes to the handler; a malformed frame gets an error reply and a
// counter, and the connection is closed when the framing itself is lost.
//
// Runs on the owner's io_context. Thread-safety: none needed (one thread).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <string>

#include <functional>

#include "api.hpp"

namespace cg::common {

class ctl_server {
public:
    /// `program` names the owner in errors ("another gatewayd is listening").
    /// Throws std::runtime_error if another process listens on `path`, the
    /// path is not a socket, or the socket cannot be made.
    ctl_server(boost::asio::io_context& io, std::string path, api::api& handler, std::function<void()> on_bad_frame,
               std::string program);
    ~ctl_server();
    ctl_server(const ctl_server&) = delete;
    ctl_server& operator=(const ctl_server&) = delete;

private:
    using socket = boost::asio::local::stream_protocol::socket;
    boost::asio::awaitable<void> accept_loop();
    boost::asio::awaitable<void> session(socket s);

    std::string _path;
    api::api& _handler;
    std::function<void()> _on_bad_frame;
    std::string _program;
    boost::asio::local::stream_protocol::acceptor _acceptor;
};

}  // namespace cg::common
