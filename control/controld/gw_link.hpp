// controld's one link to gatewayd's control socket, on controld's
// io_context, that never blocks it (the HA heartbeats share that loop):
//  - connects asynchronously, when a request needs it, and again after a
//    failure (a connection that breaks fails the requests sent on it, and
//    the queued ones go out on a new one);
//  - frames requests with the control codec (ctl_msg.hpp) and pipelines
//    them on the one connection: at most max_in_flight unanswered, up to
//    max_queued more waiting their turn, anything beyond that refused at
//    once (error busy, counted);
//  - gives each request a deadline, an Asio timer counted from ask(): by
//    then its handler has the reply or an error (timeout), whatever gatewayd
//    does;
//  - matches replies to requests by seq: a reply that comes after its
//    request's deadline is dropped (counted), never given to another request.
//
// Thread-safety: none; everything runs on the io_context given.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/ctl_msg.hpp"

namespace cg::control {

enum class link_error : std::uint8_t {
    none,
    timeout,      ///< no reply by the request's deadline
    unreachable,  ///< the socket is not there, or nobody listens on it
    lost,         ///< the connection broke (or was reset) before the reply
    busy,         ///< max_in_flight + max_queued requests open already
    bad_reply,    ///< a reply that does not decode
};

/// What a request's handler gets: gatewayd's reply, or why there is none.
struct gw_answer {
    std::optional<common::api::reply> reply;  ///< an error_rep from gatewayd is a reply too
    link_error error = link_error::none;      ///< set when there is no reply
    std::string why;                          ///< the error in words, for logs and the console

    /// The reply if it is an R, else null.
    template <class R>
    const R* as() const {
        return reply ? std::get_if<R>(&*reply) : nullptr;
    }
};

class gw_link {
public:
    struct options {
        std::string socket_path;
        std::chrono::milliseconds timeout = std::chrono::seconds(2);  ///< per request, from ask()
        std::size_t max_in_flight = 8;  ///< sent and not answered (gatewayd reads up to 16 ahead)
        std::size_t max_queued = 1024;  ///< waiting to be sent
    };
    struct counts {
        std::uint64_t asked = 0, answered = 0, timed_out = 0, busy = 0, late_replies = 0, connects = 0,
                      connect_failures = 0, lost = 0;
    };
    using handler = std::function<void(gw_answer)>;

    gw_link(boost::asio::io_context& io, options opt);
    /// Closes the connection; handlers of requests still open are not called.
    ~gw_link();
    gw_link(const gw_link&) = delete;
    gw_link& operator=(const gw_link&) = delete;

    /// Sends `r`, or queues it. `done` runs later on the io_context (never
    /// inside ask()), exactly once, by the request's deadline at the latest.
    void ask(common::api::request r, handler done);
    /// Drops the connection (gatewayd died or was started again): every open
    /// request fails with `lost` and `why`; the next ask() connects anew.
    void reset(const std::string& why);

    std::size_t in_flight() const;
    std::size_t queued() const;
    const counts& counters() const;
    const options& config() const;

private:
    struct impl;
    std::shared_ptr<impl> _impl;
};

}  // namespace cg::control
