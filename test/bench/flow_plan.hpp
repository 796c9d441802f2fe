// The generator's flows: which packet to send next, to which flow, and what
// came back for each flow. Pure logic, no EAL; cg-pktgen keeps the slot
// array in hugepage memory and drives it from its single TX/RX lcore.
//
// A flow *slot* (0 .. flows-1) holds one TCP connection at a time. Each time
// a slot opens a new connection its *generation* moves on (1..255, never 0),
// and the generation is part of the 5-tuple, so that every connection the
// gateway sees is a new flow: slot and generation map one to one onto the
// client address and port (tuple_of / slot_of_tuple).
//
// Open slots form one circular range [head, head + open): SYNs open the slot
// after the range, FIN and RST close the slot at its head (the oldest
// connection), data goes round-robin over the range. So every connection
// lives about flows / (closes per second) seconds, and the number of
// concurrent connections stays at `flows` once they are open.
//
// Memory: 4 bytes per slot (10 million flows: 40 MB).
// Thread-safety: none; one lcore owns a plan and its slots.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cg::bench {

/// Client addresses 198.19.0.0/16 (inside the benchmarking range 198.18.0.0/15).
inline constexpr std::uint32_t client_net = 0xc6130000u;
/// 2^24 slots: the address and port carry 24 bits of slot and 8 of generation.
inline constexpr std::uint32_t max_flows = 1u << 24;

struct flow_tuple {
    std::uint32_t saddr = 0;  ///< host byte order
    std::uint16_t sport = 0;
};

/// The client address and port of connection `gen` (1..255) of `slot`.
inline flow_tuple tuple_of(std::uint32_t slot, std::uint8_t gen) noexcept {
    const std::uint32_t k = (slot << 8) | gen;
    return {client_net | (k >> 16), static_cast<std::uint16_t>(k & 0xffff)};
}

struct slot_gen {
    std::uint32_t slot;
    std::uint8_t gen;
};

/// The inverse of tuple_of; nullopt for a tuple no generator flow uses.
inline std::optional<slot_gen> slot_of_tuple(std::uint32_t saddr, std::uint16_t sport) noexcept {
    if ((saddr & 0xffff0000u) != client_net) return std::nullopt;
    const std::uint32_t k = ((saddr & 0xffffu) << 16) | sport;
    const auto gen = static_cast<std::uint8_t>(k & 0xff);
    if (gen == 0) return std::nullopt;
    return slot_gen{k >> 8, gen};
}

inline std::uint8_t next_gen(std::uint8_t g) noexcept { return g == 255 ? 1 : static_cast<std::uint8_t>(g + 1); }

/// One flow slot. TX side: `gen` and `open`; RX side: `rx_gen` and `rx_node`.
struct flow_slot {
    std::uint8_t gen = 0;      ///< generation of the current (or last) connection; 0 = never opened
    std::uint8_t open = 0;     ///< 1 while the connection is open on the TX side
    std::uint8_t rx_gen = 0;   ///< generation of the packets received last
    std::uint8_t rx_node = 0;  ///< node index + 1 that rx_gen's packets went to; 0 = none yet
};
static_assert(sizeof(flow_slot) == 4);

enum class pkt_type : std::uint8_t { syn, data, fin, rst, malformed, count_ };
inline constexpr std::size_t pkt_type_count = static_cast<std::size_t>(pkt_type::count_);
inline constexpr std::array<std::string_view, pkt_type_count> pkt_type_names = {"syn", "data", "fin", "rst",
                                                                                  "malformed"};

/// Shares of the steady-state packet stream: SYN : data : FIN : RST.
struct mix {
    std::array<double, 4> w{0, 1, 0, 0};
    double syn() const noexcept { return w[0]; }
    double data() const noexcept { return w[1]; }
    double fin() const noexcept { return w[2]; }
    double rst() const noexcept { return w[3]; }
};

/// Parses "S:D:F:R" (four non-negative numbers, not all zero), e.g. "1:8:0:1".
/// Returns nullopt on anything else.
std::optional<mix> parse_mix(std::string_view s);
std::string format_mix(const mix& m);

