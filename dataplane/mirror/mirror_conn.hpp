// One connection the mirror parser follows (requirements 6.2, 6.4;
// docs/architecture.md "The mirror parser"): the layers tied together.
//
//   segments -> tcp_follower -> (per direction) record_framer -> nfs / smb2
//            -> msg_fifo of the connection's requests, answered by replies
//
// The server port says what the connection speaks (port_map): ONC RPC
// record marking for NFS, MOUNT and portmapper, NetBIOS session framing for
// SMB2 on 445, nothing above TCP for any other port (port_map). Each record is parsed;
// a request goes into the FIFO with its record's bytes (held whole in the
// lcore's chunk_pool while unanswered, so that a restored connection can
// replay it); a reply finds its call by XID or MessageId and answers it.
// SMB2's interim STATUS_PENDING responses do not answer (they give the
// request its AsyncId); a CREATE response's FileId replaces the all-0xFF
// FileId of the related requests after it in its compound chain; CANCEL gets
// no response and is not kept.
//
// What the connection knows is `complete` (restorable) or not, with ONE
// reason (conn_reason, the first that applies): the TCP follower's (joined
// mid-stream, handshake, gap or hole in a direction), then opaque (SMB
// encryption or compression), framing lost without a gap, a record the
// parser refused, and the FIFO's flaws (a request too large to hold, not
// held for want of memory, or dropped). Never guessed across a gap: the
// framer drops any record a gap went through and resynchronises (see
// record_framer.hpp), and a record that then fails to parse is not taken.
//
// Memory: the object itself (sizeof) and storage_bytes(config) of the
// owner's storage (the follower's out-of-order rings, the two framers'
// record buffers); no allocation after construction.
//
// Ownership: one per followed connection, in a parser_table slot on the
// parser lcore. Not thread-safe. Called from: the mirror parser lcore, the
// offline reader (cg-mirror-read), tests, fuzzers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/net_types.hpp"
#include "dataplane/mirror/app_message.hpp"
#include "dataplane/mirror/chunk_pool.hpp"
#include "dataplane/mirror/msg_fifo.hpp"
#include "dataplane/mirror/nfs.hpp"
#include "dataplane/mirror/record_framer.hpp"
#include "dataplane/mirror/smb2.hpp"
#include "dataplane/mirror/tcp_follower.hpp"

namespace cg::dp::mirror {

// ---- what a server port speaks ---------------------------------------------

enum class port_proto : std::uint8_t {
    tcp,         ///< nothing parsed above TCP
    rpc,         ///< ONC RPC of some program (NLM, a MOUNT on a port of its own, ...)
    nfs,         ///< ONC RPC, NFS expected
    mount,       ///< ONC RPC, MOUNT expected
    portmapper,  ///< ONC RPC, portmapper / rpcbind
    smb,         ///< SMB2/3 over NetBIOS session framing
    http,        ///< HTTP/1.x
    count_
};
inline constexpr std::size_t port_proto_count = static_cast<std::size_t>(port_proto::count_);
inline constexpr std::array<std::string_view, port_proto_count> port_proto_names = {
    "tcp", "rpc", "nfs", "mount", "portmapper", "smb", "http",
};
constexpr bool is_rpc(port_proto p) noexcept {
    return p == port_proto::rpc || p == port_proto::nfs || p == port_proto::mount || p == port_proto::portmapper;
}
/// The client's requests are framed, so that they can be replayed whole
/// (requirements 6.4): ONC RPC records, HTTP messages (SMB2 has them too,
/// but its session state cannot be carried over).
constexpr bool frames_requests(port_proto p) noexcept { return is_rpc(p) || p == port_proto::http; }

/// Server ports and what they speak; any other port is TCP only. Small and
/// fixed (a linear search over a few ports beats a hash here).
class port_map {
public:
    static constexpr std::size_t max_ports = 16;

    /// 2049 nfs, 111 portmapper, 445 smb, 80 http.
    static port_map defaults() noexcept;

    /// Sets (or replaces) what a port speaks; port_proto::tcp removes it.
    /// Returns false, changing nothing, when the map is full.
    bool set(std::uint16_t port, port_proto p) noexcept;
    /// port_proto::tcp for a port not in the map.
    port_proto of(std::uint16_t port) const noexcept;
    bool has(std::uint16_t port) const noexcept { return find(port) >= 0; }
    std::size_t size() const noexcept { return _n; }

private:
    int find(std::uint16_t port) const noexcept;

