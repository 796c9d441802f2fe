// The SMB2/3 parser of the mirror parser (requirements 6.2, docs/architecture.md
// "The mirror parser"): one NetBIOS session message's payload in (the record
// framer has stripped its 4-byte header), the SMB2 messages it holds out, as
// app_message ([MS-SMB2] 2.2). Pure: no I/O, no allocation, no state; the
// caller owns the output span.
//
// A payload is one of:
//   - 0xFE 'SMB': an SMB2 message, or a compound chain of them (NextCommand);
//   - 0xFD 'SMB' (TRANSFORM_HEADER, encrypted) or 0xFC 'SMB'
//     (COMPRESSION_TRANSFORM_HEADER): nothing is readable, and the connection
//     must be marked opaque;
//   - 0xFF 'SMB': SMB1, of which only the NEGOTIATE a client may send first
//     (to be answered by an SMB2 NEGOTIATE response) is taken.
//
// What each message yields (app_message):
//   proto smb2; kind call (to_server) or reply (to_client); id = MessageId;
//   procedure = Command; status = the NT status (responses; 0 in requests);
//   flags = the header's Flags; credits = CreditRequest / CreditResponse;
//   session_id; tree_id (sync header) or async_id (async header, flags has
//   flag_async_command); at / len = where it lies in the payload (a message
//   of a chain runs to the next one, padding included; the last to the end).
//   fh = the 16-byte FileId of bodies that carry one: CREATE responses;
//   CLOSE, FLUSH, READ, WRITE, LOCK, IOCTL, QUERY_DIRECTORY, CHANGE_NOTIFY,
//   QUERY_INFO, SET_INFO requests; IOCTL responses; oplock (not lease)
//   breaks and their acknowledgments. offset / count: READ and WRITE
//   requests (file offset, Length); READ responses (DataLength) and WRITE
//   responses (Count) set count only.
//
// Related compounds: a FileId of all 0xFF in a message with
// flag_related_operations means "the previous operation's", and is replaced
// by the previous message's FileId. After a CREATE request there is none to
// take (the CREATE response brings it), so it stays all 0xFF: the consumer
// takes it from the response to the CREATE of the same chain.
//
// Replies that are not answers: an interim response (is_interim) says the
// request goes on asynchronously, under async_id; its final response follows
// with the same MessageId. Oplock and lease break notifications come from the
// server with MessageId unsolicited_message_id. A CANCEL request carries the
// MessageId (or, async, the AsyncId) of the request it cancels and gets no
// response of its own.
//
// Validation, so that a connection's record is trusted only when its bytes
// were: ProtocolId, the header's StructureSize (64), the Command, the body's
// StructureSize for the command and direction (or 9, an error response),
// the fixed part of the body present, and in requests the one byte of the
// variable part that an odd StructureSize announces (as Samba's server
// requires: not for IOCTL, QUERY_INFO, WRITE), every buffer a body declares
// (offset, length) within its message and after the fixed part, NEGOTIATE
// dialects and contexts, LOCK elements, SERVER_TO_REDIR agreeing with the
// direction, and the chain: NextCommand a multiple of 8, inside the payload,
// and past the message's own header and fixed body. Responses are taken
// without the byte an odd StructureSize announces, as the Linux client
// takes them (some servers omit it).
//
// Thread-safety: reentrant (no state). Called from: the parser lcores, fuzzers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "dataplane/mirror/app_message.hpp"

namespace cg::dp::mirror::smb2 {

/// SMB2 header Command codes ([MS-SMB2] 2.2.1.2).
enum class command : std::uint16_t {
    negotiate = 0x00,
    session_setup = 0x01,
    logoff = 0x02,
    tree_connect = 0x03,
    tree_disconnect = 0x04,
    create = 0x05,
    close = 0x06,
    flush = 0x07,
    read = 0x08,
    write = 0x09,
    lock = 0x0a,
    ioctl = 0x0b,
    cancel = 0x0c,
    echo = 0x0d,
    query_directory = 0x0e,
    change_notify = 0x0f,
    query_info = 0x10,
    set_info = 0x11,
    oplock_break = 0x12,
    server_to_client_notification = 0x13,
};
inline constexpr std::uint16_t command_count = 0x14;

/// SMB2 header Flags.
inline constexpr std::uint32_t flag_server_to_redir = 0x0000'0001;     ///< a response (or a server's notification)
inline constexpr std::uint32_t flag_async_command = 0x0000'0002;       ///< async header: AsyncId, no TreeId
inline constexpr std::uint32_t flag_related_operations = 0x0000'0004;  ///< related to the previous in its chain
inline constexpr std::uint32_t flag_signed = 0x0000'0008;

