#include "dataplane/eal/parser_job.hpp"

#include <algorithm>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "dataplane/router/router.hpp"

namespace cg::dp {

unsigned parser_job::run(const loop_tick& t) noexcept {
    rte_mbuf* pkts[router::max_burst];
    const unsigned n = rte_ring_sc_dequeue_burst(_frames, reinterpret_cast<void**>(pkts),
                                                 std::min<unsigned>(_burst, router::max_burst), nullptr);
    for (unsigned i = 0; i < n; ++i)
        _table.frame(rte_pktmbuf_mtod(pkts[i], const std::uint8_t*), rte_pktmbuf_data_len(pkts[i]), t.now_ms);
    if (n > 0) rte_pktmbuf_free_bulk(pkts, n);
    _table.age(t.now_ms, age_budget);
    void* req = nullptr;
    if (rte_ring_sc_dequeue(_requests, &req) == 0) {
        auto* r = static_cast<parser_request*>(req);
        if (r->what == parser_request::kind::restore)
            mirror::take_restore_batch(_table, r->node, t.now_ms, r->batch);
        else
            mirror::take_snapshot(_table, t.now_ms, r->snap);
        r->now_ms = t.now_ms;
        r->done.store(true, std::memory_order_release);
    }
    return n;
}

}  // namespace cg::dp
