#include "control/nodeagent/tcp_repair.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <tuple>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace cg::control {

owned_fd& owned_fd::operator=(owned_fd&& o) noexcept {
    if (this != &o) {
        if (_fd >= 0) ::close(_fd);
        _fd = o.release();
    }
    return *this;
}

owned_fd::~owned_fd() {
    if (_fd >= 0) ::close(_fd);
}

namespace {

sockaddr_in address(common::ipv4_addr a, std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(a);
    s.sin_port = htons(port);
    return s;
}

std::string failed(std::string_view step) { return fmt::format("{}: {}", step, std::strerror(errno)); }

template <typename T>
bool set(int fd, int opt, const T& v) {
    return ::setsockopt(fd, IPPROTO_TCP, opt, &v, sizeof v) == 0;
}

bool set_queue(int fd, int queue, std::uint32_t seq) {
    return set(fd, TCP_REPAIR_QUEUE, queue) && set(fd, TCP_QUEUE_SEQ, seq);
}

}  // namespace

std::variant<owned_fd, std::string> repair_socket(const common::tcp_repair_params& p,
                                                  std::span<const std::uint8_t> replay) {
    owned_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (s.get() < 0) return failed("socket");
    const int fd = s.get();
    if (!set(fd, TCP_REPAIR, int{TCP_REPAIR_ON}))
        return errno == EPERM ? std::string("repair mode: needs CAP_NET_ADMIN") : failed("repair mode");

    if (p.resend_len > replay.size())
        return fmt::format("the reply to send again ({} bytes) is longer than the replay ({})", p.resend_len, replay.size());
    const std::span<const std::uint8_t> resend = replay.last(p.resend_len);
    replay = replay.first(replay.size() - p.resend_len);
    const std::uint32_t rcv_base = p.rcv_seq - static_cast<std::uint32_t>(replay.size());
    if (!set_queue(fd, TCP_SEND_QUEUE, p.snd_seq)) return failed("send queue sequence");
    if (!set_queue(fd, TCP_RECV_QUEUE, rcv_base)) return failed("receive queue sequence");

    const sockaddr_in local = address(p.server_addr, p.server_port), peer = address(p.client_addr, p.client_port);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&local), sizeof local) != 0)
        return failed(fmt::format("bind {}:{}", common::format_ipv4(p.server_addr), p.server_port));
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&peer), sizeof peer) != 0)
        return failed(fmt::format("connect {}:{}", common::format_ipv4(p.client_addr), p.client_port));

    std::array<tcp_repair_opt, 4> opts{};
    std::size_t n = 0;
    opts[n++] = {TCPOPT_MAXSEG, p.mss};
    if (p.wscale) opts[n++] = {TCPOPT_WINDOW, p.client_wscale | (std::uint32_t{p.server_wscale} << 16)};
    if (p.sack) opts[n++] = {TCPOPT_SACK_PERMITTED, 0};
    if (p.timestamps) opts[n++] = {TCPOPT_TIMESTAMP, 0};
    if (::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_OPTIONS, opts.data(), static_cast<socklen_t>(n * sizeof opts[0])) != 0)
        return failed("handshake options");

    if (p.timestamps) {
        const std::uint32_t ts = (p.tsval + p.ts_age_ms + ts_margin_ms) & ~1u;
        if (!set(fd, TCP_TIMESTAMP, ts)) return failed("timestamp clock");
    }
    if (p.client_window != 0 && p.server_window != 0) {
        tcp_repair_window w{};
        w.snd_wl1 = rcv_base - 1;
        w.snd_wnd = p.client_window;
        w.max_window = p.client_window;
        w.rcv_wnd = p.server_window;
        w.rcv_wup = rcv_base;
        if (!set(fd, TCP_REPAIR_WINDOW, w)) return failed("windows");
    }
    // In repair mode a queue's bytes are queued, never sent: the receive
    // queue's as received, the send queue's as sent and not yet acknowledged.
    for (const auto& [queue, bytes, what] : {std::tuple{int{TCP_RECV_QUEUE}, replay, "replay"},
                                              std::tuple{int{TCP_SEND_QUEUE}, resend, "reply to send again"}}) {
        if (bytes.empty()) continue;
        if (!set(fd, TCP_REPAIR_QUEUE, queue)) return failed(fmt::format("{} queue", what));
        for (std::size_t done = 0; done < bytes.size();) {
            const ssize_t k = ::send(fd, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
            if (k <= 0) return failed(fmt::format("{} ({} of {} bytes in)", what, done, bytes.size()));
            done += static_cast<std::size_t>(k);
        }
    }
    if (!set(fd, TCP_REPAIR_QUEUE, int{TCP_NO_QUEUE})) return failed("leaving the queues");
    if (!set(fd, TCP_REPAIR, int{TCP_REPAIR_OFF})) return failed("repair mode off");
    return s;
}

}  // namespace cg::control
