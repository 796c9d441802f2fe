// The narrow interface every control client programs against: one call,
// one typed reply. gatewayd implements it in process (the console of
// `gatewayd -i`), ctl_client over the Unix socket (gwctl). The control
// sockets' servers answer through async_api, which never blocks.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <variant>
#include <vector>

#include "ctl_msg.hpp"

namespace cg::common::api {

/// A request the other side refused, or a broken channel.
class api_error : public std::runtime_error {
public:
    explicit api_error(const std::string& what, std::vector<std::string> details = {})
        : std::runtime_error(what), _details(std::move(details)) {}
    const std::vector<std::string>& details() const { return _details; }

private:
    std::vector<std::string> _details;
};

class api {
public:
    virtual ~api() = default;
    /// Sends a request and waits for its reply. Throws api_error when the
    /// channel breaks; an error the gateway reports comes back as error_rep.
    virtual reply call(const request& r) = 0;

    /// The reply as type R; an error_rep (or any other type) becomes api_error.
    template <class R>
    R expect(const request& r) {
        reply rep = call(r);
        if (auto* ok = std::get_if<R>(&rep)) return std::move(*ok);
        if (auto* err = std::get_if<error_rep>(&rep)) throw api_error(err->message, err->details);
        throw api_error("unexpected reply type to " + type_name(type_id(r)));
    }
};

/// The control API for servers that must not block their thread: the reply
/// comes to `done`, at once or later (after a worker job, or a call to
/// another process). `done` is called exactly once, on the caller's thread
/// (its io_context), unless the implementation is destroyed first.
class async_api {
public:
    using completion = std::function<void(reply)>;
    virtual ~async_api() = default;
    virtual void call_async(const request& r, completion done) = 0;
};

}  // namespace cg::common::api
