// The takeover query and its answer (requirements 5.3). When a gatewayd restarts or
// a backup gateway takes over, controld asks each node's agent for the
// node's own sockets toward the cluster addresses (its shadow connection
// table, socket_entry.hpp), merges the answers and puts the connections
// back into gatewayd's table. One TCP connection per query (an answer of
// 100,000 connections is 1.4 MB):
//
//   controld  -> nodeagent: a query frame
//   nodeagent -> controld : chunk frames 0, 1, 2, ..., the last one flagged; then it closes
//
// and, on the same listener, when a node fails and its spare carries its
// connections on (requirements 6.4; tcp_repair_params.hpp):
//
//   controld  -> the spare's nodeagent: a restore frame
//   nodeagent -> controld            : one restored frame (an outcome per connection); then it closes
//
// and for the working nodes' state backups (requirements 7.3):
//
//   controld  -> a working node's nodeagent: a backup query frame
//   nodeagent -> controld: state chunk frames 0, 1, ..., the last one flagged (the
//                          output of its backup command); then it closes
//   controld  -> the spare's nodeagent: a state restore frame, then state chunk frames
//                                       0, 1, ..., the last one flagged, at the same position
//   nodeagent -> controld: one state restored frame (what its restore command did); then it closes
//
//   frame   = header payload mac                       (at most max_frame = 64 KiB)
//   header  = magic u32 "CGS1" | version u16 | type u16 | sender u32 (IPv4)
//             | epoch u64 | seq u64 | sent_ms u64 (sender's wall clock)
//             | length u32 (of the payload)             (40 bytes, little-endian)
//   payload = type 1, query: clusters (u32 count, u32 IPv4 each) | wildcard u8
//             type 2, chunk: index u32 | last u8 | entries (u32 count, 14 bytes each:
//                            proto u8 | state u8 | local u32 | local_port u16 | remote u32 | remote_port u16)
//             type 3, restore: failed u32 | conns (u32 count; each: the tcp_repair_params
//                              fields in order, then replay as u32 count and bytes)
//             type 4, restored: outcomes (u32 count; each: client u32 | client_port u16
//                               | restored u8 | why as u32 count and bytes)
//             type 5, backup query: max_bytes u64 (what the querier takes)
//             type 6, state chunk: index u32 | last u8 | total u64 | taken_ms u64 | error (u32 count
//                                  and bytes) | bytes (u32 count and bytes); total, taken_ms
//                                  and error count in the last one only: the state's size,
//                                  when it was taken, why there is none (then no bytes)
//             type 7, state restore: failed u32 (the node whose state it is)
//             type 8, state restored: ok u8 | why (u32 count and bytes) | took_ms u32
//   mac     = HMAC-SHA256(key, header payload), 32 bytes: the agents' key (auth.hpp)
//
// A query's sender is the querier (its gateway address), its epoch and seq
// its place in the querier's sequence: the epoch grows with every start of
// the querier, the seq with every query. A chunk's sender is the node, its
// epoch and seq are the query's it answers, echoed; a chunk holds at most
// entries_per_chunk entries and only the last one may hold fewer.
//
// Receivers check, in this order: the framing (magic, version, length:
// before the rest of a frame is read off a stream, so a stranger cannot
// make a receiver wait for or keep 4 GB); the MAC; the type; then the
// freshness: a query's (epoch, seq) above the last one accepted from its
// querier and its sent_ms within the clock skew, a chunk's echo of the
// query being answered and its sender the node asked (a chunk copied from
// an earlier answer names another query); then the payload; then a chunk's
// index is the next one. A state's chunks are checked the same way in both
// directions (the sender the agent asked, or the querier whose state
// restore they follow), their bytes counted against the receiver's bound
// as they come, and the whole against the last chunk's total. Answers are
// authenticated, not encrypted.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/msg_type.hpp"
#include "common/net_types.hpp"
#include "common/tcp_repair_params.hpp"
#include "common/wire_fields.hpp"
#include "control/proto/auth.hpp"
#include "control/proto/socket_entry.hpp"

