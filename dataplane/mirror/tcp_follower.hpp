// The mirror parser's TCP follower (requirements 6.2, docs/architecture.md
// "The mirror parser"): one object per TCP connection seen on a mirror
// port fed by a switch's SPAN, which copies BOTH directions of a node's
// port. It is given every segment of the connection, either way, and
//
//  - records the handshake: each side's ISN, MSS, window scale,
//    SACK-permitted and timestamps (the latest TSval each side sent), all
//    that re-creating the server's socket needs (TCP_REPAIR);
//  - follows each direction's sequence space (mod 2^32): the next byte
//    expected, the peer's last acknowledgement, the last window;
//  - reassembles each direction's bytes and hands them IN ORDER, each
//    byte exactly once, to a tcp_sink (the record framer);
//  - declares a gap when bytes are lost to the mirror, reports its length
//    to the sink and resynchronises after it; it never guesses bytes;
//  - says whether what it knows is complete, or why not.
//
// Pure: segments in, sink calls and counters out. No DPDK, no I/O, no
// allocation: the out-of-order buffers live in storage the owner gives
// (storage_bytes(config)), as conn_table's slots do.
//
// Reassembly model (after Zeek's TCP_Reassembler and Suricata's
// stream-tcp, written anew): a segment at the next expected byte is
// delivered straight from the packet; one further ahead is copied into
// the direction's ring of `ooo_bytes` (at most max_held_ranges disjoint
// ranges) until the hole before it fills. Bytes that overlap bytes
// already delivered or held are trimmed: the first copy wins (a
// retransmission that contradicts held bytes is counted).
//
// Gaps: bytes [next, x) are declared lost when
//  - the receiver acknowledged them (its ACK reached x) and the mirror has
//    seen the sender go past them (a later segment of the same direction,
//    held or arriving). Waiting for that second piece of evidence keeps a
//    SPAN that copies an ACK ahead of the data it acknowledges (the two
//    directions reach the mirror port by different paths) from declaring
//    a false gap;
//  - a segment lies beyond what the ring can hold (ooo_bytes past the next
//    byte) or needs one range too many: the oldest hole is given up;
//  - the connection ends (RST, finish()) with bytes still missing.
// Adjacent gaps are reported as one. A segment more than `max_ahead` away
// from the next byte is out of window: counted and ignored, never a gap.
//
// Ownership: one per followed connection, owned by the parser lcore that
// its hash lands on. Not thread-safe. Called from: the mirror parser lcore.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include "dataplane/mirror/app_message.hpp"

namespace cg::dp::mirror {

// ---- sequence numbers ------------------------------------------------------

/// Signed distance a - b in sequence space (mod 2^32).
constexpr std::int32_t seq_diff(std::uint32_t a, std::uint32_t b) noexcept {
    return static_cast<std::int32_t>(a - b);
}
constexpr bool seq_before(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) < 0; }
constexpr bool seq_after(std::uint32_t a, std::uint32_t b) noexcept { return seq_diff(a, b) > 0; }

// ---- input -----------------------------------------------------------------

/// TCP options of one segment, as far as the follower reads them.
struct tcp_options {
    bool mss_seen = false;
    std::uint16_t mss = 0;
    bool wscale_seen = false;
    std::uint8_t wscale = 0;  ///< shift count, clamped to 14 (RFC 7323 2.3)
    bool sack_permitted = false;
    bool ts_seen = false;
    std::uint32_t tsval = 0, tsecr = 0;
};

/// Reads the option bytes of a TCP header (after its first 20 bytes) into
/// `out`. Returns false on a malformed list (a length below 2, an option
/// running past the end, a known option of the wrong length, a window
/// scale above 14, which is clamped); what was read before it stays in
/// `out`. Never reads past `opts`. Thread-safety: reentrant.
bool parse_tcp_options(std::span<const std::uint8_t> opts, tcp_options& out) noexcept;

/// One segment of the connection, either way: the TCP header's fields as
/// on the wire (host byte order) and its payload. The spans need only
/// live for the call.
struct tcp_segment {
    direction dir = direction::to_server;
    std::uint32_t seq = 0;
    std::uint32_t ack = 0;
    std::uint8_t flags = 0;    ///< FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10 (wire::tcp_*)
    std::uint16_t window = 0;  ///< as on the wire, not scaled
    std::span<const std::uint8_t> options;  ///< the option bytes after the fixed 20-byte header
    std::span<const std::uint8_t> payload;
};

