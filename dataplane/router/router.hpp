// The weighted connection router (requirements 2.2 to 2.7): a function from frame
// bytes, the current snapshot and this worker's state to a verdict. No I/O:
// the DPDK glue (worker.cpp) moves the packets; tests and fuzzers call it
// directly.
//
// Ownership: one router per worker lcore, owning that worker's connection
// table, WRR states and counters. Not thread-safe; the control thread reads
// only the counters (counters.hpp explains how).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>

#include "dataplane/pkt/classify.hpp"
#include "dataplane/router/conn_table.hpp"
#include "dataplane/router/counters.hpp"
#include "dataplane/router/peer_macs.hpp"
#include "dataplane/router/wrr.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

enum class action : std::uint8_t {
    drop,     ///< counted under `why`; the caller frees the packet
    forward,  ///< Ethernet header rewritten for the node; send on `tx_port`
    reply,    ///< rewritten into a reply (ARP, ICMP); send on the ingress port
    consume,  ///< nothing to send, nothing wrong (an ARP reply we learned from)
};

struct verdict {
    action act = action::drop;
    drop_reason why = drop_reason::count_;
    std::uint16_t tx_port = 0;
    std::uint16_t len = 0;  ///< reply: the frame's new length, when it shrank (a TCP reset); 0: unchanged
    bool mirror = false;    ///< forward: also send a copy to the mirror port (snapshot::mirror)
};

/// A node MAC seen in ARP traffic, for the control thread to adopt.
struct arp_learned {
    common::ipv4_addr ip;
    common::mac_addr mac;
    std::uint16_t port;
};

/// What the router would do with a flow's next packet (simulate flow).
struct simulation {
    enum class outcome : std::uint8_t { existing, new_connection, dropped } what = outcome::dropped;
    drop_reason why = drop_reason::count_;  ///< when dropped
    std::uint16_t node = 0;                 ///< node slot
    conn_state state = conn_state::empty;   ///< of an existing connection
    std::uint32_t idle_ms = 0;
};

/// Per-worker state the router works on; memory owned by the caller.
struct router_state {
    conn_table& conns;
    std::span<wrr_state> wrr;           ///< by service slot
    worker_stats& stats;
    std::span<node_stats> nodes;        ///< by node slot
    std::span<service_stats> services;  ///< by service slot
    peer_macs& peers;                   ///< the clients' link-layer sources (conn_entry::peer)
};

class router {
public:
    static constexpr std::uint32_t max_burst = 64;
    static constexpr std::uint32_t max_learned = 16;
    /// TCP resets a worker sends per second at most (a burst of as many);
    /// segments beyond are dropped as no_connection, and counted.
    static constexpr std::uint32_t resets_per_s = 10'000;

    explicit router(router_state st) noexcept : _s(st) {}

    /// Routes a burst of frames; frame i arrived on port in_ports[i].
    /// `now_ms` is the worker clock. Frames are rewritten in place. Only the
    /// first max_burst frames are looked at.
    void route_burst(const snapshot& snap, std::uint8_t* const* frames, const std::uint32_t* lens,
                     const std::uint16_t* in_ports, std::uint32_t n, std::uint32_t now_ms, verdict* out) noexcept;

    verdict route(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, std::uint16_t in_port,
                  std::uint32_t now_ms) noexcept {
        verdict v;
        route_burst(snap, &frame, &len, &in_port, 1, now_ms, &v);
        return v;
    }

    /// Ages the table incrementally (requirements 2.7): visits a slice of slots in
    /// proportion to the time since the last call. Returns entries removed.
    std::uint32_t age(const snapshot& snap, std::uint32_t now_ms) noexcept;

    /// Which node a SYN (or UDP datagram) of `k` would reach now, without
    /// changing any state: the existing entry's node, or the next WRR pick.
    simulation simulate(const snapshot& snap, const common::flow_key& k, std::uint32_t now_ms) noexcept;

    /// What restore() did with an entry.
    enum class restore_result : std::uint8_t { inserted, replaced, kept, full };
    /// Puts a connection back (bulk insert, after a restart or a takeover):
    /// `in` gives its key, hash, node slot and generation, and state. An
    /// entry that exists is kept as it is or, with `replace`, given `in`'s
    /// node and state. Counted as a connection of that node, idle from now.
    restore_result restore(const conn_entry& in, bool replace, std::uint32_t now_ms) noexcept;