namespace cg::control::shadow {

using auth::key;

inline constexpr std::uint32_t magic = 0x31534743;  // "CGS1" read as little-endian u32
inline constexpr std::uint16_t version = 1;
inline constexpr std::size_t header_size = 40;
inline constexpr std::size_t mac_size = auth::mac_size;
inline constexpr std::size_t max_frame = 64 * 1024;
inline constexpr std::size_t max_clusters = 256;
/// A chunk's payload besides its entries: index, last, the entries' count.
inline constexpr std::size_t chunk_overhead = 4 + 1 + 4;
inline constexpr std::size_t entries_per_chunk =
    (max_frame - header_size - mac_size - chunk_overhead) / entry_wire_size;  // 4,675
/// The largest query: max_clusters addresses.
inline constexpr std::size_t max_query_frame = header_size + 4 + 4 * max_clusters + 1 + mac_size;
/// A restore's connections: at most this many per frame, and their replays
/// within the frame (a request too large for it cannot be restored).
inline constexpr std::size_t max_restore_conns = 256;
/// A restore frame's bytes besides its connections': header, MAC, the
/// failed node, the connections' count.
inline constexpr std::size_t restore_overhead = header_size + mac_size + 4 + 4;
inline constexpr std::size_t max_replay = max_frame - header_size - mac_size - 256;

/// Which sockets the querier wants: those whose local address is one of
/// `clusters` (1 to max_clusters), and with `wildcard` also those bound to
/// every address (listeners and UDP servers that serve the clusters without
/// naming them).
struct query {
    std::vector<common::ipv4_addr> clusters;
    bool wildcard = false;
    CG_FIELDS(s.clusters, s.wildcard)
};

struct chunk {
    std::uint32_t index = 0;
    bool last = false;
    std::vector<socket_entry> entries;
    CG_FIELDS(s.index, s.last, s.entries)
};

/// One connection of a failed node for the spare to carry on: its
/// TCP_REPAIR values and the unanswered requests to replay (at most
/// max_replay bytes).
struct restore_conn {
    common::tcp_repair_params params;
    std::vector<std::uint8_t> replay;
    CG_FIELDS(s.params, s.replay)
};

/// controld -> the spare's agent: re-create these connections of `failed`
/// (most recently used first) and hand each to the local service.
struct restore {
    common::ipv4_addr failed = 0;
    std::vector<restore_conn> conns;
    CG_FIELDS(s.failed, s.conns)
};

/// What became of one connection of a restore, by its client end.
struct restore_outcome {
    common::ipv4_addr client = 0;
    std::uint16_t client_port = 0;
    bool restored = false;
    std::string why;  ///< when not restored
    CG_FIELDS(s.client, s.client_port, s.restored, s.why)
    friend bool operator==(const restore_outcome&, const restore_outcome&) = default;
};

/// The spare's agent -> controld: one outcome per connection, in order.
struct restored {
    std::vector<restore_outcome> outcomes;
    CG_FIELDS(s.outcomes)
};

/// controld -> a working node's agent: send the node's state (requirements
/// 7.3), at most `max_bytes`.
struct backup_query {
    std::uint64_t max_bytes = 0;
    CG_FIELDS(s.max_bytes)
};

/// A piece of a node's state on its way (to controld, or from it to a spare).
struct state_chunk {
    std::uint32_t index = 0;
    bool last = false;
    std::uint64_t total = 0;     ///< in the last one: the whole state's bytes
    std::uint64_t taken_ms = 0;  ///< in the last one: when the state was taken (wall clock, ms)
    std::string error;           ///< in the last one: why there is no state (then no chunk has bytes)
    std::vector<std::uint8_t> bytes;
    CG_FIELDS(s.index, s.last, s.total, s.taken_ms, s.error, s.bytes)
};

/// controld -> the spare's agent: restore the state of `failed`, whose chunks follow.
struct state_restore {
    common::ipv4_addr failed = 0;
    CG_FIELDS(s.failed)
};

/// The spare's agent -> controld: what its restore command did.
struct state_restored {
    bool ok = false;
    std::string why;  ///< when not ok
    std::uint32_t took_ms = 0;
    CG_FIELDS(s.ok, s.why, s.took_ms)
    friend bool operator==(const state_restored&, const state_restored&) = default;
};

using message = std::variant<query, chunk, restore, restored, backup_query, state_chunk, state_restore, state_restored>;

// ---- wire type ids (common/msg_type.hpp) ---------------------------------
//
// As agent_msg.hpp's: ids, not places in `message`, go on the wire; the
// ids are those of protocol version 1. A message without an entry is
// refused at compile time (shadow_msg.cpp).
template <class M>
inline constexpr common::msg_type type_of{};

template <> inline constexpr common::msg_type type_of<query>{1, "query"};
template <> inline constexpr common::msg_type type_of<chunk>{2, "chunk"};
template <> inline constexpr common::msg_type type_of<restore>{3, "restore"};
template <> inline constexpr common::msg_type type_of<restored>{4, "restored"};
template <> inline constexpr common::msg_type type_of<backup_query>{5, "backup_query"};
template <> inline constexpr common::msg_type type_of<state_chunk>{6, "state_chunk"};
template <> inline constexpr common::msg_type type_of<state_restore>{7, "state_restore"};
template <> inline constexpr common::msg_type type_of<state_restored>{8, "state_restored"};

/// The entries of every alternative of V (`message`), in variant order.
template <class V = message>
constexpr auto type_table() {
    return common::type_table<V>([]<class M>(std::type_identity<M>) { return type_of<M>; });
}
using common::find_flaw;

struct envelope {
    common::ipv4_addr sender = 0;
    std::uint64_t epoch = 0, seq = 0, sent_ms = 0;
    message body;
};

/// Why a frame was refused: each has a counter, by this name.
enum class refusal : std::uint8_t {
    truncated,     ///< shorter than a header and a MAC, or than its length says; a stream that ended inside a frame
    bad_magic,
    bad_version,
    too_large,     ///< its length is beyond what the receiver takes (a frame, a query, the entries it expects)
    bad_mac,       ///< another key, or changed on the way
    unknown_type,
    wrong_type,    ///< a chunk where a query or a restore is due, or the other way round
    replayed,      ///< a query not above its querier's last; a chunk that answers another query
    clock_skew,    ///< a query's sent_ms too far from the receiver's clock
    wrong_peer,    ///< a chunk from another node than the one asked
    malformed,     ///< authentic but its payload does not decode, or asks for no cluster or too many
    out_of_order,  ///< a chunk that is not the next one, or after the last
};
inline constexpr std::size_t refusal_count = 12;
std::string_view refusal_name(refusal r);

struct refused {
    refusal why;
    std::string detail;
};

std::vector<std::uint8_t> seal(const envelope& e, const key& k);

/// The bytes a connection with `replay_bytes` to replay takes in a restore
/// frame (a sender packs frames by it).
std::size_t restore_conn_size(std::size_t replay_bytes);

/// A node's state (a backup) larger than this is neither sent nor taken.
inline constexpr std::size_t max_state = 64u << 20;
/// A state chunk's bytes at most: what fits a frame beside the rest.
inline constexpr std::size_t state_bytes_per_chunk = max_frame - header_size - mac_size - 1024;
/// Chunks a state of `bytes` takes: at least one (the last, maybe empty).
std::size_t state_chunks(std::size_t bytes);
/// Chunk `index` of the state `all`, taken at `taken_ms`, from `sender` at
/// `at` (the query answered, or the state restore the chunks follow). With
/// an `error` there is one chunk, the last, and no bytes.
std::vector<std::uint8_t> seal_state_chunk(std::span<const std::uint8_t> all, std::size_t index,
                                           std::uint64_t taken_ms, const std::string& error, common::ipv4_addr sender,
                                           auth::position at, std::uint64_t sent_ms, const key& k);

/// Chunks an answer of `entries` entries takes: at least one (the last, empty).
std::size_t answer_chunks(std::size_t entries);
/// Chunk `index` of the answer `all` from `node` to the query (epoch, seq).
std::vector<std::uint8_t> seal_chunk(std::span<const socket_entry> all, std::size_t index, common::ipv4_addr node,
                                     auth::position query, std::uint64_t sent_ms, const key& k);

/// The size of a whole frame (header, payload, MAC) from its first
/// header_size bytes, or why it is refused before more is read: not one of
/// ours, another version, or larger than `limit`.
std::variant<std::size_t, refused> frame_size(std::span<const std::uint8_t> header, std::size_t limit = max_frame);

/// Checks framing and MAC, then decodes. Stateless (freshness and order are
/// the receivers' below).
std::variant<envelope, refused> open(std::span<const std::uint8_t> frame, const key& k);

/// The node agent's side: takes the querier's frames, queries and restores
/// (one sequence of positions per querier for both).
class query_receiver {
public:
    query_receiver(key k, std::uint64_t max_skew_ms) : _key(std::move(k)), _max_skew_ms(max_skew_ms) {}

