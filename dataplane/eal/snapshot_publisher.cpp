#include "dataplane/eal/snapshot_publisher.hpp"

#include <stdexcept>

#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

namespace cg::dp {

snapshot_publisher::snapshot_publisher(unsigned readers) {
    const size_t size = rte_rcu_qsbr_get_memsize(readers);
    _qs = static_cast<rte_rcu_qsbr*>(rte_zmalloc("cg_qsbr", size, RTE_CACHE_LINE_SIZE));
    if (!_qs || rte_rcu_qsbr_init(_qs, readers) != 0) {
        rte_free(_qs);
        throw std::runtime_error("cannot set up RCU for the workers (rte_rcu_qsbr)");
    }
}

snapshot_publisher::~snapshot_publisher() { rte_free(_qs); }

void snapshot_publisher::reader_start(unsigned id) noexcept {
    rte_rcu_qsbr_thread_register(_qs, id);
    rte_rcu_qsbr_thread_online(_qs, id);
}

void snapshot_publisher::reader_stop(unsigned id) noexcept {
    rte_rcu_qsbr_thread_offline(_qs, id);
    rte_rcu_qsbr_thread_unregister(_qs, id);
}

void snapshot_publisher::quiescent(unsigned id) noexcept { rte_rcu_qsbr_quiescent(_qs, id); }
void snapshot_publisher::offline(unsigned id) noexcept { rte_rcu_qsbr_thread_offline(_qs, id); }
void snapshot_publisher::online(unsigned id) noexcept { rte_rcu_qsbr_thread_online(_qs, id); }

void snapshot_publisher::publish(std::unique_ptr<snapshot> s) {
    std::unique_ptr<snapshot> old = std::move(_owned);
    _owned = std::move(s);
    _current.store(_owned.get(), std::memory_order_release);
    rte_rcu_qsbr_synchronize(_qs, RTE_QSBR_THRID_INVALID);
    // `old` goes here: no worker can still hold it.
}

}  // namespace cg::dp
