#include <catch2/catch.hpp>

#include <sys/resource.h>

#include "control/nodeagent/fd_limit.hpp"

using namespace cg::control;

TEST_CASE("fd_limit_target raises the soft limit to the hard one, both to the ceiling where it may", "[fd_limit]") {
    struct row {
        fd_limits now;
        std::uint64_t ceiling;
        bool may_raise_hard;
        fd_limits want;
    };
    const row rows[] = {
        {{1024, 524288}, 1048576, true, {1048576, 1048576}},   // root under systemd's defaults
        {{1024, 524288}, 1048576, false, {524288, 524288}},    // unprivileged: up to its hard limit
        {{20000, 20000}, 1048576, true, {1048576, 1048576}},
        {{20000, 20000}, 1048576, false, {20000, 20000}},      // nothing to gain: unchanged
        {{4096, 2000000}, 1048576, true, {2000000, 2000000}},  // a hard limit above the ceiling is kept
        {{1024, 4096}, 0, true, {4096, 4096}},                 // no ceiling known: the hard limit
    };
    for (const auto& r : rows) {
        CAPTURE(r.now.soft, r.now.hard, r.ceiling, r.may_raise_hard);
        CHECK(fd_limit_target(r.now, r.ceiling, r.may_raise_hard) == r.want);
    }
}

TEST_CASE("raise_fd_limit leaves this process's soft limit at its hard one, neither lowered", "[fd_limit]") {
    rlimit before{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &before) == 0);
    const fd_limits after = raise_fd_limit();
    rlimit seen{};
    REQUIRE(getrlimit(RLIMIT_NOFILE, &seen) == 0);
    CHECK(after == fd_limits{seen.rlim_cur, seen.rlim_max});
    CHECK(seen.rlim_cur == seen.rlim_max);
    CHECK(seen.rlim_max >= before.rlim_max);
    CHECK(seen.rlim_cur >= before.rlim_cur);
}
