// What nodeagent and controld say to each other (requirements 4.2, room for 5.3):
// UDP datagrams, versioned, authenticated with HMAC-SHA256 under a key both
// sides read from a file.
//
//   datagram = header payload mac
//   header   = magic u32 "CGA1" | version u16 | type u16 | sender u32 (IPv4)
//              | seq u64 | sent_ms u64 (sender's wall clock) | length u16
//   payload  = the message's fields (common/wire_codec.hpp)
//   mac      = HMAC-SHA256(key, header payload), 32 bytes
//
// The MAC is checked before a byte of the payload is parsed. A receiver
// accepts from a sender only a seq above the last it accepted, and only a
// sent_ms within its clock skew: a copied datagram sent again is refused.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "common/msg_type.hpp"
#include "common/net_types.hpp"
#include "common/wire_fields.hpp"
#include "control/proto/auth.hpp"

namespace cg::control::agent {

inline constexpr std::uint32_t magic = 0x31414743;  // "CGA1" read as little-endian u32
inline constexpr std::uint16_t version = 1;
inline constexpr std::size_t header_size = 30;
inline constexpr std::size_t mac_size = auth::mac_size;
inline constexpr std::size_t max_datagram = 1400;  // fits one Ethernet frame
inline constexpr std::size_t min_key_size = auth::min_key_size;

/// A node's host figures (requirements 4.2). Higher = busier, each a level.
struct host_report {
    double load1 = 0;     ///< 1-minute load average divided by the CPU count
    double cpu_busy = 0;  ///< 0..1, share of CPU time not idle since the last report
    double mem_used = 0;  ///< 0..1, 1 - MemAvailable / MemTotal
    double sock_mem = 0;  ///< 0..1, TCP+UDP socket buffer pages over the kernel's tcp_mem pressure limit
    std::optional<double> script;  ///< the configured script's number
    CG_FIELDS(s.load1, s.cpu_busy, s.mem_used, s.sock_mem, s.script)
};

/// Reserved for the takeover (requirements 5.3) before it had a protocol of its
/// own: the takeover query and its answer now go over TCP (shadow_msg.hpp),
/// since an answer is far larger than a datagram. Still decoded, never
/// sent, so that its id (2) stays taken.
struct shadow_query {
    std::uint64_t query = 0;
    common::ipv4_addr vip = 0;
    CG_FIELDS(s.query, s.vip)
};

/// A controld's heartbeat to its peer in a gateway pair (requirements 5.1), every
/// pair interval, signed with the pair's key (not the agents'). The same
/// framing as the agents' datagrams, on the pair's own socket; the fields
/// are control/controld/pair/pair_state.hpp's, checked there.
struct heartbeat {
    std::uint64_t epoch = 0;     ///< the pair's epoch the sender is in: one more at every takeover
    std::uint8_t role = 0;       ///< pair::role
    std::uint8_t health = 0;     ///< pair::health: of the sender's own gatewayd
    std::uint8_t priority = 0;   ///< who becomes active when both start at once
    bool handover = false;       ///< the active asks its backup to take over (ha switchover)
    std::uint64_t conns = 0;     ///< connections in the sender's gatewayd, for `ha show`
    /// The receiver is no longer the sender's peer: another gateway (started
    /// by auto-heal, or one that came back first) took its place.
    bool retire = false;
    CG_FIELDS(s.epoch, s.role, s.health, s.priority, s.handover, s.conns, s.retire)
};

/// A node agent's sign of life, every --alive-interval (20 ms by default):
/// controld's alive monitoring (requirements 6.3) marks a node failed once
/// neither this nor a report has come for agents.alive_timeout. Carries the
/// interval, so that controld can say when a timeout is shorter than it.
struct alive {
    std::uint32_t interval_ms = 0;
    CG_FIELDS(s.interval_ms)
};

/// A terminator's word on its server (requirements 7.2): the agent of a
/// front-end at node + k (the spares table's `terminators`) started with
/// --upstream probes its server's service by TCP connect, and sends its
/// verdict after every probe. controld takes it only from a terminator of
/// `server`; while a live terminator says unreachable, the server is failed
/// as if its own agent had gone silent, and its spare takes its place.
struct upstream {
    common::ipv4_addr server = 0;  ///< the working node it fronts
    std::uint16_t port = 0;        ///< the service it probes there
    bool reachable = true;         ///< false after `failures` failed probes in a row
    std::uint32_t failures = 0;    ///< failed probes in a row (0 after a success)
    std::uint32_t interval_ms = 0; ///< between probes, for the operator
    CG_FIELDS(s.server, s.port, s.reachable, s.failures, s.interval_ms)
};

using message = std::variant<host_report, shadow_query, heartbeat, alive, upstream>;

// ---- wire type ids (common/msg_type.hpp) ---------------------------------
//
// A message's type on the wire is its id in the table below, never its
// place in `message`. The ids are the numbers agents sent when the type was
// that place + 1, so that a controld of this build understands an agent of
// an older one during a rolling upgrade. An id, once given, never changes
// and is never reused; a new message takes a new id.

/// The type table, the one place where ids are given. A message without an
/// entry has {0, ""}, which agent_msg.cpp refuses at compile time.
template <class M>
inline constexpr common::msg_type type_of{};

template <> inline constexpr common::msg_type type_of<host_report>{1, "host_report"};
template <> inline constexpr common::msg_type type_of<shadow_query>{2, "shadow_query"};
template <> inline constexpr common::msg_type type_of<heartbeat>{3, "heartbeat"};
template <> inline constexpr common::msg_type type_of<alive>{4, "alive"};
template <> inline constexpr common::msg_type type_of<upstream>{5, "upstream"};

/// The entries of every alternative of V (`message`), in variant order.
template <class V = message>
constexpr auto type_table() {
    return common::type_table<V>([]<class M>(std::type_identity<M>) { return type_of<M>; });
}
using common::find_flaw;

struct envelope {
    common::ipv4_addr sender = 0;  ///< the node (or gateway) the sender says it is
    std::uint64_t seq = 0;
    std::uint64_t sent_ms = 0;
    message body;
};

/// Why a datagram was refused: each has a counter.
enum class refusal : std::uint8_t {
    truncated,     ///< shorter than a header and a MAC, or than its length says
    bad_magic,
    bad_version,
    bad_mac,       ///< wrong key, or changed on the way
    malformed,     ///< authentic but its payload does not decode
    unknown_type,
    unknown_peer,  ///< not a configured node, or not from the address it names
    replayed,      ///< seq not above the last accepted from that sender
    clock_skew,    ///< sent_ms too far from the receiver's clock
};
inline constexpr std::size_t refusal_count = 9;
std::string_view refusal_name(refusal r);

struct refused {
    refusal why;
    std::string detail;
};

using auth::key;
using auth::load_key;

std::vector<std::uint8_t> seal(const envelope& e, const key& k);

/// Checks framing and MAC, then decodes. Stateless: replay and peer checks
/// are the receiver's (below).
std::variant<envelope, refused> open(std::span<const std::uint8_t> datagram, const key& k);

/// The receiving side's memory: who may speak, the last seq of each, and a
/// counter per refusal.
class receiver {
public:
    receiver(key k, std::uint64_t max_skew_ms) : _key(std::move(k)), _max_skew_ms(max_skew_ms) {}

    void allow(common::ipv4_addr peer) { _peers.try_emplace(peer, 0); }
    void forget(common::ipv4_addr peer) { _peers.erase(peer); }

    /// The message if it is authentic, fresh and from a known peer whose
    /// address it came from; else the refusal (counted).
    std::variant<envelope, refused> accept(std::span<const std::uint8_t> datagram, common::ipv4_addr source,
                                           std::uint64_t now_ms);

    std::uint64_t count(refusal r) const { return _refused[static_cast<std::size_t>(r)]; }
    std::uint64_t accepted() const { return _accepted; }

private:
    refused note(refused r);
    key _key;
    std::uint64_t _max_skew_ms;
    std::map<common::ipv4_addr, std::uint64_t> _peers;  // last accepted seq
    std::array<std::uint64_t, refusal_count> _refused{};
    std::uint64_t _accepted = 0;
};

}  // namespace cg::control::agent
