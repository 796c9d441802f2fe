// SMB2/3 payloads to app_message: smb2.hpp says what is taken and checked.
// Offsets below are those of [MS-SMB2] 2.2, from the start of the header
// (h + n) or of the body (b + n); every read stays inside the bytes held.
#include "dataplane/mirror/smb2.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <limits>

namespace cg::dp::mirror::smb2 {
namespace {

constexpr std::uint32_t header_len = 64;
constexpr std::uint16_t error_body_size = 9;  ///< SMB2 ERROR Response, 2.2.2
constexpr std::uint16_t oplock_size = 24, lease_ack_size = 36, lease_break_size = 44;  ///< OPLOCK_BREAK variants
constexpr std::uint16_t dialect_311 = 0x0311;
constexpr std::uint32_t status_buffer_overflow = 0x8000'0005;
constexpr std::size_t file_id_len = 16;

constexpr std::array<std::string_view, outcome_count> names = {
    "ok",           "smb1_negotiate",     "opaque_encrypted", "opaque_compressed", "truncated",
    "bad_protocol_id", "unsupported_smb1", "bad_header_size", "unknown_command",   "bad_structure_size",
    "bad_buffer",   "wrong_direction",    "chain_misaligned", "chain_out_of_bounds", "chain_loop",
    "too_many_messages",
};

/// The body's StructureSize per command and direction (2.2.3 to 2.2.44);
/// 0: the command never goes that way. OPLOCK_BREAK has lease variants too.
struct body_size {
    std::uint16_t request, response;
};
constexpr std::array<body_size, command_count> body_sizes = {{
    {36, 65}, {25, 9},  {4, 4},  {9, 16}, {4, 4},  {57, 89}, {24, 60}, {24, 4}, {49, 17}, {49, 17},
    {48, 4},  {57, 49}, {4, 0},  {4, 4},  {33, 9}, {32, 9},  {41, 9},  {33, 2}, {24, 24}, {0, 4},
}};

std::uint16_t le16(const std::uint8_t* p) noexcept { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const std::uint8_t* p) noexcept { return le16(p) | std::uint32_t{le16(p + 2)} << 16; }
std::uint64_t le64(const std::uint8_t* p) noexcept { return le32(p) | std::uint64_t{le32(p + 4)} << 32; }

bool has_id(const std::uint8_t* p, std::uint8_t first) noexcept {
    return p[0] == first && p[1] == 'S' && p[2] == 'M' && p[3] == 'B';
}

/// The NBSS payload: `held` bytes at p of a payload `len` long.
struct payload {
    const std::uint8_t* p;
    std::uint32_t held;
    std::uint32_t len;
};

/// One message of the payload: its header at h (held), its extent [at, end)
/// in payload offsets, and how many bytes of its body are fixed (held).
struct message {
    const std::uint8_t* h;
    std::uint32_t at;
    std::uint32_t end;
    std::uint32_t fixed = 0;
    bool last = true;  ///< runs to the payload's end (no NextCommand)

    const std::uint8_t* body() const noexcept { return h + header_len; }

    /// Past its end: the last message was cut short; any other is malformed.
    outcome overrun() const noexcept { return last ? outcome::truncated : outcome::bad_buffer; }