/// NT status codes the parser tells apart.
inline constexpr std::uint32_t status_pending = 0x0000'0103;
inline constexpr std::uint32_t status_more_processing_required = 0xc000'0016;

/// The MessageId of the server's oplock and lease break notifications.
inline constexpr std::uint64_t unsolicited_message_id = ~std::uint64_t{0};

/// What became of one payload. Every payload gets exactly one, for counters
/// and logs (outcome_name). With anything but ok and smb1_negotiate, the
/// messages before the faulty one are still written and counted.
enum class outcome : std::uint8_t {
    ok,                   ///< every message of the payload written
    smb1_negotiate,       ///< an SMB1 NEGOTIATE request: one message, the SMB2 NEGOTIATE it stands for (MessageId 0)
    opaque_encrypted,     ///< TRANSFORM_HEADER: no message; mark the connection opaque
    opaque_compressed,    ///< COMPRESSION_TRANSFORM_HEADER (not decompressed): likewise
    truncated,            ///< the bytes end inside a header, a fixed body or a buffer the last message declares
    bad_protocol_id,      ///< none of the ids above (inside a chain: not 0xFE 'SMB')
    unsupported_smb1,     ///< SMB1 other than a client's NEGOTIATE (the connection does not speak SMB2)
    bad_header_size,      ///< the header's StructureSize is not 64
    unknown_command,      ///< Command above SERVER_TO_CLIENT_NOTIFICATION
    bad_structure_size,   ///< the body's StructureSize is not the command's (nor an error response's),
                          ///< or a request lacks the byte of variable part it announces
    bad_buffer,           ///< a buffer the body declares overlaps its fixed part or leaves its message;
                          ///< malformed dialects, contexts, SMB1 dialect strings
    wrong_direction,      ///< SERVER_TO_REDIR set to the server, or clear to the client
    chain_misaligned,     ///< NextCommand is not a multiple of 8
    chain_out_of_bounds,  ///< NextCommand points at or past the payload's end
    chain_loop,           ///< NextCommand does not reach past the message's own header and least body
    too_many_messages,    ///< the span is full: the messages that fit are written, the rest are not read
    count_
};
inline constexpr std::size_t outcome_count = static_cast<std::size_t>(outcome::count_);

/// The outcome's name for counters and logs ("ok", "truncated", ...); "?" past count_.
std::string_view outcome_name(outcome o) noexcept;

/// Encrypted or compressed: nothing in it, nor in the connection's later
/// payloads, can be read.
constexpr bool is_opaque(outcome o) noexcept {
    return o == outcome::opaque_encrypted || o == outcome::opaque_compressed;
}

/// An interim response: the request goes on asynchronously and its answer
/// is still to come (with the same MessageId, under async_id).
constexpr bool is_interim(const app_message& m) noexcept {
    return m.proto == app_proto::smb2 && m.kind == msg_kind::reply && (m.flags & flag_async_command) &&
           m.status == status_pending;
}

struct result {
    outcome what = outcome::ok;
    std::uint32_t count = 0;  ///< messages written to the front of the span
};

/// Parses one NBSS payload that went `dir`. `held` is the payload, or only its
/// first bytes when it was too long to hold; `record_len` is the payload's
/// whole length (held.size() when held is whole; a smaller value is taken as
/// held.size()). Messages and buffers may run past what is held when they
/// stay inside record_len: a WRITE request or READ response larger than what
/// the framer keeps still yields its header fields, FileId, offset and count.
/// Writes at most out.size() messages to out; entries past the returned count
/// are unspecified. Every written message has at + len <= record_len and its
/// header inside `held` (64 bytes at `at`; the SMB1 NEGOTIATE's 32 at 0).
result parse(std::span<const std::uint8_t> held, std::uint32_t record_len, direction dir,
             std::span<app_message> out) noexcept;

}  // namespace cg::dp::mirror::smb2
