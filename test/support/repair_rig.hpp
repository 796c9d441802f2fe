// Live TCP connections on loopback for the restoration tests: a client and
// its server socket; the server taken apart in repair mode as a node cut
// off from its clients would leave it (closed without a FIN or an RST), its
// values read from the kernel in place of what the mirror would have seen;
// and reading with a deadline.
#pragma once

#include <cstdint>
#include <string>

#include "common/tcp_repair_params.hpp"
#include "control/nodeagent/tcp_repair.hpp"

namespace cg::test {

inline constexpr common::ipv4_addr loopback = 0x7f000001;

struct live_conn {
    control::owned_fd client, server;
    std::uint16_t port = 0;  ///< the server's
};

/// A connection on loopback; no listener is left (it would answer the
/// client's segments while no socket holds the flow).
live_conn open_live_conn();

/// A listening socket on 127.0.0.1 (port chosen by the kernel).
control::owned_fd listen_loopback();
std::uint16_t local_port(int fd);

/// Waits (up to 2 s) until the server's kernel holds `unread` bytes its
/// application has not read and every byte either way is acknowledged;
/// then takes the server apart. Returns its values: rcv_seq includes the
/// unread bytes, which the caller replays.
common::tcp_repair_params take_apart(live_conn& c, int unread);

void send_text(int fd, const std::string& s);
/// What arrives on `fd` within 2 s, up to `n` bytes (less on a timeout, an
/// end or an error).
std::string receive_text(int fd, std::size_t n);
/// The socket's TCP state (TCP_ESTABLISHED...) and pending error.
int tcp_state_of(int fd);
int socket_error(int fd);

}  // namespace cg::test
