// What the mirror shows of each followed node (requirements 6.3): when a
// frame from it was last seen, and whether its clients have been
// retransmitting to it since. A node whose kernel still runs acknowledges
// what it gets, so clients retransmit to a node only when its host, its
// kernel or its link is gone: with that node silent, this is the mirror's
// own sign of a dead node, needing neither its agent nor a probe. (A node
// only slow to answer gets no retransmissions: its kernel acknowledges.)
//
// A node is its MAC address, as the router forwards to it (the server end's
// IP address is the cluster's, on every node's `lo`). One per parser lcore,
// fed by parser_table::frame for each followed segment; fixed room
// (`capacity` nodes, open addressing, never emptied: a cluster's nodes are
// few and stay), no allocation. A node past the room is not watched, and
// counted.
//
// Thread-safety: none; its parser lcore only (copied out by take_snapshot).
#pragma once

#include <array>
#include <cstdint>

namespace cg::dp::mirror {

struct node_seen {
    std::uint64_t mac = 0;        ///< the node's MAC, its 6 bytes in order; 0: a free entry
    bool heard = false;           ///< a frame from it was seen
    bool waiting = false;         ///< a client retransmitted to it since it was last heard
    std::uint32_t heard_ms = 0;   ///< its last frame
    std::uint32_t waiting_ms = 0; ///< the first retransmission since
    std::uint32_t retransmits = 0;  ///< retransmissions since it was last heard
};

class node_watch {
public:
    static constexpr std::uint32_t capacity = 256;  ///< power of two

    /// The key of a MAC's 6 bytes.
    static std::uint64_t key_of(const std::uint8_t* mac) noexcept;

    /// A frame from `node` (key_of its MAC) at `now_ms`: it answers; nobody waits any more.
    void heard(std::uint64_t node, std::uint32_t now_ms) noexcept;
    /// A client's retransmission to `node` at `now_ms`.
    void retransmitted(std::uint64_t node, std::uint32_t now_ms) noexcept;

    /// Every entry, free ones (mac 0) included, in no order.
    const std::array<node_seen, capacity>& entries() const noexcept { return _n; }
    /// Frames of nodes that found no room.
    std::uint64_t untracked() const noexcept { return _untracked; }

private:
    node_seen* find(std::uint64_t node) noexcept;

    std::array<node_seen, capacity> _n{};
    std::uint32_t _used = 0;
    std::uint64_t _untracked = 0;
};

}  // namespace cg::dp::mirror
