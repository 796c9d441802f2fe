// HTTP/1.x message heads for the mirror parser (RFC 9112; docs/architecture.md
// "The mirror parser"): what the record framer needs to find where a request
// or a response ends, and what the connection keeps of it. Pure: no I/O, no
// allocation, no state.
//
// A head is the start line and the header fields up to the empty line. What
// it says of the body (RFC 9112 section 6.3):
//   - a response to HEAD, a 1xx, 204 or 304 has none; a 2xx to CONNECT and a
//     101 switch the connection to another protocol (`tunnel`);
//   - Transfer-Encoding with chunked last: chunked; a response with another
//     coding last runs to the close; a request with one is refused (400);
//   - else Content-Length (a list of one value repeated is that value; two
//     values are refused, as request smuggling would use them);
//   - else a request has none and a response runs to the close.
// Heads are read strictly, as a server that refuses smuggling reads them: no
// white space before a field's colon, no obsolete line folding, a version
// HTTP/1.0 or 1.1; a bare LF ends a line as CRLF does.
//
// Thread-safety: reentrant. Called from: the parser lcores (the record
// framer), tests, fuzzers.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "dataplane/mirror/app_message.hpp"

namespace cg::dp::mirror::http1 {

enum class method : std::uint8_t { other, get, head, post, put, delete_, options, trace, patch, connect, count_ };
inline constexpr std::size_t method_count = static_cast<std::size_t>(method::count_);
inline constexpr std::array<std::string_view, method_count> method_names = {
    "other", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT",
};

/// How the message's body is delimited.
enum class body : std::uint8_t {
    none,         ///< no body: the message ends with its head
    length,       ///< Content-Length bytes
    chunked,      ///< chunked transfer coding, then trailer fields
    until_close,  ///< a response that ends when the server closes
    tunnel,       ///< the connection leaves HTTP (101, 2xx to CONNECT): no more messages
};

enum class error : std::uint8_t {
    bad_start_line,         ///< not a request line or status line
    bad_version,            ///< not HTTP/1.0 or HTTP/1.1
    bad_field,              ///< a field line without a colon, white space before it, a fold
    bad_content_length,     ///< not digits, two values, too large
    bad_transfer_encoding,  ///< a request whose last coding is not chunked
    head_too_long,          ///< no empty line within the framer's buffer
    bad_chunk,              ///< a chunk size line or a chunk's CRLF that is not one
    count_
};
inline constexpr std::size_t error_count = static_cast<std::size_t>(error::count_);
inline constexpr std::array<std::string_view, error_count> error_names = {
    "bad_start_line", "bad_version", "bad_field", "bad_content_length", "bad_transfer_encoding",
    "head_too_long", "bad_chunk",
};

/// What a head says.
struct head {
    direction dir = direction::to_server;
    method verb = method::other;  ///< requests
    std::uint16_t status = 0;     ///< responses
    std::uint8_t minor = 1;       ///< HTTP/1.minor
    bool close = false;           ///< Connection: close (or HTTP/1.0 without keep-alive)
    bool upgrade = false;         ///< an Upgrade field (a request asking to switch)
    /// The body as the head alone says; a response's also depends on its
    /// request (response_body).
    body kind = body::none;
    std::uint64_t length = 0;  ///< body::length
    std::uint32_t head_len = 0;  ///< bytes of the head, its empty line included

    bool interim() const noexcept { return dir == direction::to_client && status >= 100 && status < 200 && status != 101; }
};

/// Finds the end of a head in bytes that come piece by piece: the empty line
/// after the first line that is not empty (leading empty lines, RFC 9112
/// section 2.2, belong to the head).
class head_scanner {
public:
    /// `started`: the first empty line ends it (a chunked body's trailer).
    explicit head_scanner(bool started = false) noexcept : _started(started) {}
    /// How many bytes of `d` belong to the head, its end included, when its
    /// end is in `d`; nullopt when all of `d` does and the end is still to come.
    std::optional<std::size_t> scan(std::span<const std::uint8_t> d) noexcept;

private:
    bool _filled = false;     ///< the current line holds a byte other than CR
    bool _started = false;    ///< a line that is not empty was seen
};

/// Reads the head in `bytes` (exactly head_end's length). `out.kind` is what
/// the head alone says; for a response, call response_body with its request.
std::optional<error> parse_head(std::span<const std::uint8_t> bytes, direction d, head& out) noexcept;

/// A response's body given what its request was (RFC 9112 section 6.3).
body response_body(const head& response, method request) noexcept;

/// Whether `p[0..n)` may start a head in direction `d`: a known method and
/// a space (requests), "HTTP/1.x NNN" (responses). need_more when `n` is
/// too short to tell. For the framer's resynchronisation after a gap.
enum class probe : std::uint8_t { no, yes, need_more };
probe probe_start(const std::uint8_t* p, std::size_t n, direction d) noexcept;
/// The most bytes probe_start looks at.
inline constexpr std::size_t probe_window = 13;

}  // namespace cg::dp::mirror::http1
