#include "dataplane/mirror/record_framer.hpp"

#include <algorithm>
#include <cstring>
#include <new>

#include "dataplane/mirror/xdr.hpp"
#include "dataplane/pkt/wire.hpp"

namespace cg::dp::mirror {

namespace {

constexpr std::uint32_t rpc_last_fragment = 0x80000000u;
constexpr std::uint8_t nbss_session_message = 0x00;
constexpr std::uint32_t rpc_max_auth = 400;  // RFC 5531 opaque_auth body<400>

// Smallest bodies of a record start that passes the probe (bytes after the marker).
constexpr std::uint32_t rpc_min_call = 40;          // xid .. verifier length, both auths empty
constexpr std::uint32_t rpc_min_reply = 20;         // a denied AUTH_ERROR reply
constexpr std::uint32_t rpc_denied_mismatch = 24;   // a denied RPC_MISMATCH reply
constexpr std::uint32_t smb2_header_len = 64;
constexpr std::uint32_t smb2_transform_len = 52;
constexpr std::uint32_t smb2_compression_min = 16;

/// Credential and verifier flavors seen on the wire (RFC 5531 appendix,
/// RFC 2203 RPCSEC_GSS, RFC 9289 AUTH_TLS).
bool known_flavor(std::uint32_t f) noexcept { return f <= 3 || f == 6 || f == 7; }

}  // namespace

record_framer::record_framer(const framer_config& cfg) noexcept : _cfg(cfg) {
    _cfg.prefix = std::min(_cfg.prefix, _cfg.cap);
    _cfg.max_record = std::max(_cfg.max_record, _cfg.cap);
    if (_cfg.kind == framing::onc_rpc) _cfg.max_record = std::min(_cfg.max_record, ~rpc_last_fragment);
}

record_framer::record_framer(const framer_config& cfg, std::span<std::uint8_t> storage) noexcept
    : record_framer([&] {
          framer_config c = cfg;
          c.cap = static_cast<std::uint32_t>(std::min<std::size_t>(c.cap, storage.size()));
          return c;
      }()) {
    _external = true;
    _buf = storage.empty() ? nullptr : storage.data();
}

record_framer::probe record_framer::probe_start(const std::uint8_t* p, std::size_t n) const noexcept {
    // Word i (bytes 4i..4i+3) when there, else "need more".
#define CG_WORD(i, v)                                   \
    if (n < 4 * (i) + 4) return probe::need_more;       \
    const std::uint32_t v = wire::load32(p + 4 * (i))

    if (_cfg.kind == framing::http1) {
        switch (http1::probe_start(p, n, _cfg.dir)) {
        case http1::probe::no: return probe::no;
        case http1::probe::yes: return probe::yes;
        case http1::probe::need_more: return probe::need_more;
        }
    }
    CG_WORD(0, marker);
    if (_cfg.kind == framing::nbss) {
        const std::uint32_t len = marker & 0xffffff;
        if ((marker >> 24) != nbss_session_message || len < smb2_compression_min || len > _cfg.max_record)
            return probe::no;
        if (n < 8) return probe::need_more;
        if (p[5] != 'S' || p[6] != 'M' || p[7] != 'B') return probe::no;
        switch (p[4]) {
        case 0xfe:
            if (len < smb2_header_len) return probe::no;
            if (n < 10) return probe::need_more;
            return p[8] == 64 && p[9] == 0 ? probe::yes : probe::no;  // StructureSize, little-endian
        case 0xfd: return len >= smb2_transform_len ? probe::yes : probe::no;
        case 0xfc: return probe::yes;
        default: return probe::no;
        }
    }

    const bool last = marker & rpc_last_fragment;
    const std::uint32_t len = marker & ~rpc_last_fragment;
    if (len > _cfg.max_record) return probe::no;
    if (_cfg.dir == direction::to_server) {
        if (len < rpc_min_call) return probe::no;
        CG_WORD(2, msg_type);
        if (msg_type != 0) return probe::no;
        CG_WORD(3, rpcvers);
        if (rpcvers != 2) return probe::no;
        CG_WORD(7, cred_flavor);
        if (!known_flavor(cred_flavor)) return probe::no;
        CG_WORD(8, cred_len);
        if (cred_len > rpc_max_auth) return probe::no;
        if (last && len < rpc_min_call + xdr_padded(cred_len)) return probe::no;
        return probe::yes;
    }
    if (len < rpc_min_reply) return probe::no;
    CG_WORD(2, msg_type);
    if (msg_type != 1) return probe::no;
    CG_WORD(3, reply_stat);
    if (reply_stat == 1) {  // MSG_DENIED: nothing follows its reason
        CG_WORD(4, reject_stat);
        if (reject_stat == 0) {
            if (last && len != rpc_denied_mismatch) return probe::no;
            CG_WORD(6, high);
            CG_WORD(5, low);
            return low <= high ? probe::yes : probe::no;
        }
        if (reject_stat != 1 || (last && len != rpc_min_reply)) return probe::no;
        CG_WORD(5, auth_stat);
        return auth_stat >= 1 && auth_stat <= 14 ? probe::yes : probe::no;
    }
    if (reply_stat != 0) return probe::no;
    CG_WORD(4, verf_flavor);
    if (!known_flavor(verf_flavor)) return probe::no;
    CG_WORD(5, verf_len);
    if (verf_len > rpc_max_auth) return probe::no;
    if (last && len < rpc_min_reply + 4 + xdr_padded(verf_len)) return probe::no;
    if (verf_len != 0) return probe::yes;  // accept_stat lies past the verifier: not looked at
    CG_WORD(6, accept_stat);
    return accept_stat <= 5 ? probe::yes : probe::no;
#undef CG_WORD
}

void record_framer::feed(std::span<const std::uint8_t> d, record_sink& sink) noexcept {
    while (!d.empty()) d = _mode == mode::sync ? consume(d, sink) : scan(d, sink);
}

bool record_framer::gap(std::uint32_t len) noexcept {
    if (len == 0) return true;
    _last_ok = false;
    _c.gap_bytes += len;
    if (_mode == mode::scan) {
        // The bytes held for a probe are not contiguous with what follows.
        _c.resync_skipped_bytes += _carry_len;
        _pos += _carry_len + std::uint64_t{len};
        _carry_len = 0;
        return false;
    }
    if (_cfg.kind == framing::http1) {
        http_gap(len);
        return false;
    }
    if (_in_body && len <= _frag_left) {
        // Inside the fragment's announced bytes: framing kept, and the record
        // lost, unless it is emitted by a prefix that is already whole.
        const bool past_prefix = _rec_total > _cfg.cap && _held >= _cfg.prefix;
        _pos += len;
        _frag_left -= len;
        if (!_skip_body && !past_prefix) _damaged = true;
        if (_frag_left == 0) end_fragment(nullptr);
        return _skip_body || past_prefix;
    }
    if (_in_record && !_skip_body) count(framer_error::gap_dropped_record);
    lose_sync(framer_error::gap_lost_sync);
    _pos += len;
    return false;
}

void record_framer::desync() noexcept {
    if (_mode == mode::scan) return;  // already looking: the bytes kept for a probe are still candidates
    if (_part == http_part::tunnel) return;  // no HTTP to look for any more
    _last_ok = false;
    reset_record();
    _mode = mode::scan;
}

void record_framer::lose_sync(framer_error why) noexcept {
    count(why);
    desync();
}

void record_framer::reject_marker(framer_error why) noexcept {
    // Not a marker: the scan starts again at its second byte.
    lose_sync(why);
    _c.resync_skipped_bytes += 1;
    _pos -= 3;
    std::memcpy(_carry.data(), _marker.data() + 1, 3);
    _carry_len = 3;
}

void record_framer::reset_record() noexcept {
    _marker_have = 0;
    _in_body = _skip_body = _last = false;
    _frag_left = 0;
    _in_record = _damaged = false;
    _rec_total = 0;
    _held = 0;
    _fragments = 0;
    _part = http_part::head;
    _body_left = 0;
}

std::span<const std::uint8_t> record_framer::consume(std::span<const std::uint8_t> d, record_sink& sink) noexcept {
    if (_cfg.kind == framing::http1) return consume_http(d, sink);
    while (!d.empty()) {
        if (!_in_body) {
            if (_marker_have == 0 && !_in_record) _rec_start = _pos;
            const std::size_t n = std::min<std::size_t>(4 - _marker_have, d.size());
            std::memcpy(_marker.data() + _marker_have, d.data(), n);
            _marker_have = static_cast<std::uint8_t>(_marker_have + n);
            _pos += n;
            d = d.subspan(n);
            if (_marker_have < 4) break;
            on_marker();
            if (_mode != mode::sync) return d;
            if (_frag_left == 0) end_fragment(&sink);
        } else {
            const std::size_t n = std::min<std::size_t>(_frag_left, d.size());
            if (!_skip_body) store(d.first(n));
            _frag_left -= static_cast<std::uint32_t>(n);
            _pos += n;
            d = d.subspan(n);
            if (_frag_left == 0) end_fragment(&sink);
        }
        if (_mode != mode::sync) return d;  // the sink called desync()
    }
    return {};
}

void record_framer::on_marker() noexcept {
    const std::uint32_t m = wire::load32(_marker.data());
    _marker_have = 0;
    std::uint32_t len;
    if (_cfg.kind == framing::nbss) {
        const std::uint8_t type = static_cast<std::uint8_t>(m >> 24);
        len = m & 0xffffff;
        if (type != nbss_session_message && (type < 0x81 || type > 0x85)) return reject_marker(framer_error::bad_nbss_type);
        _skip_body = type != nbss_session_message;
        _last = true;
    } else {
        _last = m & rpc_last_fragment;
        len = m & ~rpc_last_fragment;
    }
    if (_rec_total + len > _cfg.max_record) return reject_marker(framer_error::record_too_long);
    if (_skip_body) {
        ++_c.nbss_skipped;
    } else {
        _in_record = true;
        _rec_total += len;
        ++_fragments;
    }
    _frag_left = len;
    _in_body = true;
}

void record_framer::store(std::span<const std::uint8_t> d) noexcept {
    _last_ok = false;  // the buffer takes the next record's bytes
    if (!_buf) {
        if (_external) return;  // end_fragment counts the record as no_buffer
        _owned.reset(new (std::nothrow) std::uint8_t[_cfg.cap]);
        _buf = _owned.get();
        if (!_buf) return;
    }
    // Once the record is known to be longer than cap only its prefix is kept.
    const std::uint32_t limit = _rec_total > _cfg.cap ? _cfg.prefix : _cfg.cap;
    if (_held >= limit) return;
    const std::size_t n = std::min<std::size_t>(d.size(), limit - _held);
    std::memcpy(_buf + _held, d.data(), n);
    _held += static_cast<std::uint32_t>(n);
}

void record_framer::end_fragment(record_sink* sink) noexcept {
    _in_body = false;
    if (_skip_body) {
        _skip_body = false;
        return;
    }
    if (!_last) return;
    if (_damaged) {
        count(framer_error::gap_dropped_record);
    } else if (!_buf && _rec_total > 0) {
        count(framer_error::no_buffer);
    } else if (sink) {
        record r;
        const bool whole = _rec_total <= _cfg.cap;
        const std::uint32_t shown = whole ? _held : std::min(_held, _cfg.prefix);
        r.bytes = {_buf, shown};
        r.total_len = static_cast<std::uint32_t>(_rec_total);
        r.fragments = _fragments;
        r.start = _rec_start;
        r.end = _pos;
        ++(whole ? _c.records_whole : _c.records_prefix);
        reset_record();
        keep_last(r);
        sink->on_record(r);
        return;
    }
    reset_record();
}

std::span<const std::uint8_t> record_framer::scan(std::span<const std::uint8_t> d, record_sink& sink) noexcept {
    if (_carry_len == 0) return scan_direct(d);

    // The bytes kept from the last feed, then enough of this one to probe each of their positions.
    std::array<std::uint8_t, 2 * probe_window> tmp{};
    const std::size_t from_d = std::min(d.size(), probe_window);
    std::memcpy(tmp.data(), _carry.data(), _carry_len);
    std::memcpy(tmp.data() + _carry_len, d.data(), from_d);
    const std::size_t tl = _carry_len + from_d;
    for (std::size_t p = 0; p < _carry_len; ++p) {
        const probe v = probe_start(tmp.data() + p, tl - p);
        if (v == probe::no) continue;
        _c.resync_skipped_bytes += p;
        _pos += p;
        if (v == probe::need_more) {  // only when all of d is in tmp
            _carry_len = static_cast<std::uint8_t>(tl - p);
            std::memcpy(_carry.data(), tmp.data() + p, _carry_len);
            return {};
        }
        // Found: the kept bytes from p on are the record's first; d follows them.
        std::array<std::uint8_t, probe_window> pending{};
        const std::size_t pn = _carry_len - p;
        std::memcpy(pending.data(), tmp.data() + p, pn);
        _carry_len = 0;
        ++_c.resyncs;
        _mode = mode::sync;
        std::span<const std::uint8_t> rest(pending.data(), pn);
        while (!rest.empty()) rest = _mode == mode::sync ? consume(rest, sink) : scan_direct(rest);
        return d;
    }
    _c.resync_skipped_bytes += _carry_len;
    _pos += _carry_len;
    _carry_len = 0;
    return scan_direct(d);
}

std::span<const std::uint8_t> record_framer::scan_direct(std::span<const std::uint8_t> d) noexcept {
    for (std::size_t p = 0; p < d.size(); ++p) {
        const probe v = probe_start(d.data() + p, d.size() - p);
        if (v == probe::no) continue;
        _c.resync_skipped_bytes += p;
        _pos += p;
        if (v == probe::need_more) {
            _carry_len = static_cast<std::uint8_t>(d.size() - p);
            std::memcpy(_carry.data(), d.data() + p, _carry_len);
            return {};
        }
        ++_c.resyncs;
        _mode = mode::sync;
        return d.subspan(p);
    }
    _c.resync_skipped_bytes += d.size();
    _pos += d.size();
    return {};
}

}  // namespace cg::dp::mirror
