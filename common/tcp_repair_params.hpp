// What re-creating the server side of a live TCP connection on another host
// takes (Linux TCP_REPAIR; docs/architecture.md "Spares and restoration"):
// the values the mirror parser saw on the wire, as the spare's node agent
// gives them to the kernel. Made by dataplane/mirror/restore_plan.cpp from a
// followed connection, used by control/nodeagent/tcp_repair.cpp.
//
// Plain data; addresses and ports in host byte order; sequence numbers as
// on the wire (mod 2^32). "Server" is the failed node, whose socket the
// spare re-creates; "client" the peer that keeps its socket.
#pragma once

#include <cstdint>

#include "net_types.hpp"
#include "wire_fields.hpp"

namespace cg::common {

struct tcp_repair_params {
    ipv4_addr client_addr = 0, server_addr = 0;
    std::uint16_t client_port = 0, server_port = 0;

    /// The first byte of the server's send queue: its bytes not yet
    /// acknowledged by the client, the last `resend_len` of the replay (the
    /// queue is empty when that is 0; then everything the server sent
    /// before snd_seq was acknowledged).
    std::uint32_t snd_seq = 0;
    /// The server's next byte expected from the client, once the replayed
    /// bytes (the unanswered requests) are in its receive queue: the queue
    /// starts at rcv_seq - replay length.
    std::uint32_t rcv_seq = 0;

    /// From the handshake: the client's MSS, both window-scale shifts (0
    /// without window scaling), the options both SYNs carried.
    std::uint16_t mss = 536;
    bool wscale = false, sack = false, timestamps = false;
    std::uint8_t client_wscale = 0, server_wscale = 0;

    /// The server's latest TSval and how long before the plan was made the
    /// mirror saw it: the spare's clock starts past it, or the client's
    /// PAWS check drops every segment (RFC 7323 5).
    std::uint32_t tsval = 0;
    std::uint32_t ts_age_ms = 0;

    /// The windows last advertised, in bytes: the client's (the server's
    /// send window) and the server's own.
    std::uint32_t client_window = 0, server_window = 0;

    /// Of the replay's bytes, how many at its end are the server's own: a
    /// reply sent and not acknowledged, put back in the send queue as sent
    /// (the kernel sends them again if the client does not acknowledge them).
    std::uint32_t resend_len = 0;

    /// A reply the failed node had begun and not finished (a 1 MiB NFS
    /// READ's, cut by the failure): the client has its first `resume_skip`
    /// bytes (snd_seq is where its acknowledgement stood, as the mirror
    /// saw), and the node had sent its first `resume_sent`. The spare's
    /// service answers the replayed call again, and of its reply the first
    /// `resume_skip` bytes are dropped and the next ones, up to
    /// `resume_sent`, go into the send queue as sent: the client may have
    /// had them (the mirror misses the client's ACKs once the node's link
    /// is down), so its acknowledgement is valid anywhere in them, and if
    /// it had not, the spare sends them again. `resume_marker` is the
    /// reply's RPC record marker as the node sent it: the service's reply
    /// must start with the same (the same length), or the connection is
    /// reset. All 0 when no reply was cut.
    std::uint32_t resume_skip = 0;
    std::uint32_t resume_marker = 0;
    std::uint32_t resume_sent = 0;

    CG_FIELDS(s.client_addr, s.server_addr, s.client_port, s.server_port, s.snd_seq, s.rcv_seq, s.mss, s.wscale,
              s.sack, s.timestamps, s.client_wscale, s.server_wscale, s.tsval, s.ts_age_ms, s.client_window,
              s.server_window, s.resend_len, s.resume_skip, s.resume_marker, s.resume_sent)
    friend bool operator==(const tcp_repair_params&, const tcp_repair_params&) = default;
};

}  // namespace cg::common
