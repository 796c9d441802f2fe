// Per-lcore counters (requirements 3.3).
//
// Ownership: every counter block belongs to one lcore, which is its only
// writer. The control thread reads blocks of all lcores and sums them; it
// never writes or resets them (readers take deltas). Reads and writes are
// relaxed atomics on aligned 64-bit words: plain loads and stores on x86,
// but free of data races in C++ terms.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "dataplane/pkt/drop_reason.hpp"

namespace cg::dp {

struct counter {
    std::uint64_t v = 0;
    /// Called from: the owning lcore only.
    void add(std::uint64_t n = 1) noexcept { __atomic_store_n(&v, v + n, __ATOMIC_RELAXED); }
    void sub(std::uint64_t n = 1) noexcept { __atomic_store_n(&v, v - n, __ATOMIC_RELAXED); }
    void set(std::uint64_t n) noexcept { __atomic_store_n(&v, n, __ATOMIC_RELAXED); }
    /// Thread-safety: any thread.
    std::uint64_t read() const noexcept { return __atomic_load_n(&v, __ATOMIC_RELAXED); }
};

/// What happened to connection entries (requirements 2.3, 2.4, 2.7).
enum class conn_event : std::uint8_t {
    created,        ///< a SYN (or a UDP datagram) without an entry made one
    syn_reopened,   ///< a SYN on an existing entry: ACTIVE again, same node
    fin_seen,       ///< ACTIVE -> FIN
    reset,          ///< RST removed the entry
    expired_stale,  ///< ACTIVE entry idle for STALE_TIME_OUT
    expired_fin,    ///< FIN entry idle for FIN_TIME_OUT
    node_gone,      ///< the entry's node slot was released
    restored,       ///< put back by a bulk insert (after a restart or a takeover)
    learned,        ///< standby: a mirrored frame, not a SYN, of a connection it did not know made an entry
    node_failed,    ///< the entry's node was marked failed: erased at its next packet (a TCP segment is reset)
    count_
};
inline constexpr std::size_t conn_event_count = static_cast<std::size_t>(conn_event::count_);
inline constexpr std::array<std::string_view, conn_event_count> conn_event_names = {
    "created", "syn_reopened", "fin_seen", "reset",   "expired_stale",
    "expired_fin", "node_gone", "restored", "learned", "node_failed",
};

/// How long busy poll iterations took, in power-of-two microsecond buckets:
/// bucket 0 is under 1 us, bucket b covers [2^(b-1), 2^b) us, the last one
/// everything longer. A stall of the packet path shows here first.
inline constexpr std::size_t loop_time_buckets = 16;
inline std::size_t loop_time_bucket(std::uint64_t us) noexcept {
    const std::size_t b = us == 0 ? 0 : static_cast<std::size_t>(64 - __builtin_clzll(us));
    return b < loop_time_buckets ? b : loop_time_buckets - 1;
}

/// Everything one worker counts that is not per node or per service.
struct alignas(64) worker_stats {
    counter rx_pkts, rx_bytes;
    counter fwd_pkts, fwd_bytes;   ///< forwarded to a node
    counter tx_pkts;               ///< handed to the NIC (forwarded + replies + ARP requests)
    counter arp_replies, icmp_replies, arp_requests, arp_learn_lost;
    counter garps_sent;            ///< gratuitous ARP announcements (on becoming active)
    counter consumed;              ///< ARP taken without an answer: replies, requests for other hosts
    counter tcp_resets;            ///< TCP segments of unknown connections answered with a reset
    counter resets_limited;        ///< of those, dropped instead by the rate limit (counted as no_connection too)
    counter tickles_sent;          ///< bare ACKs to a failed node's clients, so that they answer and get a reset
    counter tickles_no_peer;       ///< a failed node's connections whose client source is unknown: not tickled
    counter tickles_resent;        ///< of tickles_sent, those of a later round: the first one went unanswered

    // The mirror (requirements 3.2). Active: copies of forwarded frames to the mirror port.
    counter mirror_sent;           ///< copies handed to the mirror port's TX queue (or the dispatch lcore's ring)
    counter mirror_dropped;        ///< copies not sent: no mbuf to clone into, or the queue or ring was full
    // Standby: frames received on the mirror port, each counted once here.
    counter mirror_followed;       ///< applied to the connection table
    counter mirror_unknown_service;  ///< to no cluster port of ours
    counter mirror_unknown_node;   ///< to a MAC that is no node of that cluster port
    counter mirror_ignored;        ///< not followed: the gateway is active, or the frame is no TCP/UDP flow

    std::array<counter, conn_event_count> conn_events;
    counter loops, busy_loops;     ///< poll iterations, and those that found packets
    std::array<counter, loop_time_buckets> loop_time;  ///< busy iterations by duration (loop_time_bucket)
    counter conns;                 ///< entries in the worker's table now (a gauge)
    std::array<counter, drop_reason_count> drops;

    /// Every received packet ends in exactly one of these.
    std::uint64_t accounted() const noexcept {
        return fwd_pkts.read() + arp_replies.read() + icmp_replies.read() + tcp_resets.read() + consumed.read() +
               mirror_followed.read() + mirror_unknown_service.read() + mirror_unknown_node.read() +
               mirror_ignored.read() + drops_total();
    }

    counter& event(conn_event e) noexcept { return conn_events[static_cast<std::size_t>(e)]; }
    const counter& event(conn_event e) const noexcept { return conn_events[static_cast<std::size_t>(e)]; }

    std::uint64_t drops_total() const noexcept {
        std::uint64_t s = 0;
        for (const auto& d : drops) s += d.read();
        return s;
    }
};

/// Per node slot, per worker (requirements 2.1 node counters). `active` and `fin`
/// are gauges: the worker adds on entry and subtracts on leave, so the sum
/// over workers is the number of entries in that state.
struct node_stats {
    counter new_conns, completed, active, fin, pkts, bytes;
};

/// Per service slot (cluster port), per worker.
struct service_stats {
    counter pkts, new_conns, no_node;
};

}  // namespace cg::dp
