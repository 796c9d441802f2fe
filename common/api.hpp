// The narrow interface every control client programs against: one call,
// one typed reply. gatewayd implements it in process (the console of
// `gatewayd -i`), ctl_client over the Unix socket (gwctl, controld).
#pragma once

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

}  // namespace cg::common::api
