// Whether a followed connection can be carried on by a spare, and how
// (requirements 6.4, the complete case; docs/architecture.md "Spares and
// restoration"): from what the mirror parser knows of one connection, the
// TCP_REPAIR values of the failed node's socket and the bytes to replay
// into the re-created socket's receive queue, so that the spare's service
// answers every request the dead node had not answered.
//
//  - The connection must be complete (mirror_conn::reason) and established
//    (not closing).
//  - Its protocol must frame requests (ONC RPC record marking, HTTP/1.x
//    messages): the replay
//    starts at a request's first byte. A TCP-only connection cannot say
//    whether its last request was answered; SMB2's sessions live only in
//    the dead server.
//  - A reply cut by the failure (the server's framer did not settle where
//    its stream ends) can be finished only when it is one ONC RPC record
//    (one last fragment: its length known) answering the one call in
//    flight, and the client's acknowledgement stands inside it: the spare's
//    socket starts sending at that acknowledgement, its service answers the
//    replayed call again, and the bridge drops the reply's bytes the
//    client already has (tcp_repair_params::resume_skip) once the service's
//    record marker proved the reply the same length; the bytes the node
//    sent past that acknowledgement (resume_sent) go into the spare's send
//    queue as sent, since the client may have had them. This holds where the
//    service answers the same call with the same bytes past that point: an
//    NFS READ of the same file (the attributes before the data may differ,
//    their layout does not). An HTTP response's head may differ in length
//    (a Date, a Server) and is never resumed; neither is a reply with other
//    calls in flight (which one the spare answers first is not known).
//  - The server bytes the mirror saw no acknowledgement of lie in the last
//    reply, which the framer still holds whole: they go back into the
//    spare's send queue as sent (tcp_repair_params::resend_len), so the
//    client gets them if it had not, and acknowledges them if it had (the
//    mirror often misses only the ACK: after a node's link goes down, the
//    SPAN port stops copying what is sent to it). Older ones are gone.
//  - The client's bytes past the last whole request (a request cut by the
//    failure) may not have been acknowledged by the node: the client sends
//    them again to the spare, which has not had them. Acknowledged, they
//    would be lost.
//
// The replay is the unanswered requests, oldest first: an RPC call as one
// last fragment (record marking added back), an HTTP request as it went;
// then the reply bytes to send again, if any. The requests' length sets
// where the receive queue starts (tcp_repair_params::rcv_seq minus it).
//
// Pure; reads the connection and its lcore's chunk pool. Called from: the
// parser lcore (at a node's failure), tests.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/tcp_repair_params.hpp"
#include "dataplane/mirror/chunk_pool.hpp"
#include "dataplane/mirror/mirror_conn.hpp"

namespace cg::dp::mirror {

enum class restore_verdict : std::uint8_t {
    restorable,
    incomplete,           ///< mirror_conn::reason() is not complete (that is the reason)
    not_established,      ///< closing, closed or reset
    no_request_framing,   ///< TCP only: where a request starts is not known
    session_state,        ///< SMB2: the session lives only in the dead server
    reply_unacknowledged, ///< server bytes the client has not acknowledged, not all in the last reply held
    request_cut_acked,    ///< a request cut by the failure, partly acknowledged by the node
    replay_too_large,     ///< the unanswered requests do not fit the caller's buffer
    reply_cut,            ///< the node had sent part of a reply that cannot be finished (not RPC, more calls in flight)
    count_
};
inline constexpr std::size_t restore_verdict_count = static_cast<std::size_t>(restore_verdict::count_);
inline constexpr std::array<std::string_view, restore_verdict_count> restore_verdict_names = {
    "restorable",   "incomplete",          "not_established",   "no_request_framing",
    "session_state", "reply_unacknowledged", "request_cut_acked", "replay_too_large",
    "reply_cut",
};

struct restore_plan {
    restore_verdict verdict = restore_verdict::incomplete;
    conn_reason reason = conn_reason::nothing_seen;  ///< when incomplete
    common::tcp_repair_params params;
    std::uint32_t replay_len = 0;  ///< bytes written at the start of the caller's buffer
    std::uint8_t replayed = 0;     ///< unanswered requests in them
};

/// The plan for `c`; `replay` receives the bytes to replay. `ts_age_ms`: how
/// long ago the connection's last segment from the server was seen.
restore_plan plan_restore(const mirror_conn& c, const chunk_pool& pool, std::uint32_t ts_age_ms,
                          std::span<std::uint8_t> replay) noexcept;

}  // namespace cg::dp::mirror
