#include "dataplane/mirror/http1.hpp"

#include <algorithm>
#include <cstring>

namespace cg::dp::mirror::http1 {

namespace {

using text = std::string_view;

/// Content-Length values past this are refused: no body on the wire is
/// that long, and sums of it cannot overflow.
constexpr std::uint64_t max_length = std::uint64_t{1} << 48;

constexpr std::array<text, method_count> method_tokens = {
    "", "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "TRACE", "PATCH", "CONNECT",
};

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(text a, text b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

/// RFC 9110 5.6.2 tchar, by byte value: every field name's byte is looked up.
constexpr std::array<bool, 256> tchars = [] {
    std::array<bool, 256> t{};
    for (int c = 0; c < 256; ++c)
        t[static_cast<std::size_t>(c)] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    for (const char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
    return t;
}();

bool is_token(text s) noexcept {
    for (const char c : s)
        if (!tchars[static_cast<unsigned char>(c)]) return false;
    return true;
}

text trim(text s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

/// The next line of `s` without its LF (and CR), and `s` moved past it.
text next_line(text& s) noexcept {
    const std::size_t lf = s.find('\n');
    text line = s.substr(0, lf);
    s.remove_prefix(lf == text::npos ? s.size() : lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line;
}

/// "HTTP/1.0" or "HTTP/1.1": the minor version.
std::optional<std::uint8_t> version_of(text v) noexcept {
    if (v.size() != 8 || v.substr(0, 7) != "HTTP/1." || (v[7] != '0' && v[7] != '1')) return std::nullopt;
    return static_cast<std::uint8_t>(v[7] - '0');
}

method method_of(text token) noexcept {
    for (std::size_t i = 1; i < method_count; ++i)
        if (token == method_tokens[i]) return static_cast<method>(i);
    return method::other;
}

std::optional<error> request_line(text line, head& h) noexcept {
    const std::size_t sp1 = line.find(' ');
    const std::size_t sp2 = sp1 == text::npos ? text::npos : line.find(' ', sp1 + 1);
    if (sp2 == text::npos || sp1 == 0 || sp2 == sp1 + 1) return error::bad_start_line;
    const text token = line.substr(0, sp1);
    if (!is_token(token)) return error::bad_start_line;
    const text target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    if (std::any_of(target.begin(), target.end(), [](char c) { return c <= ' ' || c == 0x7f; })) return error::bad_start_line;
    const auto minor = version_of(line.substr(sp2 + 1));
    if (!minor) return error::bad_version;
    h.verb = method_of(token);
    h.minor = *minor;
    return std::nullopt;
}

std::optional<error> status_line(text line, head& h) noexcept {
    const auto minor = version_of(line.substr(0, 8));
    if (!minor) return line.starts_with("HTTP/") ? error::bad_version : error::bad_start_line;
    // "HTTP/1.1 200 OK"; the reason phrase may be empty, and its space with it.
    if (line.size() < 12 || line[8] != ' ' || !is_digit(line[9]) || !is_digit(line[10]) || !is_digit(line[11]) ||
        (line.size() > 12 && line[12] != ' '))
        return error::bad_start_line;
    h.minor = *minor;
    h.status = static_cast<std::uint16_t>((line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0'));
    if (h.status < 100) return error::bad_start_line;
    return std::nullopt;
}

/// One Content-Length value, or a list of the same value (RFC 9110 8.6).
std::optional<error> content_length(text v, std::optional<std::uint64_t>& into) noexcept {
    while (true) {
        const std::size_t comma = v.find(',');
        const text one = trim(v.substr(0, comma));
        if (one.empty() || !std::all_of(one.begin(), one.end(), is_digit) || one.size() > 15) return error::bad_content_length;
        std::uint64_t n = 0;
        for (const char c : one) n = n * 10 + static_cast<std::uint64_t>(c - '0');
        if (n > max_length || (into && *into != n)) return error::bad_content_length;
        into = n;
        if (comma == text::npos) return std::nullopt;
        v.remove_prefix(comma + 1);
    }
}

/// Whether the comma-separated list `v` holds `token` (case aside).
bool list_has(text v, text token) noexcept {
    while (true) {
        const std::size_t comma = v.find(',');
        if (iequals(trim(v.substr(0, comma)), token)) return true;
        if (comma == text::npos) return false;
        v.remove_prefix(comma + 1);
    }
}

/// The last coding of a Transfer-Encoding list.
text last_coding(text v) noexcept {
    const std::size_t comma = v.rfind(',');
    return trim(comma == text::npos ? v : v.substr(comma + 1));
}

}  // namespace

std::optional<std::size_t> head_scanner::scan(std::span<const std::uint8_t> d) noexcept {
    const std::uint8_t* p = d.data();
    const std::uint8_t* const end = p + d.size();
    while (p < end) {
        const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
        const std::uint8_t* stop = lf ? static_cast<const std::uint8_t*>(lf) : end;
        for (const std::uint8_t* q = p; q < stop && !_filled; ++q) _filled = *q != '\r';  // mostly its first byte
        if (!lf) return std::nullopt;
        p = stop + 1;
        if (!_filled && _started) return static_cast<std::size_t>(p - d.data());
        _started |= _filled;
        _filled = false;
    }
    return std::nullopt;
}

std::optional<error> parse_head(std::span<const std::uint8_t> bytes, direction d, head& out) noexcept {
    out = head{};
    out.dir = d;
    out.head_len = static_cast<std::uint32_t>(bytes.size());
    text s(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    text line = next_line(s);
    while (line.empty() && !s.empty()) line = next_line(s);
    if (const auto e = d == direction::to_server ? request_line(line, out) : status_line(line, out)) return e;

    std::optional<std::uint64_t> length;
    bool chunked_last = false, has_te = false, keep_alive = false;
    for (line = next_line(s); !line.empty(); line = next_line(s)) {
        if (line.front() == ' ' || line.front() == '\t') return error::bad_field;  // obsolete folding
        const std::size_t colon = line.find(':');
        if (colon == text::npos || colon == 0) return error::bad_field;
        const text name = line.substr(0, colon);
        if (!is_token(name)) return error::bad_field;
        // Four names matter; the length tells most others apart at once.
        const auto value = [&] { return trim(line.substr(colon + 1)); };
        switch (name.size()) {
        case 14:
            if (iequals(name, "content-length"))
                if (const auto e = content_length(value(), length)) return e;
            break;
        case 17:
            if (iequals(name, "transfer-encoding")) {
                has_te = true;
                chunked_last = iequals(last_coding(value()), "chunked");
            }
            break;
        case 10:
            if (iequals(name, "connection")) {
                out.close |= list_has(value(), "close");
                keep_alive |= list_has(value(), "keep-alive");
            }
            break;
        case 7: out.upgrade |= iequals(name, "upgrade"); break;
        default: break;
        }
    }
    if (out.minor == 0 && !keep_alive) out.close = true;

    if (has_te) {
        // Transfer-Encoding wins over Content-Length (RFC 9112 6.3 point 3).
        if (chunked_last) {
            out.kind = body::chunked;
        } else if (d == direction::to_server) {
            return error::bad_transfer_encoding;
        } else {
            out.kind = body::until_close;
        }
    } else if (length) {
        out.kind = *length ? body::length : body::none;
        out.length = *length;
    } else {
        out.kind = d == direction::to_server ? body::none : body::until_close;
    }
    return std::nullopt;
}

body response_body(const head& r, method request) noexcept {
    if (r.status == 101) return body::tunnel;
    if (request == method::connect && r.status >= 200 && r.status < 300) return body::tunnel;
    if (request == method::head || r.status < 200 || r.status == 204 || r.status == 304) return body::none;
    return r.kind;
}

probe probe_start(const std::uint8_t* p, std::size_t n, direction d) noexcept {
    const text have(reinterpret_cast<const char*>(p), std::min(n, probe_window));
    const auto prefix = [&](text want) {
        if (have.size() >= want.size()) return have.substr(0, want.size()) == want ? probe::yes : probe::no;
        return have == want.substr(0, have.size()) ? probe::need_more : probe::no;
    };
    if (d == direction::to_client) {
        // "HTTP/1.1 200"
        if (const probe v = prefix("HTTP/1."); v != probe::yes) return v;
        if (have.size() < 12) return probe::need_more;
        return (have[7] == '0' || have[7] == '1') && have[8] == ' ' && is_digit(have[9]) && is_digit(have[10]) &&
                       is_digit(have[11])
                   ? probe::yes
                   : probe::no;
    }
    bool more = false;
    for (std::size_t i = 1; i < method_count; ++i) {
        std::array<char, 9> want{};
        const text t = method_tokens[i];
        std::memcpy(want.data(), t.data(), t.size());
        want[t.size()] = ' ';
        switch (prefix(text(want.data(), t.size() + 1))) {
        case probe::yes: return probe::yes;
        case probe::need_more: more = true; break;
        case probe::no: break;
        }
    }
    return more ? probe::need_more : probe::no;
}

}  // namespace cg::dp::mirror::http1