/// Smooth weighted round-robin over a few classes: each class gets its share
/// of picks, evenly interleaved, deterministically (same idea as the
/// gateway's WRR). Weights are scaled to integers (1/1000 resolution).
template <std::size_t N>
class swrr {
public:
    swrr() = default;
    explicit swrr(const std::array<double, N>& w) noexcept {
        for (std::size_t i = 0; i < N; ++i) {
            _w[i] = static_cast<std::int64_t>(w[i] * 1000.0 + 0.5);
            _total += _w[i];
        }
    }
    bool empty() const noexcept { return _total == 0; }
    /// Index of the next class; 0 when every weight is zero.
    std::size_t next() noexcept {
        std::size_t best = 0;
        for (std::size_t i = 0; i < N; ++i) {
            _cur[i] += _w[i];
            if (_cur[i] > _cur[best]) best = i;
        }
        _cur[best] -= _total;
        return best;
    }

private:
    std::array<std::int64_t, N> _w{};
    std::array<std::int64_t, N> _cur{};
    std::int64_t _total = 0;
};

/// A packet to send: its type, and the slot and generation it belongs to.
struct pkt_op {
    pkt_type type = pkt_type::data;
    std::uint32_t slot = 0;
    std::uint8_t gen = 0;
};

class flow_plan {
public:
    /// `slots` must be zeroed (every slot closed, never opened).
    explicit flow_plan(std::span<flow_slot> slots, const mix& m = {}) noexcept;

    /// Marks every slot open with generation 1, without sending anything: the
    /// peer already holds these connections (a previous run opened them).
    void assume_open() noexcept;

    /// Opens the next slot: a SYN. When every slot is open, the oldest
    /// connection is abandoned first (no FIN, no RST: the gateway keeps its
    /// entry until it goes stale) and counted in abandoned().
    pkt_op open() noexcept;
    /// Closes the oldest open connection with a FIN or an RST; with nothing
    /// open, opens one instead (a SYN).
    pkt_op close(pkt_type fin_or_rst) noexcept;
    /// A data segment on the next open connection (round-robin); with nothing
    /// open, opens one instead (a SYN).
    pkt_op data() noexcept;
    /// The next packet of the steady-state stream, by the mix's shares.
    pkt_op next() noexcept;
    /// One new connection for a connections-per-second schedule: `out[0]`
    /// closes the oldest connection when every slot is open (FIN or RST by the
    /// mix's FIN : RST shares; none when both are 0: it is abandoned),
    /// then a SYN. Returns the number of ops written (1 or 2).
    unsigned churn(pkt_op out[2]) noexcept;

    std::uint32_t flows() const noexcept { return _n; }
    std::uint32_t open_count() const noexcept { return _open; }
    std::uint64_t abandoned() const noexcept { return _abandoned; }
    std::span<flow_slot> slots() noexcept { return {_slots, _n}; }

private:
    flow_slot* _slots;
    std::uint32_t _n;
    std::uint32_t _head = 0;  ///< oldest open slot
    std::uint32_t _open = 0;
    std::uint32_t _data = 0;  ///< next slot for a data segment
    std::uint64_t _abandoned = 0;
    swrr<4> _types;
    swrr<2> _closes;  ///< FIN : RST
    bool _close_any;
};

/// What the RX side learned from one received packet of a known flow.
enum class rx_verdict : std::uint8_t {
    new_connection,  ///< first packet seen of this connection: it went to `node`
    same_node,       ///< same node as the connection's earlier packets
    other_node,      ///< a different node: a consistency failure
};

/// Records that a packet of (`slot`, `gen`) left the gateway towards node
/// `node` (index into the generator's node list). Packets of one flow come
/// back in order (one queue each way), so a generation change means a new
/// connection.
inline rx_verdict rx_check(flow_slot& s, std::uint8_t gen, std::uint8_t node) noexcept {
    const auto tag = static_cast<std::uint8_t>(node + 1);
    if (s.rx_gen != gen || s.rx_node == 0) {
        s.rx_gen = gen;
        s.rx_node = tag;
        return rx_verdict::new_connection;
    }
    return s.rx_node == tag ? rx_verdict::same_node : rx_verdict::other_node;
}

}  // namespace cg::bench