    std::array<std::uint16_t, max_ports> _port{};
    std::array<port_proto, max_ports> _proto{};
    std::uint8_t _n = 0;
};

/// Both ends of a followed connection (host byte order).
struct conn_endpoints {
    common::ipv4_addr client_addr = 0;
    common::ipv4_addr server_addr = 0;
    std::uint16_t client_port = 0;
    std::uint16_t server_port = 0;

    friend bool operator==(const conn_endpoints&, const conn_endpoints&) = default;
};

// ---- what it knows -----------------------------------------------------------

/// Complete, or the first reason it is not (requirements 6.4: complete
/// connections are restored, the others reset).
enum class conn_reason : std::uint8_t {
    complete,
    nothing_seen,          ///< no segment yet
    joined_mid_stream,     ///< the client's SYN never seen: options unknown
    handshake_unfinished,  ///< SYN (and SYN-ACK) seen, not the client's ACK of it
    handshake_missed,      ///< the SYN-ACK never seen: the server's options unknown
    gap_to_server,         ///< bytes of the client's stream lost to the mirror
    gap_to_client,         ///< bytes of the server's stream lost
    hole_to_server,        ///< bytes of the client's stream missing now (may still come)
    hole_to_client,        ///< bytes of the server's stream missing now
    opaque,                ///< SMB2 encrypted or compressed: no request can be known
    framing_lost,          ///< a record marker no gap explains (too long, a bad NBSS type)
    parse_error,           ///< a record the parser refused: what the client asked is not known
    request_too_large,     ///< an unanswered request longer than the framer holds
    request_not_held,      ///< an unanswered request the chunk pool had no room for
    request_dropped,       ///< more requests in flight than the FIFO keeps: the oldest dropped
    count_
};
inline constexpr std::size_t conn_reason_count = static_cast<std::size_t>(conn_reason::count_);
inline constexpr std::array<std::string_view, conn_reason_count> conn_reason_names = {
    "complete",          "nothing_seen",     "joined_mid_stream", "handshake_unfinished", "handshake_missed",
    "gap_to_server",     "gap_to_client",    "hole_to_server",    "hole_to_client",       "opaque",
    "framing_lost",      "parse_error",      "request_too_large", "request_not_held",     "request_dropped",
};

/// What a gap the follower reported did to the record layer above it.
enum class gap_effect : std::uint8_t {
    joined_mid_stream,  ///< the stream began unseen: the framer looks for a record start
    inside_record,      ///< inside a record's announced bytes: that record dropped, framing kept
    past_prefix,        ///< inside a long record past its kept prefix (or a skipped message): nothing kept lost
    lost_sync,          ///< over a marker: framing lost, the framer looks for a record start
    while_resyncing,    ///< the framer was already looking
    tcp_only,           ///< no framer (the connection is TCP only)
    count_
};
inline constexpr std::size_t gap_effect_count = static_cast<std::size_t>(gap_effect::count_);
inline constexpr std::array<std::string_view, gap_effect_count> gap_effect_names = {
    "joined_mid_stream", "inside_record", "past_prefix", "lost_sync", "while_resyncing", "tcp_only",
};

/// Per connection, by reason; the table sums them (parser_table::totals).
/// Only uint64 fields, so that sums are element-wise.
struct conn_counters {
    std::array<std::uint64_t, 2> records{};  ///< records parsed, [0] to_server, [1] to_client
    std::uint64_t requests = 0;              ///< taken into the FIFO
    std::uint64_t replies = 0;               ///< final replies and responses, matched or not
    std::uint64_t replies_unmatched = 0;     ///< of them, no unanswered request with their id
    std::uint64_t interim = 0;               ///< SMB2 STATUS_PENDING interim responses
    std::uint64_t cancels = 0;               ///< SMB2 CANCEL requests (no response comes)
    std::uint64_t notifications = 0;         ///< SMB2 messages from the server with the unsolicited MessageId
    std::uint64_t backchannel = 0;           ///< RPC calls from the server, replies from the client (NFSv4.1 callbacks)
    std::uint64_t opaque_records = 0;        ///< SMB2 records not read: encrypted or compressed
    std::uint64_t fileids_resolved = 0;      ///< related requests given their chain's CREATE FileId
    std::uint64_t evictions_asked = 0;       ///< times the chunk pool had no room and the table was asked for it
    std::array<std::uint64_t, rpc_error_count> rpc_errors{};          ///< RPC records by parse error
    std::array<std::uint64_t, smb2::outcome_count> smb2_outcomes{};  ///< SMB2 records by outcome (ok included)
    std::array<std::uint64_t, gap_effect_count> gaps{};               ///< gap reports by their effect
};

/// What comes with a message to a conn_observer.
struct msg_note {
    std::uint32_t bytes = 0;   ///< the message's length (an RPC record's, an SMB2 message's in its payload)
    bool whole = true;         ///< its bytes were all seen (not only a prefix)
    fifo_flaw flaw = fifo_flaw::none;  ///< requests: what the FIFO could not hold (none: held whole)
    bool expects_reply = true;         ///< false for an SMB2 CANCEL (not kept in the FIFO)
    bool interim = false;              ///< an SMB2 interim response: the request stays unanswered
};

/// Why a connection left its table (parser_table).
enum class release_reason : std::uint8_t {
    fin,             ///< both FINs went through
    reset,           ///< an RST
    stale_timeout,   ///< no segment for the stale timeout (requirements 2.7 STALE_TIME_OUT)
    fin_timeout,     ///< a FIN seen, no segment since for the FIN timeout (FIN_TIME_OUT)
    evicted_full,    ///< the table was full: the least recently used went
    evicted_memory,  ///< the chunk pool was: the least recently used holding chunks went
    reused,          ///< a new SYN on its 4-tuple: a new connection
    cleared,         ///< the table was cleared (parser stopped, end of a capture)
    count_
};
inline constexpr std::size_t release_reason_count = static_cast<std::size_t>(release_reason::count_);
inline constexpr std::array<std::string_view, release_reason_count> release_reason_names = {
    "fin", "reset", "stale_timeout", "fin_timeout", "evicted_full", "evicted_memory", "reused", "cleared",
};

class mirror_conn;

/// Hears of each message as the connection takes it, and of the connection
/// leaving its table. For the offline reader, tests and listings; the
/// parser lcore runs without one. Calls come from inside follow() (and the
/// table's frame(), age(), clear()); an observer must not call back into them.
class conn_observer {
public:
    /// A request from the client, after it went into the FIFO (or, for a
    /// CANCEL, did not: note.expects_reply is false).
    virtual void on_request(const mirror_conn&, const app_message&, const msg_note&) noexcept {}
    /// A reply from the server; `request` is the unanswered request it
    /// answers (still unanswered during the call), nullptr when none matched.
    /// An interim response (note.interim) leaves the request unanswered.
    virtual void on_reply(const mirror_conn&, const app_message&, const msg_note&, const app_message* /*request*/) noexcept {}
    /// The connection leaves its table; its FIFO still holds what it held.
    virtual void on_release(const mirror_conn&, release_reason) noexcept {}

protected:
    ~conn_observer() = default;
};

/// Asked by a connection whose request does not fit the chunk pool: free
/// `chunks` (the table evicts its least recently used other connections
/// that hold some). Returns whether they are free now.
class chunk_room {
public:
    virtual bool make_room(const mirror_conn& asking, std::uint32_t chunks) noexcept = 0;

protected:
    ~chunk_room() = default;
};

struct mirror_conn_config {
    /// Out-of-order bytes held per direction, and how far ahead a segment may lie.
    tcp_follower_config follower{16 * 1024, 16u << 20};
    /// The client's records (requests) held whole up to this: a longer
    /// request cannot be replayed (request_too_large).
    std::uint32_t request_cap = 64 * 1024;
    /// The server's records held whole up to this; longer ones by their
    /// first `prefix` bytes, which is all a reply's parse needs.
    std::uint32_t reply_cap = 16 * 1024;
    std::uint32_t prefix = 2048;
    /// A record marker announcing more is not believed (framing lost).
    std::uint32_t max_record = 16u << 20;
};

class mirror_conn final : private tcp_sink {
public:
    /// SMB2 messages read from one payload (a compound chain); more are
    /// counted too_many_messages and the connection is not complete.
    static constexpr std::size_t max_smb2_messages = 16;

