// A walk over every page of a node's restore plans (ctl_msg.hpp,
// restore_plans_req): lcore by lcore, each from cursor 0 until its reply
// says done. The caller sends `request()`, gives each reply to `add()` until
// `done()`, then reads `all()`: the plans of every page, most recently used
// first over all of them (by the age of their last frame), the connections
// and verdicts summed. Used alike by controld's restore (asynchronous) and
// the console (one call after the other).
//
// Thread-safety: none; one walk per object. Called from: controld
// (node_restore), the console (show mirror plans), tests.
#pragma once

#include <cstdint>
#include <string>

#include "ctl_msg.hpp"

namespace cg::common::api {

class restore_plans_pages {
public:
    explicit restore_plans_pages(ipv4_addr node, std::uint32_t page = max_restore_plans) noexcept
        : _next{node, page, 0, 0} {}

    /// The next page to ask for.
    const restore_plans_req& request() const noexcept { return _next; }
    /// One reply to request(). Returns an error for a reply that does not
    /// answer it (another node or lcore, a cursor that goes back); the walk
    /// is then over, as when it is done.
    std::string add(restore_plans_rep&& page);
    bool done() const noexcept { return _done; }
    /// Pages taken so far.
    std::uint32_t pages() const noexcept { return _pages; }
    /// Every page's plans and counts; sorted once done().
    const restore_plans_rep& all() const noexcept { return _all; }
    restore_plans_rep& all() noexcept { return _all; }

private:
    restore_plans_req _next;
    restore_plans_rep _all;
    std::uint32_t _pages = 0;
    bool _done = false;
};

}  // namespace cg::common::api
