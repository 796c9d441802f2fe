// What the active gateway copies to its mirror port (requirements 3.2), as the
// snapshot carries it: the port, the mode, the refresh interval. The nodes
// whose connections are mirrored carry snap_node::mirrored.
//
// Thread-safety: a value inside an immutable snapshot; read by workers.
#pragma once

#include <cstdint>

#include "dataplane/pkt/wire.hpp"

namespace cg::dp {

struct mirror_policy {
    bool on = false;           ///< a mirror port is configured
    bool every_frame = false;  ///< else state changes and refreshes only
    std::uint16_t port = 0;    ///< DPDK port id of the mirror port
    std::uint32_t refresh_ms = 1000;

    /// Whether a frame forwarded on a mirrored node's connection is copied.
    /// `tcp_flags` is 0 for UDP; `created`: the frame made the entry;
    /// `prev_seen`: the entry's last_seen before this frame; `hash`: the
    /// flow hash.
    ///
    /// A refresh is due when the frame falls in another interval than the
    /// connection's previous frame: derived from last_seen, it needs no byte
    /// of the connection entry, and it sends one copy per interval at most
    /// while the connection is busy. The intervals start at an offset given
    /// by the hash, so that many connections do not refresh at one instant.
    bool copies(std::uint8_t tcp_flags, bool created, std::uint32_t prev_seen, std::uint32_t now,
                std::uint32_t hash) const noexcept {
        if (every_frame || created || (tcp_flags & (wire::tcp_syn | wire::tcp_fin | wire::tcp_rst))) return true;
        return (now + hash) / refresh_ms != (prev_seen + hash) / refresh_ms;
    }
};

}  // namespace cg::dp
