// The record layer of the mirror parser (docs/architecture.md "The mirror
// parser"): one direction of a TCP byte stream in, whole application
// records out. Two framings:
//
//  - ONC RPC record marking (RFC 5531 section 11): a 4-byte marker (bit 31
//    set on the last fragment, 31 bits of fragment length) before each
//    fragment; a record is one or more fragments, joined here with their
//    markers removed.
//  - NetBIOS session service framing as SMB2 over TCP 445 uses it
//    ([MS-SMB2] 2.1): 4 bytes, type 0x00 and a 24-bit length, before each
//    SMB2 message (or transform/compression header); the other NBSS types
//    (session request, responses, keepalive 0x85) are skipped by length.
//  - HTTP/1.x messages (RFC 9112): a head up to its empty line, then a body
//    by Content-Length, chunked, to the close, or none (http1.hpp says
//    which). A record is a message's bytes as they went, head and body.
//    A response's body depends on its request (HEAD, CONNECT): the client's
//    framer tells its sink each head as it is read (on_http_head), and the
//    connection passes the method on to the server's framer (http_expect);
//    responses come in the order of their requests. Once a response
//    switches protocols (101, CONNECT) the framer reads nothing more
//    (http_tunnel). The bytes of a chunked body are counted as a
//    fragment's (a gap inside a chunk's data keeps the framing), chunk size
//    lines and trailers are read byte by byte. Defined in
//    record_framer_http.cpp.
//
// The TCP follower above feeds in-order bytes (`feed`) and says where bytes
// are missing (`gap`). A gap that falls inside a fragment's announced length
// keeps the framing (the follower knows how many bytes are missing, and we
// know where the fragment ends), as Suricata keeps it inside READ/WRITE
// data; the record it went through is dropped, unless it is emitted by its
// prefix and the gap lies past it (gap() says so). A gap that hides a marker
// loses the framing: the framer then scans for a plausible record start,
// byte by byte, like Zeek's RPC resync (a marker of sane length followed by
// an RPC header that fits the direction: msg_type CALL with rpcvers 2 and a
// known credential flavor, or REPLY with a sane reply/accept status; for
// NBSS a session message whose bytes 4..7 are "\xfeSMB" (with
// StructureSize 64), "\xfdSMB" or "\xfcSMB"). Unlike Zeek it does not wait
// for packet boundaries nor skip the first records it finds; like Zeek's,
// its probe can be fooled by data that holds a well-formed record header
// (a WRITE of a capture file), and the parser above then sees a record that
// is not one. It finds only records whose first fragment holds the header
// it probes (real clients send one fragment). A record is never assembled
// across a gap.
//
// Memory: one buffer of `cap` bytes: either storage the owner gives (the
// connection table carves every framer's out of one arena made at start, so
// that nothing is allocated once traffic flows), or, without storage, one
// allocated on the first record byte (never per packet). A record of at most
// `cap` bytes is emitted whole; a longer one (a 1 MiB WRITE call or READ
// reply) by its first `prefix` bytes, its total length, and `whole() == false`.
//
// Thread-safety: one framer per direction of a connection, used by one
// thread. Called from: the mirror parser lcore, tests, fuzzers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/mirror/app_message.hpp"
#include "dataplane/mirror/http1.hpp"