/// Splits `tcp`, a TCP header and its payload (from the IPv4 header's
/// total length, classify's l4_off on), into `out`. Returns false, leaving
/// `out` unspecified, when it is shorter than 20 bytes or than its data
/// offset says, or the data offset is below 5. Thread-safety: reentrant.
bool read_tcp_segment(std::span<const std::uint8_t> tcp, direction d, tcp_segment& out) noexcept;

// ---- output ----------------------------------------------------------------

/// Why a direction's byte stream ended.
enum class stream_end : std::uint8_t {
    fin,        ///< its FIN was reached: every byte before it delivered or reported as a gap
    reset,      ///< an RST (from either side) closed the connection
    abandoned,  ///< the owner called finish() (idle, evicted, parser stopped)
};

/// What the follower tells the layer above, for each direction apart, in
/// stream order: bytes (on_data) and lost bytes (on_gap) until one on_end.
/// The bytes of one direction, with each gap's length, are exactly that
/// direction's sequence space from its first byte to its FIN, each byte
/// once; they come in pieces of any size (a segment's, or a held range's
/// two halves around the end of the ring), unrelated to the sender's
/// segments. The span lives for the call only.
///
/// A direction joined mid-stream (no SYN seen from that side) begins with
/// on_gap(d, gap_unknown): an unknown number of bytes came before; the
/// framer resynchronises there as after any gap.
///
/// Calls come from inside tcp_follower::follow() or finish(); the sink
/// must not call back into the follower. Called from: the parser lcore.
class tcp_sink {
public:
    static constexpr std::uint32_t gap_unknown = 0;

    virtual void on_data(direction d, std::span<const std::uint8_t> bytes) noexcept = 0;
    /// `len` bytes of direction d are lost to the mirror (or gap_unknown, above).
    /// Returns true when the layer above lost nothing it keeps (bytes inside
    /// a record past the part it holds, framing kept): the gap is then
    /// forgiven once the receiver acknowledges past it, since the receiver
    /// has those bytes and a restore needs none of them.
    virtual bool on_gap(direction d, std::uint32_t len) noexcept = 0;
    /// Direction d has ended; nothing more comes for it.
    virtual void on_end(direction d, stream_end why) noexcept = 0;

protected:
    ~tcp_sink() = default;
};

/// The connection as the mirror sees it.
enum class tcp_state : std::uint8_t {
    none,          ///< no segment yet
    syn_sent,      ///< the client's SYN
    syn_received,  ///< the server's SYN-ACK
    established,   ///< the client acknowledged the SYN-ACK, or joined mid-stream
    closing,       ///< a FIN seen one way or both, not every FIN reached yet
    closed,        ///< both directions reached their FIN
    reset,         ///< an RST closed it
};

/// Why what the follower knows is not enough to restore the connection
/// (requirements 6.4: complete connections are restored, others reset).
/// completeness() gives the first that applies, in this order.
enum class tcp_completeness : std::uint8_t {
    complete,
    nothing_seen,          ///< no segment yet
    joined_mid_stream,     ///< the first segment was not the client's SYN: options unknown
    handshake_unfinished,  ///< SYN (and SYN-ACK) seen, the client's ACK of it not yet
    handshake_missed,      ///< established, but the SYN-ACK never seen: the server's options unknown
    gap_to_server,         ///< bytes of the client's stream were lost (reported to the sink)
    gap_to_client,         ///< bytes of the server's stream were lost
    hole_to_server,        ///< bytes of the client's stream are missing now (may still come)
    hole_to_client,        ///< bytes of the server's stream are missing now
};

/// What the follower knows of one direction: what its sender said in its
/// SYN, where its sequence space stands, how much of it reached the sink.
/// Plain data, read by the owner (restoration, show commands).
struct tcp_stream_info {
    /// The sender's SYN (to_server) or SYN-ACK (to_client); the rest of this
    /// block is valid only when syn_seen.
    bool syn_seen = false;
    std::uint32_t isn = 0;
    tcp_options syn_options;

    /// The latest timestamp option the sender sent (any segment; "latest"
    /// as PAWS compares TSvals, mod 2^32).
    bool ts_seen = false;
    std::uint32_t tsval = 0, tsecr = 0;

    /// Sequence space; valid when synced (from the SYN, or from the first
    /// segment of a direction joined mid-stream).
    bool synced = false;
    std::uint32_t start_seq = 0;  ///< the first byte the sink got or was told lost
    std::uint32_t next_seq = 0;   ///< the next byte to deliver (after the FIN: FIN + 1)
    std::uint32_t high_seq = 0;   ///< one past the furthest byte (or FIN) the mirror saw

