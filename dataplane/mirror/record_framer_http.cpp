// The record framer's HTTP/1.x framing (record_framer.hpp): a message's head
// up to its empty line, then its body as the head (and, for a response, its
// request) says. The scan after a loss of framing is the framer's own, with
// http1::probe_start as its probe.
#include <algorithm>

#include "dataplane/mirror/record_framer.hpp"

namespace cg::dp::mirror {

namespace {

/// A chunk size line longer than this is not one (RFC 9112 7.1 sets no
/// limit; servers refuse long extensions: nginx at its header buffer).
constexpr std::uint16_t max_chunk_line = 4096;
/// Chunk sizes past this are not believed (16 hex digits would overflow).
constexpr std::uint64_t max_chunk = std::uint64_t{1} << 48;

int hex_value(std::uint8_t c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

void record_framer::http_expect(http1::method m) noexcept {
    if (_expect_n == 64) return;
    const std::uint64_t bit = std::uint64_t{1} << _expect_n;
    if (m == http1::method::head) _expect_head |= bit;
    if (m == http1::method::connect) _expect_connect |= bit;
    ++_expect_n;
}

void record_framer::http_tunnel() noexcept {
    reset_record();
    _part = http_part::tunnel;
    _mode = mode::sync;
    _c.resync_skipped_bytes += _carry_len;
    _pos += _carry_len;
    _carry_len = 0;
}

void record_framer::http_error(http1::error e) noexcept {
    ++_c.http[static_cast<std::size_t>(e)];
    lose_sync(framer_error::bad_http);
}

void record_framer::http_take(std::span<const std::uint8_t> d) noexcept {
    store(d);
    _rec_total += d.size();
    _pos += d.size();
}

std::span<const std::uint8_t> record_framer::consume_http(std::span<const std::uint8_t> d, record_sink& sink) noexcept {
    while (!d.empty() && _mode == mode::sync) {
        switch (_part) {
        case http_part::head: {
            if (!_in_record) {
                _in_record = true;
                _rec_start = _pos;
                _scanner = http1::head_scanner();
            }
            // A head is too long at its byte cap + 1, however its bytes came.
            const std::size_t room = static_cast<std::size_t>(_cfg.cap + 1 - _rec_total);
            const std::span<const std::uint8_t> look = d.first(std::min(d.size(), room));
            const auto end = _scanner.scan(look);
            const std::size_t n = end.value_or(look.size());
            http_take(d.first(n));
            d = d.subspan(n);
            if (end) {
                http_head_done(sink);
            } else if (_rec_total > _cfg.cap) {
                http_error(http1::error::head_too_long);
            }
            break;
        }
        case http_part::body:
        case http_part::chunk_data: {
            const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(_body_left, d.size()));
            http_take(d.first(n));
            d = d.subspan(n);
            _body_left -= n;
            if (_body_left == 0) http_counted_done(&sink);
            break;
        }
        case http_part::chunk_line: {
            bool done = false, bad = false;
            const std::size_t n = http_chunk_line(d, done, bad);
            http_take(d.first(n));
            d = d.subspan(n);
            if (bad) {
                http_error(http1::error::bad_chunk);
            } else if (done) {
                http_chunk_size_read();
            }
            break;
        }
        case http_part::chunk_crlf: {
            const std::uint8_t c = d[0];
            http_take(d.first(1));
            d = d.subspan(1);
            if (c == '\r' && _crlf_have == 0) {
                _crlf_have = 1;
            } else if (c == '\n') {
                _part = http_part::chunk_line;
            } else {
                http_error(http1::error::bad_chunk);
            }
            break;
        }
        case http_part::trailer: {
            const std::size_t room = static_cast<std::size_t>(_cfg.cap + 1 - _body_left);
            const std::span<const std::uint8_t> look = d.first(std::min(d.size(), room));
            const auto end = _scanner.scan(look);
            const std::size_t n = end.value_or(look.size());
            http_take(d.first(n));
            d = d.subspan(n);
            _body_left += n;  // the trailer's bytes so far
            if (end) {
                http_message_done(&sink);
            } else if (_body_left > _cfg.cap) {
                http_error(http1::error::bad_chunk);  // a trailer without end
            }
            break;
        }
        case http_part::until_close:
            http_take(d);  // ends with the stream: never a record
            return {};
        case http_part::tunnel:
            _pos += d.size();
            return {};
        }
    }
    return d;
}

void record_framer::http_head_done(record_sink& sink) noexcept {
    if (!_buf) return lose_sync(framer_error::no_buffer);  // a head cannot be read without its bytes
    if (const auto e = http1::parse_head({_buf, _held}, _cfg.dir, _head)) return http_error(*e);
    if (_cfg.dir == direction::to_client) {
        http1::method asked = http1::method::other;
        if (!_head.interim()) {
            if (_expect_n > 0) {
                asked = _expect_head & 1 ? http1::method::head : _expect_connect & 1 ? http1::method::connect : asked;
                _expect_head >>= 1;
                _expect_connect >>= 1;
                --_expect_n;
            }
        }
        _head.kind = http1::response_body(_head, asked);
    }
    sink.on_http_head(_head);
    switch (_head.kind) {
    case http1::body::none:
    case http1::body::tunnel: return http_message_done(&sink);
    case http1::body::length:
        _part = http_part::body;
        _body_left = _head.length;
        return;
    case http1::body::chunked:
        _part = http_part::chunk_line;
        _chunk_size = 0;
        _chunk_line_len = 0;
        _chunk_digits = _chunk_ext = false;
        return;
    case http1::body::until_close: _part = http_part::until_close; return;
    }
}

std::size_t record_framer::http_chunk_line(std::span<const std::uint8_t> d, bool& done, bool& bad) noexcept {
    for (std::size_t i = 0; i < d.size(); ++i) {
        const std::uint8_t c = d[i];
        if (c == '\n') {
            (_chunk_digits ? done : bad) = true;
            return i + 1;
        }
        if (++_chunk_line_len > max_chunk_line) {
            bad = true;
            return i + 1;
        }
        if (_chunk_ext || c == '\r') continue;
        if (const int v = hex_value(c); v >= 0) {
            _chunk_size = _chunk_size * 16 + static_cast<std::uint64_t>(v);
            _chunk_digits = true;
            if (_chunk_size > max_chunk) {
                bad = true;
                return i + 1;
            }
        } else if (_chunk_digits && (c == ';' || c == ' ' || c == '\t')) {
            _chunk_ext = true;  // chunk extensions (and white space before them) are passed over
        } else {
            bad = true;
            return i + 1;
        }
    }
    return d.size();
}

void record_framer::http_chunk_size_read() noexcept {
    if (_chunk_size == 0) {
        _part = http_part::trailer;
        _scanner = http1::head_scanner(true);
        _body_left = 0;
        return;
    }
    _part = http_part::chunk_data;
    _body_left = _chunk_size;
    ++_fragments;
}

void record_framer::http_counted_done(record_sink* sink) noexcept {
    if (_part == http_part::body) return http_message_done(sink);
    _part = http_part::chunk_crlf;  // a chunk's data, then CRLF, then the next size line
    _crlf_have = 0;
    _chunk_size = 0;
    _chunk_line_len = 0;
    _chunk_digits = _chunk_ext = false;
}

void record_framer::http_message_done(record_sink* sink) noexcept {
    const bool tunnel = _head.kind == http1::body::tunnel;
    if (_damaged) {
        count(framer_error::gap_dropped_record);
    } else if (!_buf) {
        count(framer_error::no_buffer);
    } else if (sink) {
        record r;
        const bool whole = _rec_total <= _cfg.cap;
        r.bytes = {_buf, whole ? _held : std::min(_held, _cfg.prefix)};
        r.total_len = static_cast<std::uint32_t>(std::min<std::uint64_t>(_rec_total, UINT32_MAX));
        r.fragments = std::max<std::uint32_t>(_fragments, 1);
        r.start = _rec_start;
        r.end = _pos;
        r.http = &_head;
        ++(whole ? _c.records_whole : _c.records_prefix);
        reset_record();
        if (tunnel) _part = http_part::tunnel;
        keep_last(r);
        sink->on_record(r);
        return;
    }
    reset_record();
    if (tunnel) _part = http_part::tunnel;
}

void record_framer::http_gap(std::uint32_t len) noexcept {
    switch (_part) {
    case http_part::body:
    case http_part::chunk_data:
        if (len <= _body_left) {
            // Inside the announced bytes: framing kept, the message is lost.
            _pos += len;
            _rec_total += len;
            _body_left -= len;
            _damaged = true;
            if (_body_left == 0) http_counted_done(nullptr);
            return;
        }
        break;
    case http_part::until_close:
        _pos += len;
        _damaged = true;
        return;
    case http_part::tunnel: _pos += len; return;
    default: break;
    }
    if (_in_record) count(framer_error::gap_dropped_record);
    lose_sync(framer_error::gap_lost_sync);
    _pos += len;
}

}  // namespace cg::dp::mirror
