// The clients of a failed node that send nothing (docs/operations.md "A node
// fails"): one waiting for the answer to a request the dead node had
// acknowledged would wait out its own timeout, since the router resets a
// failed node's connection only at its client's next segment. The sweep
// tickles each: a bare ACK from the cluster address, its sequence number out
// of the client's window (0), as CTDB's tickle ACKs do. The client answers an
// unacceptable segment with an ACK that carries its real sequence numbers
// (RFC 793 3.9; Linux tcp_send_dupack), and that segment gets the router's
// RST, whose sequence number is then exactly what the client expects.
//
// Each time the snapshot's failed_epoch moves (a node more marked failed),
// the sweep walks the worker's connection table three times, the most
// recently used first: entries seen within the last second, then within 30
// seconds, then the rest; a bounded slice of slots and of tickles per turn,
// so that forwarding never waits. Entries whose client source is unknown
// (restored or learned, and silent since) cannot be tickled: counted.
//
// A client's answer can be lost (an RX ring that overflowed, a dropped
// frame): its entry then stays, since only the answer's RST removes it. So
// a round that tickled anyone is followed, a second later, by another over
// the entries still there, up to `rounds` rounds. The gap is past Linux's
// limit of one ACK to out-of-window segments per socket and 500 ms
// (net.ipv4.tcp_invalid_ratelimit): an earlier tickle would go unanswered.
// Tickles of the later rounds are counted again as tickles_resent.
//
// Pure: the snapshot, the table and the peers in; tickles out through a
// sink (the EAL glue, dataplane/eal/tickle_job.cpp, builds and sends them).
// Ownership: one per worker, run by that worker's loop. Not thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "dataplane/router/conn_table.hpp"
#include "dataplane/router/counters.hpp"
#include "dataplane/router/peer_macs.hpp"
#include "dataplane/tables/snapshot.hpp"

namespace cg::dp {

class failed_sweep {
public:
    /// Where the tickles go.
    class sink {
    public:
        virtual ~sink() = default;
        /// Sends a tickle to the client of `e` through `to`; false when it
        /// cannot now (no mbuf): the entry is tried again at the next turn.
        virtual bool tickle(const conn_entry& e, const peer_macs::peer& to) noexcept = 0;
    };
    /// Upper age (ms since its last packet) of the entries of each pass.
    static constexpr std::array<std::uint32_t, 3> pass_age = {1'000, 30'000, UINT32_MAX};
    /// Rounds of one sweep at most, and the gap from one round's end to the next.
    static constexpr std::uint8_t rounds = 3;
    static constexpr std::uint32_t round_gap_ms = 1'000;

    /// One turn at `now`: up to `slots` slots and `tickles` tickles. Returns
    /// the tickles sent.
    std::uint32_t step(const snapshot& snap, const conn_table& table, const peer_macs& peers, std::uint32_t now,
                       sink& out, worker_stats& stats, std::uint32_t slots = 4096,
                       std::uint32_t tickles = 64) noexcept;

    /// A round is walking the table.
    bool sweeping() const noexcept { return _pass < pass_age.size(); }
    /// A round is due (at its time) after the one that ended.
    bool round_due() const noexcept { return !sweeping() && _round_sent > 0 && _round + 1 < rounds; }

private:
    void begin_round() noexcept;

    std::uint32_t _epoch = 0;
    std::uint32_t _cursor = 0;
    std::uint32_t _round_sent = 0;   ///< tickles of the current (or the last ended) round
    std::uint32_t _next_round_ms = 0;  ///< when round_due(): the time it begins
    std::uint8_t _round = 0;
    std::uint8_t _pass = pass_age.size();  ///< pass_age.size(): no round running
};

}  // namespace cg::dp
