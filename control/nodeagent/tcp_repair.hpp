// The spare's half of carrying a failed node's connection on (requirements
// 6.4; docs/architecture.md "Spares and restoration"): the server side of
// the same TCP connection re-created with Linux TCP_REPAIR from what the
// mirror saw (common/tcp_repair_params.hpp), its unanswered requests put
// back into the receive queue, so that the process that reads the socket
// answers them as the dead node would have.
//
// The steps, in the order the kernel allows them (CRIU's and passt's
// order; measured on these machines, ../docs/architecture.md):
//   repair mode on; the send queue's sequence number, then the receive
//   queue's (before connect, in CLOSE state); bind to the cluster address
//   and port (repair mode forces the reuse, so a listener on the port does
//   not stand in the way); connect to the client (no SYN: the socket is
//   ESTABLISHED); the handshake's options (after connect, before data);
//   the timestamp clock past the node's last TSval; the windows; the
//   replayed bytes into the receive queue, the node's unacknowledged reply
//   bytes (params.resend_len, the replay's last) into the send queue, as
//   sent (the kernel retransmits them if the client does not acknowledge
//   them; a client that had them acknowledges); repair mode off, which sends a
//   window probe (the client answers with an ACK, and the connection goes
//   on).
//
// The timestamp clock starts ts_margin_ms past the node's last TSval plus
// its age: a TSval behind the client's ts_recent makes the client drop
// every segment silently (PAWS), while one ahead is harmless. Bit 0 stays
// clear: since Linux 6.7 it asks for microsecond timestamps.
//
// Needs CAP_NET_ADMIN in the network namespace, and the cluster address on
// an interface of the host (lo). Thread-safety: reentrant. Called from:
// nodeagent, tests.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <variant>

#include "common/tcp_repair_params.hpp"

namespace cg::control {

inline constexpr std::uint32_t ts_margin_ms = 1000;

/// A socket file descriptor, closed with the object.
class owned_fd {
public:
    owned_fd() = default;
    explicit owned_fd(int fd) noexcept : _fd(fd) {}
    owned_fd(owned_fd&& o) noexcept : _fd(o.release()) {}
    owned_fd& operator=(owned_fd&& o) noexcept;
    owned_fd(const owned_fd&) = delete;
    owned_fd& operator=(const owned_fd&) = delete;
    ~owned_fd();

    int get() const noexcept { return _fd; }
    int release() noexcept {
        const int fd = _fd;
        _fd = -1;
        return fd;
    }

private:
    int _fd = -1;
};

/// The re-created socket, out of repair mode and ESTABLISHED, with
/// `replay` waiting in its receive queue; or what failed, naming the step
/// and errno ("bind 198.18.0.100:2049: Cannot assign requested address").
std::variant<owned_fd, std::string> repair_socket(const common::tcp_repair_params& p,
                                                  std::span<const std::uint8_t> replay);

}  // namespace cg::control
