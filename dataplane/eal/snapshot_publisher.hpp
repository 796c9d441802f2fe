// Publishes snapshots to the workers with RCU (rte_rcu_qsbr): the control
// thread swaps the pointer, waits until every worker has passed a quiescent
// point, then frees the old snapshot. Workers never take a lock and never
// see a half-applied change.
//
// Ownership: the publisher owns the current snapshot. Workers read it
// between their acquire() and their next quiescent() only.
#pragma once

#include <atomic>
#include <memory>

#include "dataplane/tables/snapshot.hpp"

struct rte_rcu_qsbr;

namespace cg::dp {

class snapshot_publisher {
public:
    /// Reader ids are 0..readers-1 (the worker indexes). Throws on allocation failure.
    explicit snapshot_publisher(unsigned readers);
    ~snapshot_publisher();
    snapshot_publisher(const snapshot_publisher&) = delete;
    snapshot_publisher& operator=(const snapshot_publisher&) = delete;

    /// Called from: worker `id`, once at start / once at exit.
    void reader_start(unsigned id) noexcept;
    void reader_stop(unsigned id) noexcept;

    /// Called from: workers, once per poll iteration.
    const snapshot* acquire() const noexcept { return _current.load(std::memory_order_acquire); }
    void quiescent(unsigned id) noexcept;
    /// Around an idle sleep, so that a publish does not wait for the sleeper.
    void offline(unsigned id) noexcept;
    void online(unsigned id) noexcept;

    /// Called from: the control thread. Returns once the previous snapshot
    /// is unreachable and freed.
    void publish(std::unique_ptr<snapshot> s);

private:
    rte_rcu_qsbr* _qs = nullptr;
    std::atomic<const snapshot*> _current{nullptr};
    std::unique_ptr<snapshot> _owned;
};

}  // namespace cg::dp