    /// Bytes of storage a connection with `cfg` needs: the follower's rings
    /// and both record buffers.
    static std::size_t storage_bytes(const mirror_conn_config& cfg) noexcept;

    /// `storage` (at least storage_bytes(cfg)) and `pool` are the owner's
    /// and must outlive the connection. It follows nothing until start().
    mirror_conn(const mirror_conn_config& cfg, std::span<std::uint8_t> storage, chunk_pool& pool) noexcept;
    mirror_conn(const mirror_conn&) = delete;
    mirror_conn& operator=(const mirror_conn&) = delete;

    /// Starts following a new connection: the previous one must have been
    /// release()d. `observer` and `room` may be null.
    void start(const conn_endpoints& ep, port_proto speaks, std::uint64_t serial, conn_observer* observer,
               chunk_room* room) noexcept;
    /// One segment of it, either way (seg.dir). Never fails: bad input is
    /// counted by the follower and ignored.
    seg_verdict follow(const tcp_segment& seg) noexcept;
    /// Gives the FIFO's chunks back; the connection follows nothing until
    /// the next start().
    void release() noexcept;

    /// complete, or the first reason it is not.
    conn_reason reason() const noexcept;
    bool complete() const noexcept { return reason() == conn_reason::complete; }
    /// The follower saw both FINs through, or an RST: the table lets it go.
    bool ended() const noexcept {
        return _tcp.state() == tcp_state::closed || _tcp.state() == tcp_state::reset;
    }
    bool opaque() const noexcept { return _opaque; }

