// How many files the agent may hold open. A spare carrying a failed node's
// connections on holds two descriptors for each (the repaired socket and
// its bridge to the local service), so a limit left at the usual soft 1,024
// (or a hard 20,000) cuts a restore of thousands short with EMFILE ("Too
// many open files": 6 of 10,000 connections on a machine whose limit was
// 20,000). At start, a spare raises its own limit: both soft and hard to
// the kernel's ceiling (fs.nr_open) where it may (CAP_SYS_RESOURCE, which
// a root agent has), else the soft one to the hard one.
//
// Thread-safety: call once, before the agent opens its sockets.
#pragma once

#include <cstdint>

namespace cg::control {

struct fd_limits {
    std::uint64_t soft = 0, hard = 0;
    bool operator==(const fd_limits&) const = default;
};

/// What to ask for, given the limits now, the kernel's ceiling and whether
/// the hard limit may be raised. Never lowers either.
fd_limits fd_limit_target(fd_limits now, std::uint64_t nr_open, bool may_raise_hard) noexcept;

/// fs.nr_open, the most RLIMIT_NOFILE may be; 0 when unreadable.
std::uint64_t fd_ceiling() noexcept;

/// Raises this process's RLIMIT_NOFILE as above; returns the limits it has
/// afterwards (unchanged where the kernel refused).
fd_limits raise_fd_limit() noexcept;

}  // namespace cg::control
