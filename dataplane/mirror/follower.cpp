#include "dataplane/mirror/follower.hpp"

#include <cstring>

#include "dataplane/pkt/classify.hpp"

namespace cg::dp {

follow_outcome follower::follow(const snapshot& snap, const std::uint8_t* frame, std::uint32_t len,
                                std::uint32_t now) noexcept {
    _router.state().stats.rx_pkts.add();
    _router.state().stats.rx_bytes.add(len);
    // The active forwards and copies; what reaches its mirror port is not its business.
    if (snap.role != gateway_role::standby) return count(follow_outcome::ignored);
    pkt_info info;
    if (classify(frame, len, info) || (info.kind != pkt_kind::tcp && info.kind != pkt_kind::udp))
        return count(follow_outcome::ignored);

    const snap_service* svc = snap.find_service(info.key.daddr, info.key.proto, info.key.dport);
    if (!svc) return count(follow_outcome::unknown_service);
    common::mac_addr dst;
    std::memcpy(dst.b.data(), frame, dst.b.size());
    const int node = snap.find_node(static_cast<std::uint16_t>(svc - snap.services.data()), dst);
    if (node < 0) return count(follow_outcome::unknown_node);

    const auto r = _router.follow(snap, info, common::flow_hash(info.key), static_cast<std::uint16_t>(node), now);
    return count(r == router::follow_result::full ? follow_outcome::table_full : follow_outcome::followed);
}

follow_outcome follower::count(follow_outcome o) noexcept {
    worker_stats& s = _router.state().stats;
    switch (o) {
    case follow_outcome::followed: s.mirror_followed.add(); break;
    case follow_outcome::unknown_service: s.mirror_unknown_service.add(); break;
    case follow_outcome::unknown_node: s.mirror_unknown_node.add(); break;
    case follow_outcome::ignored: s.mirror_ignored.add(); break;
    case follow_outcome::table_full: break;  // router::follow counted conn_table_full
    }
    return o;
}

}  // namespace cg::dp
