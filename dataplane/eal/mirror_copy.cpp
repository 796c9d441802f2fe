#include "dataplane/eal/mirror_copy.hpp"

#include <rte_mbuf.h>

namespace cg::dp {

void mirror_copy::copy(rte_mbuf* m) noexcept {
    rte_mbuf* c = rte_pktmbuf_clone(m, _clones);
    if (!c) {
        _stats.mirror_dropped.add();
        return;
    }
    _tx.send(_port, c);  // tx_batch counts it mirror_sent, or mirror_dropped if the queue is full
}

}  // namespace cg::dp