namespace cg::dp::mirror {

enum class framing : std::uint8_t {
    onc_rpc,  ///< RFC 5531 record marking (NFS, MOUNT, portmapper on TCP)
    nbss,     ///< NetBIOS session service (SMB2 on TCP 445)
    http1,    ///< HTTP/1.0 and 1.1 messages
};

struct framer_config {
    framing kind = framing::onc_rpc;
    /// The stream's direction: what a plausible record start looks like
    /// while resynchronising (RPC calls go to the server, replies come
    /// back; an NFSv4.1 backchannel's calls to the client are framed in
    /// sync but never taken for a resync point).
    direction dir = direction::to_server;
    /// Records of at most this many bytes (markers removed) are held whole.
    std::uint32_t cap = 64 * 1024;
    /// Bytes of a longer record held and emitted: enough for its headers
    /// (RPC header with 400-byte credential and verifier, file handle, and
    /// the READ/WRITE arguments). Clamped to `cap`.
    std::uint32_t prefix = 2048;
    /// A marker announcing a record longer than this (fragments summed) is
    /// not believed: framing is lost and resynchronised.
    std::uint32_t max_record = 16 * 1024 * 1024;
};

/// One record, as the framer hands it to its sink. `bytes` points into the
/// framer's buffer: valid only during the call.
struct record {
    std::span<const std::uint8_t> bytes;  ///< the whole record, or its first `prefix` bytes
    std::uint32_t total_len = 0;          ///< the record's length, markers removed
    std::uint32_t fragments = 0;          ///< RPC fragments (1 for NBSS)
    std::uint64_t start = 0;              ///< stream position of its first marker byte
    std::uint64_t end = 0;                ///< stream position just past its last byte
    /// HTTP: the message's head (its body kind as framed: a response's
    /// after its request); nullptr for the other framings.
    const http1::head* http = nullptr;

    bool whole() const noexcept { return bytes.size() == total_len; }
};

/// Why bytes were not turned into records. Counted per framer.
enum class framer_error : std::uint8_t {
    record_too_long,     ///< a marker announced more than max_record bytes: framing lost
    bad_nbss_type,       ///< an NBSS type other than 0x00 and 0x81..0x85: framing lost
    gap_lost_sync,       ///< a gap hid a marker (or fell between records): framing lost
    gap_dropped_record,  ///< a record that a gap went through was not emitted
    no_buffer,           ///< the record buffer could not be allocated: record not emitted
    bad_http,            ///< an HTTP head or chunk line that is not one (framer_counters::http says how): framing lost
    count_
};
inline constexpr std::size_t framer_error_count = static_cast<std::size_t>(framer_error::count_);
inline constexpr std::array<std::string_view, framer_error_count> framer_error_names = {
    "record_too_long", "bad_nbss_type", "gap_lost_sync", "gap_dropped_record", "no_buffer", "bad_http",
};

struct framer_counters {
    std::uint64_t records_whole = 0;   ///< emitted whole
    std::uint64_t records_prefix = 0;  ///< emitted by their prefix (longer than cap)
    std::uint64_t nbss_skipped = 0;    ///< NBSS messages of other types (keepalives) skipped
    std::uint64_t resyncs = 0;         ///< plausible record starts found after framing was lost
    std::uint64_t resync_skipped_bytes = 0;  ///< bytes passed over while looking for one
    std::uint64_t gap_bytes = 0;       ///< bytes the follower said were missing
    std::array<std::uint64_t, framer_error_count> errors{};
    std::array<std::uint64_t, http1::error_count> http{};  ///< bad_http by what was wrong

    std::uint64_t error(framer_error e) const noexcept { return errors[static_cast<std::size_t>(e)]; }
};

/// Receives the framer's records.
class record_sink {
public:
    /// One record, in stream order. May call the framer's desync() (for
    /// example when the record is not of the protocol expected).
    virtual void on_record(const record& r) noexcept = 0;
    /// HTTP: a message's head, as soon as it is read (before its body, and
    /// before its record). May not call back into the framer.
    virtual void on_http_head(const http1::head&) noexcept {}

protected:
    ~record_sink() = default;
};

class record_framer {
public:
    /// Starts in sync: the first byte fed is a record's first marker byte
    /// (the follower saw the SYN). Call desync() when it is not.
    explicit record_framer(const framer_config& cfg) noexcept;
    /// The same, with the record buffer in `storage` (the owner's, which must
    /// outlive the framer): nothing is ever allocated. A storage shorter than
    /// `cap` shrinks cap (and prefix) to its size; an empty one leaves no
    /// buffer, and every record with bytes counts as no_buffer.
    record_framer(const framer_config& cfg, std::span<std::uint8_t> storage) noexcept;

