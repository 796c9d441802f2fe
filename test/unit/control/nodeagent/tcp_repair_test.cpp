// repair_socket against the Linux kernel, on loopback: a live connection's
// server socket is taken apart in repair mode (closed without a FIN or an
// RST, as a node cut off from its clients would leave it), its values read
// from the kernel, and the socket re-created from them with a request the
// old server had received but not answered put back. The client, which
// never noticed, gets the answer on its own socket and goes on.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/sockios.h>

#include <chrono>
#include <string>
#include <thread>
#include <variant>

#include "control/nodeagent/tcp_repair.hpp"

using namespace cg::control;
using namespace std::chrono_literals;

namespace {

constexpr cg::common::ipv4_addr loopback = 0x7f000001;

sockaddr_in at(std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(loopback);
    s.sin_port = htons(port);
    return s;
}

std::uint16_t port_of(int fd) {
    sockaddr_in s{};
    socklen_t n = sizeof s;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&s), &n);
    return ntohs(s.sin_port);
}

void send_all(int fd, const std::string& s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }

/// What arrives on `fd` within 2 s, up to `n` bytes ("" on a timeout or an error).
std::string receive(int fd, std::size_t n) {
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

tcp_info info(int fd) {
    tcp_info t{};
    socklen_t n = sizeof t;
    ::getsockopt(fd, IPPROTO_TCP, TCP_INFO, &t, &n);
    return t;
}

/// Waits until `done()` or 2 s.
template <typename F>
bool wait_for(F done) {
    for (int i = 0; i < 200 && !done(); ++i) std::this_thread::sleep_for(10ms);
    return done();
}

template <typename T>
T get(int fd, int opt) {
    T v{};
    socklen_t n = sizeof v;
    REQUIRE(::getsockopt(fd, IPPROTO_TCP, opt, &v, &n) == 0);
    return v;
}

std::uint32_t queue_seq(int fd, int queue) {
    REQUIRE(::setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) == 0);
    return get<std::uint32_t>(fd, TCP_QUEUE_SEQ);
}

}  // namespace

TEST_CASE("repair_socket: a connection re-created from its values carries on, the unanswered request replayed",
          "[nodeagent][tcp_repair]") {
    owned_fd listener(::socket(AF_INET, SOCK_STREAM, 0));
    const sockaddr_in any = at(0);
    REQUIRE(::bind(listener.get(), reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0);
    REQUIRE(::listen(listener.get(), 4) == 0);
    const std::uint16_t port = port_of(listener.get());
    owned_fd client(::socket(AF_INET, SOCK_STREAM, 0));
    const sockaddr_in srv = at(port);
    REQUIRE(::connect(client.get(), reinterpret_cast<const sockaddr*>(&srv), sizeof srv) == 0);
    owned_fd old(::accept(listener.get(), nullptr, nullptr));
    REQUIRE(old.get() >= 0);
    listener = owned_fd();  // a listener would answer the client's segments while no socket has the flow

    send_all(client.get(), "REQ 1\n");
    CHECK(receive(old.get(), 6) == "REQ 1\n");
    send_all(old.get(), "ANS 1\n");
    CHECK(receive(client.get(), 6) == "ANS 1\n");
    // The second request reaches the server's kernel, which acknowledges
    // it; the server dies before its application reads it.
    const std::string request = "REQ 2\n";
    send_all(client.get(), request);
    REQUIRE(wait_for([&] {
        int queued = 0;
        ::ioctl(old.get(), FIONREAD, &queued);
        return queued == 6 && info(client.get()).tcpi_unacked == 0 && info(old.get()).tcpi_unacked == 0;
    }));

    // What the mirror would have seen, read from the kernel instead.
    int on = TCP_REPAIR_ON;
    REQUIRE(::setsockopt(old.get(), IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) == 0);
    cg::common::tcp_repair_params p;
    p.client_addr = p.server_addr = loopback;
    p.client_port = port_of(client.get());
    p.server_port = port;
    p.snd_seq = queue_seq(old.get(), TCP_SEND_QUEUE);
    p.rcv_seq = queue_seq(old.get(), TCP_RECV_QUEUE);  // the request's bytes included
    const tcp_info ti = info(old.get());
    p.mss = static_cast<std::uint16_t>(get<int>(old.get(), TCP_MAXSEG));
    p.wscale = ti.tcpi_options & TCPI_OPT_WSCALE;
    p.client_wscale = ti.tcpi_snd_wscale;
    p.server_wscale = ti.tcpi_rcv_wscale;
    p.sack = ti.tcpi_options & TCPI_OPT_SACK;
    p.timestamps = ti.tcpi_options & TCPI_OPT_TIMESTAMPS;
    p.tsval = get<std::uint32_t>(old.get(), TCP_TIMESTAMP);
    const auto w = get<tcp_repair_window>(old.get(), TCP_REPAIR_WINDOW);
    p.client_window = w.snd_wnd;
    p.server_window = w.rcv_wnd;
    CHECK(p.timestamps);  // Linux's defaults: what the restore must get right
    CHECK(p.wscale);
    old = owned_fd();  // closed in repair mode: nothing goes out

    auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()});
    if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
    const int fd = std::get<owned_fd>(made).get();
    CHECK(info(fd).tcpi_state == TCP_ESTABLISHED);
    CHECK(receive(fd, 6) == request);  // replayed
    send_all(fd, "ANS 2\n");
    CHECK(receive(client.get(), 6) == "ANS 2\n");
    send_all(client.get(), "REQ 3\n");
    CHECK(receive(fd, 6) == "REQ 3\n");
    send_all(fd, "ANS 3\n");
    CHECK(receive(client.get(), 6) == "ANS 3\n");
    int err = -1;
    socklen_t n = sizeof err;
    ::getsockopt(client.get(), SOL_SOCKET, SO_ERROR, &err, &n);
    CHECK(err == 0);
    CHECK(info(client.get()).tcpi_state == TCP_ESTABLISHED);
}

TEST_CASE("repair_socket: an address not on this host is refused by name", "[nodeagent][tcp_repair]") {
    cg::common::tcp_repair_params p;
    p.server_addr = 0xc0000201;  // 192.0.2.1, TEST-NET-1
    p.server_port = 2049;
    p.client_addr = loopback;
    p.client_port = 40000;
    auto made = repair_socket(p, {});
    REQUIRE(std::holds_alternative<std::string>(made));
    CHECK(std::get<std::string>(made) == "bind 192.0.2.1:2049: Cannot assign requested address");
}