    const conn_endpoints& endpoints() const noexcept { return _ep; }
    port_proto speaks() const noexcept { return _speaks; }
    /// Numbers the connections an owner started, so that an observer can tell
    /// apart two that used the same slot or the same 4-tuple.
    std::uint64_t serial() const noexcept { return _serial; }
    const tcp_follower& tcp() const noexcept { return _tcp; }
    const msg_fifo& fifo() const noexcept { return _fifo; }
    /// The direction's record framer; nullptr for a TCP-only connection.
    const record_framer* framer(direction d) const noexcept {
        return _speaks == port_proto::tcp ? nullptr : &_framer[idx(d)];
    }
    const conn_counters& counters() const noexcept { return _c; }
    conn_observer* observer() const noexcept { return _obs; }

private:
    /// One direction's record sink: the framer knows no direction.
    struct records final : record_sink {
        mirror_conn* conn = nullptr;
        direction dir = direction::to_server;
        void on_record(const record& r) noexcept override { conn->on_record(dir, r); }
        void on_http_head(const http1::head& h) noexcept override { conn->on_http_head(dir, h); }
    };
    /// A call's RPCSEC_GSS service, which its reply's parse needs and
    /// app_message does not carry.
    struct gss_call {
        std::uint32_t xid = 0;
        std::uint8_t service = 0;
    };
    /// A related request of an SMB2 chain waiting for its CREATE's FileId.
    struct fileid_wait {
        std::uint64_t request = 0, create = 0;
        bool used = false;
    };

    static std::size_t idx(direction d) noexcept { return d == direction::to_server ? 0 : 1; }

    void on_data(direction d, std::span<const std::uint8_t> bytes) noexcept override;
    bool on_gap(direction d, std::uint32_t len) noexcept override;
    void on_end(direction d, stream_end why) noexcept override;

    void on_record(direction d, const record& r) noexcept;
    void rpc_record(direction d, const record& r) noexcept;
    void smb2_record(direction d, const record& r) noexcept;
    void http_record(direction d, const record& r) noexcept;
    void on_http_head(direction d, const http1::head& h) noexcept;
    void smb2_response(const app_message& m, msg_note note) noexcept;
    /// Into the FIFO with its bytes (asking the table for room in the pool first).
    void take_request(const app_message& m, std::span<const std::uint8_t> bytes, msg_note note) noexcept;
    void take_reply(const app_message& m, const msg_note& note, app_message* request) noexcept;
    /// A record the parser refused: not taken, and the framer looks for
    /// the next plausible record start.
    void refuse(direction d) noexcept;
    std::uint8_t gss_of(std::uint32_t xid) const noexcept;
    void wait_fileid(std::uint64_t request, std::uint64_t create) noexcept;
    void resolve_fileids(const app_message& create_response) noexcept;

    mirror_conn_config _cfg;
    chunk_pool* _pool;
    std::span<std::uint8_t> _tcp_storage;                ///< the follower's rings
    std::array<std::span<std::uint8_t>, 2> _rec_storage;  ///< each framer's record buffer
    tcp_follower _tcp;
    std::array<record_framer, 2> _framer;  ///< [0] the client's records, [1] the server's
    std::array<records, 2> _sinks;
    msg_fifo _fifo;
    conn_counters _c;
    conn_endpoints _ep;
    port_proto _speaks = port_proto::tcp;
    std::uint64_t _serial = 0;
    conn_observer* _obs = nullptr;
    chunk_room* _room = nullptr;
    bool _opaque = false;
    bool _parse_error = false;
    std::array<gss_call, msg_fifo::capacity> _gss{};
    std::uint8_t _gss_next = 0;
    std::array<fileid_wait, msg_fifo::capacity> _waits{};
    std::uint8_t _wait_next = 0;
    /// HTTP: requests and final responses so far, [0] and [1]: a message's id.
    std::array<std::uint64_t, 2> _http_seq{};
};

}  // namespace cg::dp::mirror
