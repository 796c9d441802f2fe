// XDR (RFC 4506) over one record's bytes: a reader that checks every read
// against the end of its span, and a writer for tests and fuzz seeds.
//
// The reader's failures are sticky: after the first read that does not fit
// (or a value XDR forbids), every later read fails too and `error()` says
// why, so a parser can chain reads and look once. Nothing is ever read past
// the span, whatever the lengths in the bytes say.
//
// Thread-safety: a reader or writer is used by one thread; the bytes it reads
// must not change meanwhile. Called from: the mirror parser lcore, tests, fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "dataplane/pkt/wire.hpp"

namespace cg::dp::mirror {

/// Why an XDR read failed.
enum class xdr_error : std::uint8_t {
    none,
    truncated,  ///< the field runs past the end of the bytes
    too_long,   ///< a counted opaque, string or array is longer than its XDR bound
    bad_bool,   ///< a bool other than 0 or 1
};

/// Pads an opaque's length to XDR's 4-byte unit.
constexpr std::size_t xdr_padded(std::size_t n) noexcept { return (n + 3) & ~std::size_t{3}; }

class xdr_reader {
public:
    explicit xdr_reader(std::span<const std::uint8_t> bytes) noexcept : _b(bytes) {}

    bool ok() const noexcept { return _err == xdr_error::none; }
    xdr_error error() const noexcept { return _err; }
    std::size_t offset() const noexcept { return _pos; }
    std::size_t remaining() const noexcept { return _b.size() - _pos; }

    /// Each read returns false (leaving `v` alone) once the reader has failed.
    bool u32(std::uint32_t& v) noexcept {
        if (!take(4)) return false;
        v = wire::load32(_b.data() + _pos - 4);
        return true;
    }
    bool u64(std::uint64_t& v) noexcept {
        std::uint32_t hi = 0, lo = 0;
        if (!u32(hi) || !u32(lo)) return false;
        v = (std::uint64_t{hi} << 32) | lo;
        return true;
    }
    bool boolean(bool& v) noexcept {
        std::uint32_t w = 0;
        if (!u32(w)) return false;
        if (w > 1) return fail(xdr_error::bad_bool);
        v = w == 1;
        return true;
    }
    /// A fixed-length opaque of `n` bytes (padded), without looking at it.
    bool skip(std::size_t n) noexcept { return take(xdr_padded(n)); }
    /// `n` 32-bit words.
    bool skip_words(std::size_t n) noexcept {
        if (n > remaining() / 4) return fail(xdr_error::truncated);
        return take(4 * n);
    }
    /// A counted opaque or string of at most `max` bytes; `out` views it (unpadded).
    bool opaque(std::span<const std::uint8_t>& out, std::uint32_t max = UINT32_MAX) noexcept {
        std::uint32_t n = 0;
        if (!u32(n)) return false;
        if (n > max) return fail(xdr_error::too_long);
        if (xdr_padded(n) > remaining()) return fail(xdr_error::truncated);
        out = _b.subspan(_pos, n);
        _pos += xdr_padded(n);
        return true;
    }
    bool skip_opaque(std::uint32_t max = UINT32_MAX) noexcept {
        std::span<const std::uint8_t> ignored;
        return opaque(ignored, max);
    }
    /// A counted array's element count, checked against the bytes left when
    /// every element takes at least `min_elem_bytes` bytes, and against `max`.
    bool count(std::uint32_t& n, std::size_t min_elem_bytes, std::uint32_t max = UINT32_MAX) noexcept {
        if (!u32(n)) return false;
        if (n > max) return fail(xdr_error::too_long);
        if (min_elem_bytes && n > remaining() / min_elem_bytes) return fail(xdr_error::truncated);
        return true;
    }

private:
    bool take(std::size_t n) noexcept {
        if (!ok()) return false;
        if (n > remaining()) return fail(xdr_error::truncated);
        _pos += n;
        return true;
    }
    bool fail(xdr_error e) noexcept {
        if (ok()) _err = e;
        return false;
    }

    std::span<const std::uint8_t> _b;
    std::size_t _pos = 0;
    xdr_error _err = xdr_error::none;
};

/// Appends XDR to a vector: for building records in tests and fuzz seeds
/// (never on the packet path: it allocates).
class xdr_writer {
public:
    xdr_writer& u32(std::uint32_t v) {
        const std::size_t at = _b.size();
        _b.resize(at + 4);
        wire::store32(_b.data() + at, v);
        return *this;
    }
    xdr_writer& u64(std::uint64_t v) { return u32(static_cast<std::uint32_t>(v >> 32)).u32(static_cast<std::uint32_t>(v)); }
    xdr_writer& boolean(bool v) { return u32(v ? 1 : 0); }
    /// Fixed-length opaque: the bytes, padded.
    xdr_writer& fixed(std::span<const std::uint8_t> v) {
        _b.insert(_b.end(), v.begin(), v.end());
        _b.resize(_b.size() + (xdr_padded(v.size()) - v.size()), 0);
        return *this;
    }
    xdr_writer& opaque(std::span<const std::uint8_t> v) { return u32(static_cast<std::uint32_t>(v.size())).fixed(v); }
    xdr_writer& string(std::string_view s) {
        return opaque({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
    }
    xdr_writer& bytes(std::span<const std::uint8_t> v) {
        _b.insert(_b.end(), v.begin(), v.end());
        return *this;
    }

    const std::vector<std::uint8_t>& data() const noexcept { return _b; }
    std::vector<std::uint8_t> take() { return std::move(_b); }
    std::size_t size() const noexcept { return _b.size(); }

private:
    std::vector<std::uint8_t> _b;
};

}  // namespace cg::dp::mirror
