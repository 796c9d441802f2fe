#include "dataplane/mirror/node_watch.hpp"

namespace cg::dp::mirror {

std::uint64_t node_watch::key_of(const std::uint8_t* mac) noexcept {
    std::uint64_t k = 0;
    for (int i = 0; i < 6; ++i) k = k << 8 | mac[i];
    return k;
}

node_seen* node_watch::find(std::uint64_t node) noexcept {
    if (node == 0) return nullptr;
    auto i = static_cast<std::uint32_t>((node * 0x9e3779b97f4a7c15ull) >> 56);  // capacity 256: the top 8 bits
    for (std::uint32_t probes = 0; probes < capacity; ++probes, i = (i + 1) & (capacity - 1)) {
        node_seen& e = _n[i];
        if (e.mac == node) return &e;
        if (e.mac == 0) {
            if (_used == capacity - 1) break;  // one entry stays free: every search ends
            ++_used;
            e.mac = node;
            return &e;
        }
    }
    ++_untracked;
    return nullptr;
}

void node_watch::heard(std::uint64_t node, std::uint32_t now_ms) noexcept {
    node_seen* e = find(node);
    if (!e) return;
    e->heard = true;
    e->heard_ms = now_ms;
    e->waiting = false;
    e->retransmits = 0;
}

void node_watch::retransmitted(std::uint64_t node, std::uint32_t now_ms) noexcept {
    node_seen* e = find(node);
    if (!e) return;
    if (!e->waiting) {
        e->waiting = true;
        e->waiting_ms = now_ms;
    }
    ++e->retransmits;
}

}  // namespace cg::dp::mirror