    /// A buffer the body declares by offset (from the header) and length.
    outcome buffer(std::uint64_t off, std::uint64_t len) const noexcept {
        if (len == 0) return outcome::ok;
        if (off < header_len + fixed) return outcome::bad_buffer;
        if (at + off + len > end) return overrun();
        return outcome::ok;
    }
};

outcome first_error(outcome a, outcome b) noexcept { return a != outcome::ok ? a : b; }

/// NEGOTIATE contexts (2.2.3.1, 2.2.4.1): `count` of them from `off`, each 8
/// bytes of header and its data, the next one 8-aligned. Where the bytes are
/// not held (a prefix) there is nothing more to check.
outcome negotiate_contexts(const payload& pl, const message& m, std::uint32_t off, std::uint16_t count) noexcept {
    if (count == 0) return outcome::ok;
    if (off < header_len + m.fixed) return outcome::bad_buffer;
    std::uint64_t pos = std::uint64_t{m.at} + off;
    for (std::uint16_t i = 0; i < count; ++i) {
        if (i > 0) pos = m.at + ((pos - m.at + 7) & ~std::uint64_t{7});
        if (pos + 8 > m.end) return m.overrun();
        if (pos + 8 > pl.held) return outcome::ok;
        pos += 8 + le16(pl.p + pos + 2);
        if (pos > m.end) return m.overrun();
    }
    return outcome::ok;
}

/// NEGOTIATE request: the dialects, and the 3.1.1 contexts when 3.1.1 is
/// offered (otherwise those bytes are ClientStartTime).
outcome negotiate_request(const payload& pl, const message& m) noexcept {
    const std::uint8_t* b = m.body();
    const std::uint16_t n = le16(b + 2);
    if (n == 0) return outcome::bad_buffer;
    const std::uint32_t dialects = header_len + 36;
    if (outcome o = m.buffer(dialects, 2u * n); o != outcome::ok) return o;
    bool offers_311 = false;
    for (std::uint32_t i = 0, pos = m.at + dialects; i < n && pos + 2 <= pl.held; ++i, pos += 2)
        offers_311 |= le16(pl.p + pos) == dialect_311;
    return offers_311 ? negotiate_contexts(pl, m, le32(b + 28), le16(b + 32)) : outcome::ok;
}

/// LOCK request: LockCount elements of 24 bytes from body offset 24 (the
/// first is part of the fixed body).
outcome lock_request(const message& m) noexcept {
    const std::uint16_t n = le16(m.body() + 2);
    if (std::uint64_t{m.at} + header_len + 24 + 24ull * n > m.end) return m.overrun();
    return outcome::ok;
}

void take_file_id(app_message& out, const std::uint8_t* p) noexcept {
    out.fh.len = file_id_len;
    std::memcpy(out.fh.b.data(), p, file_id_len);
}

/// The offset of a request body's FileId, or 0 when it has none.
std::uint32_t request_file_id_at(command c, std::uint16_t size) noexcept {
    switch (c) {
    case command::close:
    case command::flush:
    case command::lock:
    case command::ioctl:
    case command::query_directory:
    case command::change_notify: return 8;
    case command::read:
    case command::write:
    case command::set_info: return 16;
    case command::query_info: return 24;
    case command::oplock_break: return size == oplock_size ? 8 : 0;
    default: return 0;
    }
}

outcome request_body(const payload& pl, const message& m, command c, std::uint16_t size, app_message& out) noexcept {
    const std::uint8_t* b = m.body();
    if (const std::uint32_t f = request_file_id_at(c, size)) take_file_id(out, b + f);
    switch (c) {
    case command::negotiate: return negotiate_request(pl, m);
    case command::session_setup: return m.buffer(le16(b + 12), le16(b + 14));
    case command::tree_connect: return m.buffer(le16(b + 4), le16(b + 6));
    case command::create:
        return first_error(m.buffer(le16(b + 44), le16(b + 46)), m.buffer(le32(b + 48), le32(b + 52)));
    case command::read:
        out.count = le32(b + 4);
        out.offset = le64(b + 8);
        return m.buffer(le16(b + 44), le16(b + 46));
    case command::write:
        out.count = le32(b + 4);
        out.offset = le64(b + 8);
        return first_error(m.buffer(le16(b + 2), out.count), m.buffer(le16(b + 40), le16(b + 42)));
    case command::lock: return lock_request(m);
    case command::ioctl:
        return first_error(m.buffer(le32(b + 24), le32(b + 28)), m.buffer(le32(b + 36), le32(b + 40)));
    case command::query_directory: return m.buffer(le16(b + 24), le16(b + 26));
    case command::query_info: return m.buffer(le16(b + 8), le32(b + 12));
    case command::set_info: return m.buffer(le16(b + 8), le32(b + 4));
    default: return outcome::ok;
    }
}

outcome response_body(const payload& pl, const message& m, command c, std::uint16_t size, app_message& out) noexcept {
    const std::uint8_t* b = m.body();
    switch (c) {
    case command::negotiate: {
        const outcome o = m.buffer(le16(b + 56), le16(b + 58));
        if (o != outcome::ok || le16(b + 4) != dialect_311) return o;
        return negotiate_contexts(pl, m, le32(b + 60), le16(b + 6));
    }
    case command::session_setup: return m.buffer(le16(b + 4), le16(b + 6));
    case command::create:
        take_file_id(out, b + 64);
        return m.buffer(le32(b + 80), le32(b + 84));
    case command::read:
        out.count = le32(b + 4);
        return m.buffer(b[2], out.count);
    case command::write: out.count = le32(b + 4); return outcome::ok;
    case command::ioctl:
        take_file_id(out, b + 8);
        return first_error(m.buffer(le32(b + 24), le32(b + 28)), m.buffer(le32(b + 32), le32(b + 36)));
    case command::query_directory:
    case command::change_notify:
    case command::query_info: return m.buffer(le16(b + 2), le32(b + 4));
    case command::oplock_break:
        if (size == oplock_size) take_file_id(out, b + 8);
        return outcome::ok;
    default: return outcome::ok;
    }
}

/// A response of StructureSize 9 and a non-zero status is an ERROR Response
/// (2.2.2), unless 9 is also the command's own size and the status one that
/// comes with the normal body (more processing of a SESSION_SETUP, a
/// QUERY_INFO buffer overflow).
bool is_error_body(std::uint16_t cmd, std::uint32_t status, std::uint16_t size) noexcept {
    if (size != error_body_size || status == 0) return false;
    if (body_sizes[cmd].response != error_body_size) return true;
    return status != status_more_processing_required && status != status_buffer_overflow;
}

bool size_allowed(std::uint16_t cmd, bool request, std::uint16_t size) noexcept {
    const std::uint16_t own = request ? body_sizes[cmd].request : body_sizes[cmd].response;
    if (own != 0 && size == own) return true;
    switch (static_cast<command>(cmd)) {
    case command::oplock_break: return size == lease_ack_size || (!request && size == lease_break_size);
    case command::server_to_client_notification: return !request && size == 8;  // 2.2.44's fixed part
    default: return false;
    }
}

/// The message at `at`: header checks, the chain step (`next`, 0 for the
/// last), the body's size, then its fields into `out`.
outcome parse_message(const payload& pl, std::uint32_t at, direction dir, app_message& out,
                      std::uint32_t& next) noexcept {
    if (std::uint64_t{at} + header_len > pl.held) return outcome::truncated;
    message m{pl.p + at, at, pl.len};
    const std::uint8_t* h = m.h;
    if (!has_id(h, 0xfe)) return outcome::bad_protocol_id;
    if (le16(h + 4) != header_len) return outcome::bad_header_size;
    const bool request = dir == direction::to_server;
    const std::uint32_t flags = le32(h + 16);
    if (((flags & flag_server_to_redir) != 0) == request) return outcome::wrong_direction;
    const std::uint16_t cmd = le16(h + 12);
    if (cmd >= command_count) return outcome::unknown_command;

    next = le32(h + 20);
    if (next != 0) {
        if (next % 8 != 0) return outcome::chain_misaligned;
        if (std::uint64_t{at} + next >= pl.len) return outcome::chain_out_of_bounds;
        m.end = at + next;
        m.last = false;
    }
    const std::uint32_t room = m.end - at;  // header included
    if (room < header_len + 2) return m.last ? outcome::truncated : outcome::chain_loop;
    if (std::uint64_t{at} + header_len + 2 > pl.held) return outcome::truncated;

    const std::uint32_t status = request ? 0 : le32(h + 8);
    const std::uint16_t size = le16(m.body());
    const bool error_body = !request && is_error_body(cmd, status, size);
    if (!error_body && !size_allowed(cmd, request, size)) return outcome::bad_structure_size;
    m.fixed = size & ~1u;
    // Samba's server wants the byte an odd size announces, but for these three.
    const bool needs_dyn = request && (size & 1) && cmd != static_cast<std::uint16_t>(command::ioctl) &&
                           cmd != static_cast<std::uint16_t>(command::query_info) &&
                           cmd != static_cast<std::uint16_t>(command::write);
    if (room < header_len + m.fixed + needs_dyn) {
        if (!m.last) return outcome::chain_loop;
        return m.fixed > room - header_len ? outcome::truncated : outcome::bad_structure_size;
    }
    if (std::uint64_t{at} + header_len + m.fixed > pl.held) return outcome::truncated;

    out.proto = app_proto::smb2;
    out.kind = request ? msg_kind::call : msg_kind::reply;
    out.id = le64(h + 24);
    out.procedure = cmd;
    out.status = status;
    out.flags = flags;
    out.credits = le16(h + 14);
    out.session_id = le64(h + 40);
    if (flags & flag_async_command)
        out.async_id = le64(h + 32);
    else
        out.tree_id = le32(h + 36);
    out.at = at;
    out.len = room;

    if (error_body) return m.buffer(header_len + 8, le32(m.body() + 4));
    const auto c = static_cast<command>(cmd);
    return request ? request_body(pl, m, c, size, out) : response_body(pl, m, c, size, out);
}

bool all_ones(const handle& fh) noexcept {
    return std::all_of(fh.b.begin(), fh.b.begin() + fh.len, [](std::uint8_t x) { return x == 0xff; });
}

/// A related operation's FileId of all 0xFF is the previous message's.
void resolve_related(app_message& m, const app_message& prev) noexcept {
    if ((m.flags & flag_related_operations) && m.fh.len == file_id_len && all_ones(m.fh) && !prev.fh.empty())
        m.fh = prev.fh;
}

/// SMB1 (a client's first NEGOTIATE, [MS-CIFS] 2.2.4.52.1): a 32-byte
/// header, WordCount 0, ByteCount, then dialect strings (0x02, text, NUL).
result parse_smb1(const payload& pl, direction dir, std::span<app_message> out) noexcept {
    constexpr std::uint32_t header = 32, words = 3;  // WordCount and ByteCount
    constexpr std::uint8_t negotiate = 0x72, reply_flag = 0x80, dialect_format = 0x02;
    if (dir == direction::to_client) return {outcome::unsupported_smb1, 0};
    if (pl.held < header + words) return {outcome::truncated, 0};
    if (pl.p[4] != negotiate) return {outcome::unsupported_smb1, 0};
    if (pl.p[9] & reply_flag) return {outcome::wrong_direction, 0};
    if (pl.p[header] != 0) return {outcome::bad_structure_size, 0};
    const std::uint32_t bytes = le16(pl.p + header + 1);
    const std::uint32_t end = header + words + bytes;
    if (bytes == 0) return {outcome::bad_buffer, 0};
    if (end > pl.len) return {outcome::truncated, 0};
    // Up to the end of what is held: a prefix's last string may go on.
    const std::uint32_t held_end = std::min(end, pl.held);
    for (std::uint32_t pos = header + words; pos < held_end;) {
        if (pl.p[pos] != dialect_format) return {outcome::bad_buffer, 0};
        const auto* nul = static_cast<const std::uint8_t*>(std::memchr(pl.p + pos, 0, held_end - pos));
        if (!nul && held_end == end) return {outcome::bad_buffer, 0};
        pos = nul ? static_cast<std::uint32_t>(nul - pl.p) + 1 : held_end;
    }
    if (out.empty()) return {outcome::too_many_messages, 0};
    app_message& m = out[0];
    m = app_message{};
    m.proto = app_proto::smb2;
    m.kind = msg_kind::call;
    m.procedure = static_cast<std::uint32_t>(command::negotiate);
    m.len = pl.len;
    return {outcome::smb1_negotiate, 1};
}

}  // namespace

std::string_view outcome_name(outcome o) noexcept {
    const auto i = static_cast<std::size_t>(o);
    return i < names.size() ? names[i] : "?";
}

result parse(std::span<const std::uint8_t> held, std::uint32_t record_len, direction dir,
             std::span<app_message> out) noexcept {
    const auto n_held =
        static_cast<std::uint32_t>(std::min<std::size_t>(held.size(), std::numeric_limits<std::uint32_t>::max()));
    const payload pl{held.data(), n_held, std::max(record_len, n_held)};
    if (pl.held < 4) return {outcome::truncated, 0};
    if (has_id(pl.p, 0xfd)) return {outcome::opaque_encrypted, 0};
    if (has_id(pl.p, 0xfc)) return {outcome::opaque_compressed, 0};
    if (has_id(pl.p, 0xff)) return parse_smb1(pl, dir, out);
    if (!has_id(pl.p, 0xfe)) return {outcome::bad_protocol_id, 0};

    std::uint32_t at = 0, n = 0;
    for (;;) {
        if (n == out.size()) return {outcome::too_many_messages, n};
        app_message& m = out[n];
        m = app_message{};
        std::uint32_t next = 0;
        if (const outcome o = parse_message(pl, at, dir, m, next); o != outcome::ok) return {o, n};
        if (n > 0) resolve_related(m, out[n - 1]);
        ++n;
        if (next == 0) return {outcome::ok, n};
        at += next;  // < pl.len: parse_message checked it
    }
}

}  // namespace cg::dp::mirror::smb2
