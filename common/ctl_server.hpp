// A control socket: a Unix stream socket, owner-only (0600), speaking the
// framed control API (ctl_msg.hpp). gatewayd answers on it with its
// controller, controld with its manager (and gatewayd behind it). Each
// request goes to the handler, which answers when it can (async_api): the
// server never waits for it, so one slow request holds up no other. A
// connection may have up to max_outstanding requests unanswered; the server
// reads its next request once one is answered. Replies carry the seq of
// their request and go out as they are ready, so they may overtake each
// other on one connection. A malformed frame gets an error reply and a
// counter, and the connection is closed when the framing itself is lost.
//
// Runs on the owner's io_context. Thread-safety: none needed (one thread).
#pragma once

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange

#include <boost/asio.hpp>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api.hpp"

namespace cg::common {

class ctl_server {
public:
    static constexpr std::size_t max_outstanding = 16;

    /// `program` names the owner in errors ("another gatewayd is listening").
    /// Throws std::runtime_error if another process listens on `path`, the
    /// path is not a socket, or the socket cannot be made. `handler` must
    /// outlive the server.
    ctl_server(boost::asio::io_context& io, std::string path, api::async_api& handler,
               std::function<void()> on_bad_frame, std::string program);
    /// Closes the socket and every connection: the handler is not called
    /// again, replies still to come go nowhere.
    ~ctl_server();
    ctl_server(const ctl_server&) = delete;
    ctl_server& operator=(const ctl_server&) = delete;

private:
    class session;
    void accept();

    std::string _path;
    api::async_api& _handler;
    std::function<void()> _on_bad_frame;
    std::string _program;
    boost::asio::local::stream_protocol::acceptor _acceptor;
    std::vector<std::weak_ptr<session>> _sessions;
};

}  // namespace cg::common