    /// The query, restore, backup query or state restore if the frame is
    /// authentic, fresh and well-formed; else the refusal (counted).
    std::variant<envelope, refused> accept(std::span<const std::uint8_t> frame, std::uint64_t now_ms);
    /// Counts a refusal found before a whole frame was read (frame_size's, a
    /// stream that ended early) with the others.
    refused note(refused r);

    std::uint64_t count(refusal r) const { return _refused[static_cast<std::size_t>(r)]; }
    std::uint64_t accepted() const { return _accepted; }

private:
    key _key;
    std::uint64_t _max_skew_ms;
    std::map<common::ipv4_addr, auth::position> _last;  // per querier
    std::array<std::uint64_t, refusal_count> _refused{};
    std::uint64_t _accepted = 0;
};

/// The querier's side of a restore: the spare's one answer, which must come
/// from `node`, echo the restore's position and give one outcome per
/// connection asked (`conns`).
std::variant<restored, refused> open_restored(std::span<const std::uint8_t> frame, const key& k,
                                              common::ipv4_addr node, auth::position asked, std::size_t conns);

/// The querier's side of a state restore: the spare's one answer, from
/// `node`, echoing the state restore's position.
std::variant<state_restored, refused> open_state_restored(std::span<const std::uint8_t> frame, const key& k,
                                                          common::ipv4_addr node, auth::position asked);

/// Either side of a state transfer: takes the chunks of one state, in
/// order, from `sender` at `at`, at most `max_bytes` in all.
class state_collector {
public:
    state_collector(key k, common::ipv4_addr sender, auth::position at, std::size_t max_bytes)
        : _key(std::move(k)), _sender(sender), _at(at), _max_bytes(max_bytes) {}