    /// The receiver's latest acknowledgement of this direction.
    bool ack_known = false;
    std::uint32_t acked = 0;

    /// The window the sender advertised last: in bytes when window_scaled
    /// (the shift is known: both SYNs seen, or it is a SYN's own), as on the
    /// wire otherwise (joined mid-stream).
    bool window_known = false;
    bool window_scaled = false;
    std::uint32_t window = 0;

    bool fin_seen = false;
    std::uint32_t fin_seq = 0;  ///< the FIN's own sequence number
    bool ended = false;         ///< on_end was called for this direction
    stream_end end_reason = stream_end::fin;

    std::uint64_t bytes_delivered = 0;
    std::uint64_t bytes_lost = 0;  ///< in gaps (not counting gap_unknown)
    std::uint64_t gaps = 0;        ///< gap reports (adjacent gaps are one)
    std::uint64_t gaps_spared = 0; ///< of those, the ones the sink lost nothing to (tcp_sink::on_gap)
    std::uint32_t spared_end = 0;  ///< the sequence number after the last spared gap
    /// The last gap's bytes, counted above, that the sink has not heard of
    /// yet: it does before this direction's next bytes or its end, so that a
    /// gap declared next to it can still join it.
    std::uint32_t gap_unreported = 0;
};

/// Every anomaly by reason, and a few events worth watching. Written only
/// by the owner lcore; readers sum and take deltas (docs: counters).
struct tcp_follower_counters {
    std::uint64_t segments = 0;           ///< every follow() call
    std::uint64_t bad_flags = 0;          ///< SYN+FIN, SYN+RST, no SYN/RST/ACK bit: ignored
    std::uint64_t bad_length = 0;         ///< a payload longer than max_ahead: ignored
    std::uint64_t bad_options = 0;        ///< a malformed option list (read up to the fault)
    std::uint64_t bad_handshake = 0;      ///< SYN or SYN-ACK the wrong way, SYN-ACK not acking the SYN
    std::uint64_t unexpected_syn = 0;     ///< SYN or SYN-ACK with another ISN, or once synchronised
    std::uint64_t out_of_window = 0;      ///< data or FIN more than max_ahead from the next byte: ignored
    std::uint64_t ack_out_of_window = 0;  ///< ACK more than max_ahead from the next byte: ACK ignored
    std::uint64_t rst_out_of_window = 0;  ///< RST ignored
    std::uint64_t retransmits = 0;        ///< segments with bytes, all of them delivered or held already
    std::uint64_t overlaps = 0;           ///< segments partly delivered or held already (trimmed)
    std::uint64_t overlap_mismatch = 0;   ///< segments contradicting held bytes (the first copy kept)
    std::uint64_t reordered = 0;          ///< segments held out of order
    std::uint64_t ooo_full = 0;           ///< segments that did not fit the ring: a hole given up
    std::uint64_t gaps = 0;               ///< gap reports, both directions
    std::uint64_t gap_bytes = 0;
    std::uint64_t bad_fin = 0;            ///< FIN before bytes already seen, or a second FIN elsewhere: FIN ignored
    std::uint64_t data_after_fin = 0;     ///< segments with bytes past their direction's FIN (those trimmed, the rest taken)
    std::uint64_t after_close = 0;        ///< segments after an RST or finish(): ignored
};

/// What became of one segment (each also counted above).
enum class seg_verdict : std::uint8_t {
    accepted,       ///< taken: handshake, ACK, window, FIN, bytes delivered or held
    duplicate,      ///< taken, but its bytes were all delivered or held already
    bad_flags,
    bad_length,
    bad_handshake,  ///< including unexpected_syn
    out_of_window,  ///< data, FIN or RST out of window
    after_close,
};

struct tcp_follower_config {
    /// Bytes each direction may hold out of order past a hole; rounded up to
    /// a power of two, at most 1 GiB.
    std::uint32_t ooo_bytes = 64 * 1024;
    /// How far from the next byte a segment (or an ACK) may lie and still be
    /// taken; at least ooo_bytes, at most 1 GiB.
    std::uint32_t max_ahead = 16u << 20;
};

class tcp_follower {
public:
    /// Disjoint ranges one direction may hold out of order.
    static constexpr std::size_t max_held_ranges = 16;

