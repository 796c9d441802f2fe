// The narrow interface between the controller (control logic, no DPDK) and
// the running data plane (lcores, ports, RCU). The real one is
// eal_dataplane.cpp; tests use an in-process fake with real routers and no
// EAL (test/support/fake_dataplane.hpp).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/ctl_msg.hpp"
#include "dataplane/ctl/parser_request.hpp"
#include "dataplane/ctl/worker_job.hpp"
#include "dataplane/router/counters.hpp"
#include "dataplane/router/router.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

class dp_adapter {
public:
    virtual ~dp_adapter() = default;

    /// Makes `s` the snapshot every worker routes by, and frees the previous
    /// one once no worker can still be reading it. Called from: control thread.
    virtual void publish(std::unique_ptr<snapshot> s) = 0;
    virtual const snapshot& current() const = 0;

    virtual std::size_t worker_count() const = 0;
    /// Counter blocks of worker `w` (read-only; counters.hpp says how).
    virtual const worker_stats& stats(std::size_t w) const = 0;
    virtual std::span<const node_stats> nodes(std::size_t w) const = 0;
    virtual std::span<const service_stats> services(std::size_t w) const = 0;
    /// The dispatch lcore's counters (drops included), if there is one.
    virtual const worker_stats* io_stats() const { return nullptr; }

    /// Hands `job` to worker `w`, which runs it between two bursts and then
    /// sets `job->done`; never waits for that. Returns false if the worker
    /// cannot take it now (its job ring is full, or the workers are not
    /// running). The adapter keeps the job alive until the worker is done
    /// with it, so a caller that stops waiting may drop its own reference.
    /// Called from: the control thread, under the controller's lock (the job
    /// rings have one producer).
    virtual bool post_job(std::size_t w, std::shared_ptr<worker_job> job) = 0;

    /// The worker whose table holds the flows of `hash`: the one the
    /// dispatch lcore picks, or the only one. nullopt when the NIC picks
    /// (RSS over several queues, a hash software does not know): a flow put
    /// back then goes into every worker's table.
    virtual std::optional<std::size_t> owner_of(std::uint32_t hash) const {
        return worker_for_hash(hash, static_cast<std::uint32_t>(worker_count()));
    }

    /// Mirror parser lcores (mirror_parser.lcores; 0: none).
    virtual std::size_t parser_count() const { return 0; }
    /// Hands `req` to parser lcore `p`, as post_job does to a worker: false
    /// if it cannot take it now. The adapter keeps it alive until done.
    /// Called from: the control thread, under the controller's lock.
    virtual bool post_parser(std::size_t /*p*/, std::shared_ptr<parser_request> /*req*/) { return false; }
    /// The SPAN reader's counters (zeros without a mirror parser).
    virtual std::array<std::uint64_t, span_event_count> span_counts() const { return {}; }

    /// Node MACs the workers saw in ARP traffic since the last call.
    virtual std::vector<arp_learned> take_learned() = 0;

    /// Ports with their NIC counters; lcores with their roles.
    virtual std::vector<common::api::port_view> port_views() const = 0;
    virtual std::vector<common::api::lcore_view> lcore_views() const = 0;

    /// The workers' clock (milliseconds, wraps at 2^32).
    virtual std::uint32_t now_ms() const = 0;
};

}  // namespace cg::dp