    /// The next in-order bytes of the stream. Records completed by them go
    /// to `sink`, in order.
    void feed(std::span<const std::uint8_t> bytes, record_sink& sink) noexcept;
    /// `len` bytes of the stream are missing (lost before the mirror, or
    /// given up on by the follower). Returns true when the gap spared
    /// everything the framer emits: it fell inside a record that is emitted
    /// by its prefix, past that prefix (the READ reply's data, say), or
    /// inside a skipped message; the framing is kept.
    bool gap(std::uint32_t len) noexcept;
    /// Forget the record in progress and look for the next plausible
    /// record start (stream joined mid-way, or a parser found garbage);
    /// nothing when already looking.
    void desync() noexcept;
    /// HTTP, the server's framer: the next request's method, in order, so
    /// that its response is framed as that method's (a HEAD's has no body).
    /// Up to 64 requests ahead of their responses; more are taken for GETs.
    void http_expect(http1::method m) noexcept;
    /// HTTP: the connection left HTTP (a 101 or a CONNECT's 2xx went by):
    /// no more records, every byte passed over.
    void http_tunnel() noexcept;

    bool in_sync() const noexcept { return _mode == mode::sync; }
    /// Bytes of the stream seen so far, fed and missing.
    std::uint64_t position() const noexcept { return _pos + _carry_len; }
    /// Stream position where the bytes not yet in an emitted record begin:
    /// the first marker byte of the record (or skipped NBSS message) in
    /// progress, else position(). In scan mode, position().
    std::uint64_t settled() const noexcept {
        return _mode == mode::sync && (_in_record || _in_body || _marker_have != 0) ? _rec_start : position();
    }
    /// The last record emitted, while its bytes are still the buffer's: it
    /// was whole, nothing was stored since, no gap or desync came after it.
    /// `bytes` has its markers removed (an RPC record's one fragment is
    /// `fragments == 1`); `end` is its stream position past its last byte.
    struct last_record_view {
        std::uint64_t start = 0, end = 0;
        std::span<const std::uint8_t> bytes;
        std::uint32_t fragments = 0;
    };
    std::optional<last_record_view> last_record() const noexcept {
        if (!_last_ok) return std::nullopt;
        return last_record_view{_last_start, _last_end, {_buf, _last_len}, _last_fragments};
    }
    /// An RPC record in progress that is one last fragment (its whole
    /// length announced by its marker), every byte of it seen so far, its
    /// first bytes held: what a spare needs to send the rest of a reply the
    /// failed node had begun. `head` is its first bytes (markers removed,
    /// the XID first); `marker` its record marker as it went.
    struct partial_record_view {
        std::uint64_t start = 0;  ///< stream position of its marker's first byte
        std::uint32_t marker = 0;
        std::span<const std::uint8_t> head;
    };
    std::optional<partial_record_view> partial_record() const noexcept {
        if (_cfg.kind != framing::onc_rpc || _mode != mode::sync || !_in_record || !_in_body || _damaged ||
            _fragments != 1 || !_last || !_buf || _held < 4)
            return std::nullopt;
        return partial_record_view{_rec_start, 0x80000000u | static_cast<std::uint32_t>(_rec_total), {_buf, _held}};
    }
    /// Bytes of the record in progress received so far (markers removed), 0 between records.
    std::uint64_t partial_len() const noexcept { return _in_record ? _rec_total - _frag_left : 0; }
    const framer_counters& counters() const noexcept { return _c; }
    const framer_config& config() const noexcept { return _cfg; }

    /// What a resync probe says of the bytes at some stream position.
    enum class probe : std::uint8_t { no, yes, need_more };
    /// Whether `p[0..n)` starts a plausible record for this framing and
    /// direction; need_more when it cannot tell from `n` bytes.
    probe probe_start(const std::uint8_t* p, std::size_t n) const noexcept;
    /// The most bytes probe_start ever needs.
    static constexpr std::size_t probe_window = 36;

private:
    enum class mode : std::uint8_t { sync, scan };