    /// Bytes of storage a follower with `cfg` needs: both directions' rings.
    static std::size_t storage_bytes(const tcp_follower_config& cfg) noexcept;

    /// `storage` is the owner's, at least storage_bytes(cfg) long, and must
    /// outlive the follower; a shorter one shrinks ooo_bytes to fit (to 0:
    /// nothing is held out of order). `sink` must outlive it too.
    tcp_follower(tcp_sink& sink, const tcp_follower_config& cfg, std::span<std::uint8_t> storage) noexcept;

    tcp_follower(const tcp_follower&) = delete;
    tcp_follower& operator=(const tcp_follower&) = delete;
    tcp_follower(tcp_follower&&) noexcept = default;
    tcp_follower& operator=(tcp_follower&&) noexcept = default;

    /// Applies one segment; the sink hears of bytes, gaps and ends it makes
    /// known. Never fails: bad input is counted and ignored.
    seg_verdict follow(const tcp_segment& seg) noexcept;

    /// The owner gives the connection up (idle, evicted): held bytes are
    /// delivered, with the holes before them as gaps, and so are the bytes
    /// still missing (up to the FIN, or to the furthest byte seen or
    /// acknowledged); every direction not ended yet ends (abandoned). An RST
    /// does the same (reset). Later segments count as after_close. An
    /// acknowledged FIN the mirror never saw is counted as one lost byte.
    void finish() noexcept;

    tcp_state state() const noexcept { return _state; }
    tcp_completeness completeness() const noexcept;
    bool complete() const noexcept { return completeness() == tcp_completeness::complete; }
    bool joined_mid_stream() const noexcept { return _mid_stream; }

    /// Both SYNs carried the option (so the connection uses it).
    bool window_scaling() const noexcept;
    bool sack_permitted() const noexcept;
    bool timestamps() const noexcept;

    const tcp_stream_info& stream(direction d) const noexcept { return _s[idx(d)].info; }
    /// Bytes of direction d are missing now: seen beyond a hole, or
    /// acknowledged but not seen; they may still come.
    bool hole(direction d) const noexcept;
    const tcp_follower_counters& counters() const noexcept { return _c; }
    const tcp_follower_config& config() const noexcept { return _cfg; }

private:
    struct range {
        std::uint32_t start, end;  ///< [start, end) in sequence space
    };
    /// One direction: what the sink has had of it, and what it holds.
    struct half {
        tcp_stream_info info;
        std::span<std::uint8_t> ring;  ///< held bytes: seq s at ring[s & (size - 1)]
        std::array<range, max_held_ranges> held{};  ///< ascending, disjoint, not adjacent, all after next_seq
        std::uint8_t n_held = 0;
    };

    static std::size_t idx(direction d) noexcept { return d == direction::to_server ? 0 : 1; }
    direction dir(const half& s) const noexcept { return &s == &_s[0] ? direction::to_server : direction::to_client; }

    seg_verdict handshake(const tcp_segment& seg, const tcp_options& o) noexcept;
    void take_ack(half& from, half& to, const tcp_segment& seg) noexcept;
    void take_window(half& s, const tcp_segment& seg) noexcept;
    bool take_fin(half& s, std::uint32_t fin_seq) noexcept;
    seg_verdict take_data(half& s, std::uint32_t seq, std::span<const std::uint8_t> p) noexcept;
    bool fits(const half& s, std::uint32_t seq, std::size_t len) const noexcept;
    std::size_t hold(half& s, std::uint32_t seq, std::span<const std::uint8_t> p) noexcept;
    void give_up_oldest_hole(half& s, std::uint32_t seq) noexcept;
    void drain(half& s) noexcept;
    void settle(half& s) noexcept;
    std::uint32_t acked_unseen(const half& s) const noexcept;
    bool gaps_forgiven(const half& s) const noexcept;
    void deliver(half& s, std::span<const std::uint8_t> bytes) noexcept;
    void gap(half& s, std::uint32_t len) noexcept;
    void flush_gap(half& s) noexcept;
    void end(half& s, stream_end why) noexcept;
    void close_all(stream_end why) noexcept;
    void sync(half& s, std::uint32_t next) noexcept;

    tcp_sink* _sink;
    tcp_follower_config _cfg;
    std::array<half, 2> _s;  ///< [0] to_server (the client's bytes), [1] to_client
    tcp_state _state = tcp_state::none;
    bool _mid_stream = false;
    bool _finished = false;
    tcp_follower_counters _c;
};

}  // namespace cg::dp::mirror
