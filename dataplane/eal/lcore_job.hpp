// What an lcore does, as values: its poll loop (lcore_loop.hpp) runs a list
// of registered jobs, once each per iteration, in the order they were added.
// A role is the set of jobs an lcore is given when the data plane is set up
// (eal_dataplane.cpp): a router worker gets route, control, age, tickle and flush
// jobs, worker 0 also the ARP resolver, a dispatch lcore the dispatch job.
// A new role (standby follower, mirror parser, bulk insert) is a new job in
// a file of its own, not a branch in the loop (as dpvs' registered lcore
// jobs and testpmd's forwarding engines).
#pragma once

#include <cstdint>
#include <string_view>

namespace cg::dp {

struct snapshot;

/// What one iteration of the loop hands every job.
struct loop_tick {
    const snapshot* snap;  ///< the configuration for this iteration; nullptr on lcores that read none
    std::uint32_t now_ms;  ///< the workers' clock (tsc_clock.hpp)
};

class lcore_job {
public:
    virtual ~lcore_job() = default;
    /// Names the job in logs and the lcore views.
    virtual std::string_view name() const noexcept = 0;
    /// One turn. Returns the packets it moved: 0 means it found nothing to do,
    /// and an iteration where every job returns 0 is idle. Must not block,
    /// allocate or log. Called from: the lcore that runs the loop.
    virtual unsigned run(const loop_tick& t) noexcept = 0;
};

}  // namespace cg::dp