    /// What follow() did with a mirrored frame.
    enum class follow_result : std::uint8_t { created, learned, updated, removed, absent, full };
    /// Applies a frame the active gateway forwarded to node slot `node` (the
    /// standby's mirror follower, requirements 3.2) as route() would have: RST
    /// removes the entry; SYN makes it ACTIVE (a new one is counted
    /// `created`); FIN moves it to FIN; every frame refreshes its time. A
    /// frame of a connection the table does not know makes an entry too
    /// (`learned`, in FIN state for a FIN): the active copies only what it
    /// forwarded, so it holds that connection. An entry on another node
    /// moves to `node`. `info` must be a TCP or UDP frame's; `node` in use.
    follow_result follow(const snapshot& snap, const pkt_info& info, std::uint32_t hash, std::uint16_t node,
                         std::uint32_t now_ms) noexcept;

    /// Node MACs learned since the last clear_learned(); the caller forwards them.
    std::span<const arp_learned> learned() const noexcept { return {_learned.data(), _n_learned}; }
    void clear_learned() noexcept { _n_learned = 0; }

    conn_table& conns() noexcept { return _s.conns; }
    const router_state& state() const noexcept { return _s; }

    /// Slots visited per millisecond by age(): a full pass takes about a
    /// second up to 1 Mi slots, longer for larger tables (16 s at 16 Mi).
    static std::uint32_t sweep_rate(std::uint32_t slot_count) noexcept;

private:
    verdict route_one(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, const pkt_info& info,
                      std::uint32_t hash, std::uint16_t in_port, std::uint32_t now) noexcept;
    verdict route_flow(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, const pkt_info& info,
                       std::uint32_t hash, std::uint16_t in_port, std::uint32_t now) noexcept;
    verdict handle_arp(const snapshot& snap, std::uint8_t* frame, const pkt_info& info, std::uint16_t in_port) noexcept;
    verdict handle_icmp(const snapshot& snap, std::uint8_t* frame, const pkt_info& info, std::uint16_t in_port) noexcept;
    verdict forward(const snapshot& snap, std::uint8_t* frame, std::uint32_t len, std::uint16_t node) noexcept;
    /// A TCP segment without SYN and without an entry: a reset when its
    /// entry just went with its failed node, or inside the snapshot's reset
    /// window (rate-limited), else a drop.
    verdict unknown_segment(const snapshot& snap, std::uint8_t* frame, const pkt_info& info, std::uint16_t in_port,
                            std::uint32_t now, bool node_failed) noexcept;
    /// The segment turned into its reset, back out of `in_port` (counted).
    verdict reply_reset(const snapshot& snap, std::uint8_t* frame, const pkt_info& info, std::uint16_t in_port) noexcept;
    /// The client source of a frame that came in on `in_port` (peer_macs index).
    std::uint16_t learn_peer(const std::uint8_t* frame, std::uint16_t in_port) noexcept;
    verdict drop(drop_reason r) noexcept {
        _s.stats.drops[static_cast<std::size_t>(r)].add();
        return {action::drop, r, 0};
    }
    bool expired(const conn_entry& e, const snap_node& n, std::uint32_t now) const noexcept;
    /// Counters for an entry about to be erased. RST and the FIN timer end a
    /// connection normally (completed); the stale timer, a released node
    /// slot and a failed node do not.
    enum class conn_exit : std::uint8_t { rst, fin_timeout, stale_timeout, node_gone, node_failed };
    /// A hit whose node slot was released, whose node failed or whose timer
    /// ran out is erased (counted) and looked up again: `pr` is then the miss.
    /// Returns why, or nullopt for a live entry (or a miss).
    std::optional<conn_exit> drop_dead(const snapshot& snap, conn_table::probe& pr, const common::flow_key& k,
                                       std::uint32_t hash, std::uint32_t now) noexcept;
    /// A live entry's next packet (requirements 2.3), but RST: SYN makes it ACTIVE,
    /// FIN moves ACTIVE to FIN, the time stamp is refreshed.
    void touch(conn_entry& e, std::uint8_t tcp_flags, std::uint32_t now) noexcept;
    /// Fills the miss `pr` with a connection of node slot `node` in `state`,
    /// counted on the node (the table must not be full).
    conn_entry& create(const snapshot& snap, conn_table::probe pr, const common::flow_key& k, std::uint32_t hash,
                       std::uint16_t node, conn_state state, std::uint32_t now) noexcept;
    void leave(const conn_entry& e, conn_exit why) noexcept;

    router_state _s;
    std::array<arp_learned, max_learned> _learned{};
    std::uint32_t _n_learned = 0;
    std::uint32_t _last_age_ms = 0;
    std::uint32_t _reset_tokens = resets_per_s;
    std::uint32_t _reset_refilled_ms = 0;
    bool _aged_once = false;
};

}  // namespace cg::dp
