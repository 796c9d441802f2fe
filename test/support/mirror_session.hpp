// Hand-built traffic for the mirror parser's tests and fuzz seeds: one TCP
// connection's segments both ways (handshake, each side's bytes cut where a
// test says, the FIN or RST), as tcp_segment for a mirror_conn or as
// Ethernet/IPv4/TCP frames for a parser_table; and the application records
// they carry (ONC RPC calls and replies of NFSv3 with record marking, SMB2
// messages in NetBIOS session framing).
//
// Segments are described by stream offsets, not sequence numbers, so that a
// test can cut, duplicate, reorder or drop them and still say what the
// follower should make of it.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <vector>

#include "common/net_types.hpp"
#include "dataplane/mirror/app_message.hpp"
#include "dataplane/mirror/tcp_follower.hpp"

namespace cg::test::mirror {

using bytes = std::vector<std::uint8_t>;
using dp::mirror::direction;

inline constexpr std::uint8_t FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10;

/// The two ends and their initial sequence numbers.
struct conn_spec {
    common::ipv4_addr client = 0xc612000a;  // 198.18.0.10
    common::ipv4_addr server = 0xc612000b;  // 198.18.0.11
    std::uint16_t client_port = 40000;
    std::uint16_t server_port = 2049;
    std::uint32_t client_isn = 1000;
    std::uint32_t server_isn = 0xfffff000;  // wraps within the first 4 KiB
};

/// One segment. `off` is the offset of its first byte in the sender's
/// stream (sequence number ISN + 1 + off; a SYN's own is off -1, the
/// ISN); `ack` acknowledges the peer's stream up to offset `ack`.
struct seg {
    direction dir = direction::to_server;
    std::int64_t off = 0;
    std::uint8_t flags = ACK;
    std::uint32_t ack = 0;
    bytes payload;
    bytes options;  ///< TCP option bytes (a multiple of 4)
};

/// What each side says, in turn.
struct turn {
    direction dir;
    bytes data;
};

enum class ending : std::uint8_t { fin, rst, none };

/// SYN options as Linux sends them: MSS 1460, SACK-permitted, timestamps
/// (TSval `tsval`), window scale 7.
bytes syn_options(std::uint32_t tsval);

/// A conversation's segments: the handshake (SYN and SYN-ACK with MSS,
/// SACK-permitted, timestamps and window scale; the client's ACK), each
/// turn cut into pieces (`cut` bytes each, the last shorter; 0: whole), each
/// acknowledging all the peer said before, then both FINs (each
/// acknowledged) or the client's RST.
std::vector<seg> conversation(const std::vector<turn>& turns, std::size_t cut = 1448, ending end = ending::fin);

/// The segment as a mirror_conn takes it (spans into `s`).
dp::mirror::tcp_segment to_segment(const conn_spec& c, const seg& s);
/// The segment as a frame on the mirror port: Ethernet, IPv4, TCP, with
/// correct lengths and checksums.
bytes to_frame(const conn_spec& c, const seg& s);

// ---- ONC RPC (NFSv3) --------------------------------------------------------

/// A record with one last fragment's marker.
bytes rpc_marked(const bytes& record);
/// A call (AUTH_SYS) of `prog`/`vers`/`proc` with `args` after its header.
bytes rpc_call(std::uint32_t xid, std::uint32_t prog, std::uint32_t vers, std::uint32_t proc, const bytes& args = {});
/// An accepted SUCCESS reply with `results`.
bytes rpc_reply(std::uint32_t xid, const bytes& results = {});

/// NFSv3 arguments and results of the procedures the tests use.
bytes nfs3_fh_args(const bytes& fh);                                         ///< GETATTR, ACCESS without mode...: the handle
bytes nfs3_read_args(const bytes& fh, std::uint64_t offset, std::uint32_t count);
bytes nfs3_write_args(const bytes& fh, std::uint64_t offset, const bytes& data, std::uint32_t stable = 2);
bytes nfs3_getattr_res();                                                    ///< NFS3_OK and a fattr3
bytes nfs3_read_res(const bytes& data);                                      ///< NFS3_OK, no attributes, data, eof
bytes nfs3_write_res(std::uint32_t count, std::uint32_t committed = 2);     ///< NFS3_OK, no wcc, count, verifier

// ---- SMB2 over NBSS -------------------------------------------------------------

inline constexpr std::uint32_t smb2_response = 0x1, smb2_async = 0x2, smb2_related = 0x4;

/// A 64-byte SMB2 header and `body` (SessionId 0x11, TreeId 7; with
/// smb2_async in flags, AsyncId `async_id` instead of the TreeId).
bytes smb2_message(std::uint16_t command, std::uint32_t flags, std::uint64_t message_id, const bytes& body,
                   std::uint32_t status = 0, std::uint64_t async_id = 0);
/// Messages chained with NextCommand (each but the last padded to 8 bytes).
bytes smb2_chain(std::vector<bytes> messages);
/// An NBSS session message around `payload`.
bytes nbss(const bytes& payload);

/// Bodies ([MS-SMB2] 2.2): an ECHO's (request and response alike), a
/// CREATE request's (name "f"), a CREATE response's with `file_id`, a
/// READ request's, a READ response's with `data`, a CLOSE request's, a
/// CLOSE response's, an error response's (for interim responses).
bytes smb2_echo_body();
bytes smb2_create_req_body();
bytes smb2_create_rsp_body(const bytes& file_id);
bytes smb2_read_req_body(const bytes& file_id, std::uint64_t offset, std::uint32_t length);
bytes smb2_read_rsp_body(const bytes& data);
bytes smb2_close_req_body(const bytes& file_id);
bytes smb2_close_rsp_body();
bytes smb2_error_body();

bytes concat(std::initializer_list<bytes> parts);

}  // namespace cg::test::mirror
