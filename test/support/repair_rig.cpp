#include "support/repair_rig.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <chrono>
#include <stdexcept>
#include <thread>

namespace cg::test {

using namespace std::chrono_literals;

namespace {

sockaddr_in at(std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(loopback);
    s.sin_port = htons(port);
    return s;
}

void must(bool ok, const char* what) {
    if (!ok) throw std::runtime_error(what);
}

tcp_info info(int fd) {
    tcp_info t{};
    socklen_t n = sizeof t;
    ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &t, &n);
    return t;
}

template <typename T>
T get(int fd, int opt) {
    T v{};
    socklen_t n = sizeof v;
    must(::getsockopt(fd, IPPROTO_TCP, opt, &v, &n) == 0, "getsockopt");
    return v;
}

std::uint32_t queue_seq(int fd, int queue) {
    must(::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) == 0, "TCP_REPAIR_QUEUE");
    return get<std::uint32_t>(fd, TCP_QUEUE_SEQ);
}

}  // namespace

std::uint16_t local_port(int fd) {
    sockaddr_in s{};
    socklen_t n = sizeof s;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&s), &n);
    return ntohs(s.sin_port);
}

control::owned_fd listen_loopback() {
    control::owned_fd l(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in any = at(0);
    must(::bind(l.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0, "bind");
    must(::listen(l.get(), 16) == 0, "listen");
    return l;
}

live_conn open_live_conn() {
    live_conn c;
    control::owned_fd l = listen_loopback();
    c.port = local_port(l.get());
    c.client = control::owned_fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    const sockaddr_in srv = at(c.port);
    must(::connect(c.client.get(), reinterpret_cast<const sockaddr*>(&srv), sizeof srv) == 0, "connect");
    c.server = control::owned_fd(::accept4(l.get(), nullptr, nullptr, SOCK_CLOEXEC));
    must(c.server.get() >= 0, "accept");
    return c;
}

common::tcp_repair_params take_apart(live_conn& c, int unread) {
    const int s = c.server.get();
    bool settled = false;
    for (int i = 0; i < 200 && !settled; ++i) {
        int queued = 0;
        ::ioctl(s, FIONREAD, &queued);
        settled = queued == unread && info(c.client.get()).tcpi_unacked == 0 && info(s).tcpi_unacked == 0;
        if (!settled) std::this_thread::sleep_for(10ms);
    }
    must(settled, "the connection did not settle");
    int on = TCP_REPAIR_ON;
    must(::setsockopt(s, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0, "TCP_REPAIR");
    common::tcp_repair_params p;
    p.client_addr = p.server_addr = loopback;
    p.client_port = local_port(c.client.get());
    p.server_port = c.port;
    p.snd_seq = queue_seq(s, TCP_SEND_QUEUE);
    p.rcv_seq = queue_seq(s, TCP_RECV_QUEUE);
    const tcp_info ti = info(s);
    p.mss = static_cast<std::uint16_t>(get<int>(s, TCP_MAXSEG));
    p.wscale = ti.tcpi_options & TCPI_OPT_WSCALE;
    p.client_wscale = ti.tcpi_snd_wscale;
    p.server_wscale = ti.tcpi_rcv_wscale;
    p.sack = ti.tcpi_options & TCPI_OPT_SACK;
    p.timestamps = ti.tcpi_options & TCPI_OPT_TIMESTAMPS;
    p.tsval = get<std::uint32_t>(s, TCP_TIMESTAMP);
    const auto w = get<tcp_repair_window>(s, TCP_REPAIR_WINDOW);
    p.client_window = w.snd_wnd;
    p.server_window = w.rcv_wnd;
    c.server = control::owned_fd();  // closed in repair mode: nothing goes out
    return p;
}

void send_text(int fd, const std::string& s) {
    must(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size()), "send");
}

std::string receive_text(int fd, std::size_t n) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (out.size() < n && std::chrono::steady_clock::now() < until) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        char buf[256];
        const ssize_t k = ::recv(fd, buf, std::min(sizeof buf, n - out.size()), 0);
        if (k <= 0) break;
        out.append(buf, static_cast<std::size_t>(k));
    }
    return out;
}

int tcp_state_of(int fd) { return info(fd).tcpi_state; }

int socket_error(int fd) {
    int err = -1;
    socklen_t n = sizeof err;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &n);
    return err;
}

}  // namespace cg::test
