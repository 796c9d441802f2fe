#include "control/nodeagent/fd_limit.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <fstream>

namespace cg::control {

namespace {

fd_limits current() noexcept {
    rlimit r{};
    if (getrlimit(RLIMIT_NOFILE, &r) != 0) return {};
    return {r.rlim_cur, r.rlim_max};
}

bool set(fd_limits l) noexcept {
    const rlimit r{static_cast<rlim_t>(l.soft), static_cast<rlim_t>(l.hard)};
    return setrlimit(RLIMIT_NOFILE, &r) == 0;
}

}  // namespace

std::uint64_t fd_ceiling() noexcept {
    try {
        std::ifstream f("/proc/sys/fs/nr_open");
        std::uint64_t n = 0;
        return f >> n ? n : 0;
    } catch (...) {
        return 0;
    }
}

fd_limits fd_limit_target(fd_limits now, std::uint64_t ceiling, bool may_raise_hard) noexcept {
    const std::uint64_t hard = may_raise_hard ? std::max(now.hard, ceiling) : now.hard;
    return {std::max(now.soft, hard), hard};
}

fd_limits raise_fd_limit() noexcept {
    const fd_limits now = current();
    const std::uint64_t ceiling = fd_ceiling();  // 0 (unknown): the hard limit is the ceiling
    if (!set(fd_limit_target(now, ceiling, true))) set(fd_limit_target(now, ceiling, false));
    return current();
}

}  // namespace cg::control
