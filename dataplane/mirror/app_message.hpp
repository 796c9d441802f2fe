// What the mirror parser learns from one application message (requirements 6.2,
// docs/architecture.md "The mirror parser"): a call or a reply of ONC RPC
// (NFSv3, MOUNT3, NFSv4 COMPOUND) or of SMB2/3, reduced to the fields that
// restoring or resetting a connection needs. The layers below produce it:
//
//   tcp_follower (both directions, in-order bytes and gaps)
//     -> record framer (ONC RPC record marking, NetBIOS session framing)
//       -> protocol parser (nfs.cpp, smb2.cpp): one record in, messages out
//         -> the connection's FIFO of requests and replies
//
// Plain data, fixed size, no allocation: the parsers fill it on the parser
// lcore's hot path.
#pragma once

#include <array>
#include <cstdint>
#include <span>

namespace cg::dp::mirror {

/// Which way a byte stream or a message went.
enum class direction : std::uint8_t {
    to_server,  ///< client -> node: calls, requests
    to_client,  ///< node -> client: replies, responses
};

/// The application protocol a message was parsed as.
enum class app_proto : std::uint8_t {
    rpc,     ///< ONC RPC of another program (portmapper, NLM, ...): XID only
    nfs3,    ///< NFS version 3 (RFC 1813), program 100003
    mount3,  ///< MOUNT version 3 (RFC 1813 appendix I), program 100005
    nfs4,    ///< NFS version 4.x COMPOUND (RFC 7530, 8881), program 100003
    smb2,    ///< SMB 2.x / 3.x ([MS-SMB2])
    http1,   ///< HTTP/1.0 and 1.1 (RFC 9112)
};

enum class msg_kind : std::uint8_t { call, reply };

/// An opaque handle: an NFS file handle (v3: at most 64 bytes, v4: 128) or an
/// SMB2 FileId (16 bytes: persistent, volatile).
struct handle {
    static constexpr std::size_t max_len = 128;
    std::uint8_t len = 0;
    std::array<std::uint8_t, max_len> b{};

    std::span<const std::uint8_t> bytes() const noexcept { return {b.data(), len}; }
    bool empty() const noexcept { return len == 0; }
};

struct app_message {
    app_proto proto = app_proto::rpc;
    msg_kind kind = msg_kind::call;
    /// Matches a reply to its call: the RPC XID, the SMB2 MessageId, or for
    /// HTTP the request's place on its connection (0, 1, ...: responses
    /// come in the order of their requests).
    std::uint64_t id = 0;
    /// NFS/MOUNT procedure number, the SMB2 command code, the HTTP method
    /// (http1::method; a response: its request's).
    std::uint32_t procedure = 0;
    /// Replies: the RPC accept_stat (or 0xffffffff when denied) for RPC,
    /// nfsstat3 / nfsstat4 of the result where parsed; the NT status for
    /// SMB2; the HTTP status code.
    std::uint32_t status = 0;

    /// The file handle the message names (NFSv3: the first argument's; NFSv4:
    /// the current file handle after PUTFH / in a GETFH reply) or the SMB2 FileId.
    handle fh;
    /// READ / WRITE / COMMIT (NFS) and READ / WRITE (SMB2); count also the
    /// bytes of an HTTP message's body as they went (chunked: with its framing).
    std::uint64_t offset = 0;
    std::uint32_t count = 0;
    std::uint8_t stable = 0;  ///< NFSv3 stable_how, NFSv4 stable_how4

    /// NFSv4 COMPOUND: the operations in order (the first max_ops of them), and how many in all.
    static constexpr std::size_t max_ops = 16;
    std::array<std::uint16_t, max_ops> ops{};
    std::uint16_t n_ops = 0;

    /// SMB2 header fields.
    std::uint64_t session_id = 0;
    std::uint32_t tree_id = 0;
    std::uint32_t flags = 0;
    std::uint16_t credits = 0;  ///< CreditRequest (requests) or CreditResponse (responses)
    /// The AsyncId of an SMB2 async header (flags has ASYNC_COMMAND; tree_id is
    /// then 0): an interim STATUS_PENDING response, the final response after
    /// it, and a CANCEL of it, which names the request by AsyncId, not MessageId.
    std::uint64_t async_id = 0;

    /// Where the message lies in its record: byte offset and length (one
    /// record holds several SMB2 messages when they are compounded).
    std::uint32_t at = 0;
    std::uint32_t len = 0;
};

}  // namespace cg::dp::mirror