    /// Takes one chunk frame: nullopt when taken, else the refusal (counted).
    std::optional<refused> accept(std::span<const std::uint8_t> frame);
    refused note(refused r);

    bool complete() const { return _complete; }
    std::uint32_t chunks() const { return _next; }
    std::vector<std::uint8_t>& bytes() { return _bytes; }
    std::uint64_t taken_ms() const { return _taken_ms; }
    const std::string& error() const { return _error; }  ///< the sender's: why it has no state

    std::uint64_t count(refusal r) const { return _refused[static_cast<std::size_t>(r)]; }

private:
    key _key;
    common::ipv4_addr _sender;
    auth::position _at;
    std::size_t _max_bytes;
    std::uint32_t _next = 0;
    bool _complete = false;
    std::uint64_t _taken_ms = 0;
    std::string _error;
    std::vector<std::uint8_t> _bytes;
    std::array<std::uint64_t, refusal_count> _refused{};
};

/// The querier's side: takes the chunks of the answer to one query, in order.
class answer_collector {
public:
    /// The answer `node` owes to the query at `query`; at most `max_entries` in all.
    answer_collector(key k, common::ipv4_addr node, auth::position query, std::size_t max_entries = 10'000'000)
        : _key(std::move(k)), _node(node), _query(query), _max_entries(max_entries) {}

    /// Takes one chunk frame: nullopt when taken, else the refusal (counted).
    std::optional<refused> accept(std::span<const std::uint8_t> frame);
    refused note(refused r);

    bool complete() const { return _complete; }
    std::uint32_t chunks() const { return _next; }
    std::vector<socket_entry>& entries() { return _entries; }

    std::uint64_t count(refusal r) const { return _refused[static_cast<std::size_t>(r)]; }

private:
    key _key;
    common::ipv4_addr _node;
    auth::position _query;
    std::size_t _max_entries;
    std::uint32_t _next = 0;
    bool _complete = false;
    std::vector<socket_entry> _entries;
    std::array<std::uint64_t, refusal_count> _refused{};
};

}  // namespace cg::control::shadow