    std::span<const std::uint8_t> consume(std::span<const std::uint8_t> d, record_sink& sink) noexcept;
    // HTTP (record_framer_http.cpp).
    enum class http_part : std::uint8_t { head, body, chunk_line, chunk_data, chunk_crlf, trailer, until_close, tunnel };
    std::span<const std::uint8_t> consume_http(std::span<const std::uint8_t> d, record_sink& sink) noexcept;
    void http_gap(std::uint32_t len) noexcept;
    /// Into the record: stored (up to cap), counted, the position moved on.
    void http_take(std::span<const std::uint8_t> d) noexcept;
    void http_head_done(record_sink& sink) noexcept;
    /// Reads the chunk size line's bytes in `d` up to its LF (or a byte that
    /// cannot be in one: `bad`); how many it read, that byte included.
    std::size_t http_chunk_line(std::span<const std::uint8_t> d, bool& done, bool& bad) noexcept;
    void http_chunk_size_read() noexcept;
    void http_counted_done(record_sink* sink) noexcept;
    void http_message_done(record_sink* sink) noexcept;
    void http_error(http1::error e) noexcept;
    std::span<const std::uint8_t> scan(std::span<const std::uint8_t> d, record_sink& sink) noexcept;
    std::span<const std::uint8_t> scan_direct(std::span<const std::uint8_t> d) noexcept;
    void on_marker() noexcept;
    void end_fragment(record_sink* sink) noexcept;
    void store(std::span<const std::uint8_t> d) noexcept;
    void lose_sync(framer_error why) noexcept;
    void reject_marker(framer_error why) noexcept;
    void reset_record() noexcept;
    void count(framer_error e) noexcept { ++_c.errors[static_cast<std::size_t>(e)]; }

    framer_config _cfg;
    framer_counters _c;
    mode _mode = mode::sync;
    std::uint64_t _pos = 0;  ///< stream position of the next byte the sync machine or the scan decides on

    // In sync: a marker being read, or a fragment's bytes.
    std::array<std::uint8_t, 4> _marker{};
    std::uint8_t _marker_have = 0;
    bool _in_body = false;
    bool _skip_body = false;  ///< an NBSS message of another type: its bytes are dropped
    bool _last = false;
    std::uint32_t _frag_left = 0;

    // The record in progress.
    bool _in_record = false;
    bool _damaged = false;  ///< a gap went through it
    std::uint64_t _rec_total = 0;  ///< fragment lengths announced so far
    std::uint32_t _held = 0;
    std::uint32_t _fragments = 0;
    std::uint64_t _rec_start = 0;
    std::uint8_t* _buf = nullptr;            ///< the record buffer: the owner's storage, or _owned
    std::unique_ptr<std::uint8_t[]> _owned;  ///< allocated on the first record byte when no storage was given
    bool _external = false;                  ///< storage was given: never allocate

    // The last record emitted (last_record).
    bool _last_ok = false;
    std::uint64_t _last_start = 0, _last_end = 0;
    std::uint32_t _last_len = 0, _last_fragments = 0;
    /// Called as a record is handed to the sink.
    void keep_last(const record& r) noexcept {
        _last_ok = r.whole();
        _last_start = r.start;
        _last_end = r.end;
        _last_len = static_cast<std::uint32_t>(r.bytes.size());
        _last_fragments = r.fragments;
    }

    // HTTP: the message in progress, and the methods its responses answer.
    http_part _part = http_part::head;
    http1::head_scanner _scanner;
    http1::head _head;
    std::uint64_t _body_left = 0;  ///< a Content-Length body's or a chunk's bytes still to come
    std::uint64_t _chunk_size = 0;
    std::uint16_t _chunk_line_len = 0;
    bool _chunk_digits = false, _chunk_ext = false;
    std::uint8_t _crlf_have = 0;                           ///< of the CRLF after a chunk's data
    std::uint64_t _expect_head = 0, _expect_connect = 0;  ///< bit i: the i-th response answers a HEAD, a CONNECT
    std::uint8_t _expect_n = 0;

    // Scanning: the last bytes of a feed that may start a record.
    std::array<std::uint8_t, probe_window> _carry{};
    std::uint8_t _carry_len = 0;
};

}  // namespace cg::dp::mirror
