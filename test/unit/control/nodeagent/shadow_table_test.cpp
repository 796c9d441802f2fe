// The shadow table read from this kernel: real loopback sockets, the real
// netlink conversation. Every test case takes its own 127.x addresses (from
// the process id, so that parallel runs do not meet), and closes its TCP
// sockets with a reset, so that no TIME_WAIT socket of one case shows up in
// another.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include <fmt/format.h>

#include "control/nodeagent/shadow_table.hpp"

using namespace cg::control;
using cg::common::ipv4_addr;
using shadow::socket_entry;

namespace {

constexpr std::uint8_t tcp = IPPROTO_TCP, udp = IPPROTO_UDP;
constexpr std::uint8_t established = 1, close_wait = 8, listen_state = 10, bound = 7;
constexpr ipv4_addr localhost = 0x7f000001;

/// 127.a.b.(16 * block + n): a /28 per test case, a /16-ish per process.
ipv4_addr test_addr(unsigned block, unsigned n) {
    const auto pid = static_cast<unsigned>(::getpid());
    return 0x7f000000u | ((100 + pid % 100) << 16) | ((pid / 100 % 250) << 8) | (16 * block + n);
}

class fd {
public:
    explicit fd(int f) : _fd(f) { REQUIRE(f >= 0); }
    fd(fd&& o) noexcept : _fd(std::exchange(o._fd, -1)) {}
    fd& operator=(fd&& o) noexcept {
        std::swap(_fd, o._fd);
        return *this;
    }
    ~fd() {
        if (_fd >= 0) ::close(_fd);
    }
    int get() const { return _fd; }

private:
    int _fd;
};

sockaddr_in sin_of(ipv4_addr a, std::uint16_t port) {
    sockaddr_in s{};
    s.sin_family = AF_INET;
    s.sin_addr.s_addr = htonl(a);
    s.sin_port = htons(port);
    return s;
}

/// Closing sends a reset instead of a FIN: no TIME_WAIT left behind.
void abortive(int f) {
    const linger l{1, 0};
    ::setsockopt(f, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}

fd bound_socket(int type, ipv4_addr a, std::uint16_t port = 0) {
    fd s(::socket(AF_INET, type, 0));
    if (type == SOCK_STREAM) abortive(s.get());
    const auto sa = sin_of(a, port);
    REQUIRE(::bind(s.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
    return s;
}

fd listener(ipv4_addr a, int backlog = 128) {
    fd s = bound_socket(SOCK_STREAM, a);
    REQUIRE(::listen(s.get(), backlog) == 0);
    return s;
}

std::uint16_t port_of(int f) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(::getsockname(f, reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    return ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                          : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
}

/// A client bound to `from`, connected (blocking: loopback answers at once).
fd client(ipv4_addr from, ipv4_addr to, std::uint16_t port) {
    fd c = bound_socket(SOCK_STREAM, from);
    const auto sa = sin_of(to, port);
    REQUIRE(::connect(c.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
    return c;
}

fd accept_one(const fd& l) {
    fd s(::accept(l.get(), nullptr, nullptr));
    abortive(s.get());
    return s;
}

std::vector<socket_entry> sorted(std::vector<socket_entry> v) {
    std::sort(v.begin(), v.end());
    return v;
}

std::vector<socket_entry> read_sorted(const sockdiag::filter& f, sockdiag::read_stats* st = nullptr) {
    return sorted(sockdiag::read_shadow_table(f, st));
}

bool ipv6_works() {
    const int s = ::socket(AF_INET6, SOCK_STREAM, 0);
    if (s < 0) return false;
    ::close(s);
    return true;
}

}  // namespace

namespace Catch {
template <>
struct StringMaker<socket_entry> {
    static std::string convert(const socket_entry& e) {
        return fmt::format("{} {} {}:{} {}:{}", e.proto == tcp ? "tcp" : "udp", shadow::state_name(e.state),
                           cg::common::format_ipv4(e.local), e.local_port, cg::common::format_ipv4(e.remote),
                           e.remote_port);
    }
};
}  // namespace Catch

TEST_CASE("the shadow table has exactly the sockets on the asked addresses, with states and ports",
          "[sockdiag][live]") {
    const ipv4_addr vip = test_addr(0, 1), vip2 = test_addr(0, 2), clients = test_addr(0, 9);
    fd on_vip = listener(vip);
    fd on_localhost = listener(localhost);  // not asked for
    const std::uint16_t p = port_of(on_vip.get()), p0 = port_of(on_localhost.get());

    std::vector<fd> held;
    std::vector<std::uint16_t> client_ports;
    for (int i = 0; i < 3; ++i) {
        held.push_back(client(clients, vip, p));
        client_ports.push_back(port_of(held.back().get()));
        held.push_back(accept_one(on_vip));
    }
    for (int i = 0; i < 2; ++i) {
        held.push_back(client(clients, localhost, p0));
        held.push_back(accept_one(on_localhost));
    }
    // The third client closes its side; once the server reads the end of
    // stream, the server's socket is CLOSE_WAIT.
    REQUIRE(::shutdown(held[4].get(), SHUT_WR) == 0);
    char byte;
    REQUIRE(::recv(held[5].get(), &byte, 1, 0) == 0);

    fd udp_bound = bound_socket(SOCK_DGRAM, vip);
    fd udp_connected = bound_socket(SOCK_DGRAM, vip);
    const auto peer = sin_of(clients, 5353);
    REQUIRE(::connect(udp_connected.get(), reinterpret_cast<const sockaddr*>(&peer), sizeof peer) == 0);
    fd udp_localhost = bound_socket(SOCK_DGRAM, localhost);

    const std::vector<socket_entry> want = sorted({
        {tcp, listen_state, vip, p, 0, 0},
        {tcp, established, vip, p, clients, client_ports[0]},
        {tcp, established, vip, p, clients, client_ports[1]},
        {tcp, close_wait, vip, p, clients, client_ports[2]},
        {udp, bound, vip, port_of(udp_bound.get()), 0, 0},
        {udp, established, vip, port_of(udp_connected.get()), clients, 5353},
    });
    sockdiag::read_stats st;
    CHECK(read_sorted({{vip}, false}, &st) == want);
    CHECK(st.dumps == 4);  // TCP and UDP, AF_INET and AF_INET6
    CHECK(st.messages == want.size());

    CHECK(read_sorted({{vip2}, false}).empty());
    fd on_vip2 = listener(vip2);
    auto both = want;
    both.push_back({tcp, listen_state, vip2, port_of(on_vip2.get()), 0, 0});
    CHECK(read_sorted({{vip2, vip}, false}) == sorted(both));

    // The clients' own sockets are on their address, each toward a listener.
    const auto theirs = read_sorted({{clients}, false});
    REQUIRE(theirs.size() == 5);
    for (const auto& e : theirs) {
        CHECK(e.proto == tcp);
        CHECK((e.remote == vip ? e.remote_port == p : e.remote == localhost && e.remote_port == p0));
    }
    CHECK(sockdiag::read_shadow_table({}).empty());  // nothing asked: nothing read
}

TEST_CASE("the wildcard brings sockets bound to every address; dual-stack servers' IPv4 sockets count",
          "[sockdiag][live]") {
    const ipv4_addr vip = test_addr(1, 1), clients = test_addr(1, 9);
    fd any = listener(0);
    const std::uint16_t pa = port_of(any.get());
    const socket_entry any_entry{tcp, listen_state, 0, pa, 0, 0};
    fd udp_any = bound_socket(SOCK_DGRAM, 0);
    const socket_entry udp_any_entry{udp, bound, 0, port_of(udp_any.get()), 0, 0};

    auto with = sockdiag::read_shadow_table({{vip}, true});
    CHECK(std::ranges::count(with, any_entry) == 1);
    CHECK(std::ranges::count(with, udp_any_entry) == 1);
    for (const auto& e : with) CHECK((e.local == vip || e.local == 0));
    const auto without = sockdiag::read_shadow_table({{vip}, false});
    CHECK(std::ranges::count(without, any_entry) == 0);

    // A connection through the wildcard listener is on the address it was made to.
    fd c = client(clients, vip, pa);
    fd s = accept_one(any);
    CHECK(read_sorted({{vip}, false}) == std::vector<socket_entry>{{tcp, established, vip, pa, clients, port_of(c.get())}});

    if (!ipv6_works()) {
        WARN("no IPv6 sockets here: the dual-stack part is not checked");
        return;
    }
    auto v6_listener = [](int v6only) {
        fd l(::socket(AF_INET6, SOCK_STREAM, 0));
        abortive(l.get());
        REQUIRE(::setsockopt(l.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) == 0);
        sockaddr_in6 sa{};
        sa.sin6_family = AF_INET6;
        sa.sin6_addr = in6addr_any;
        REQUIRE(::bind(l.get(), reinterpret_cast<const sockaddr*>(&sa), sizeof sa) == 0);
        REQUIRE(::listen(l.get(), 16) == 0);
        return l;
    };
    fd dual = v6_listener(0);
    fd v6only = v6_listener(1);
    const std::uint16_t pd = port_of(dual.get()), p6 = port_of(v6only.get());
    fd c6 = client(clients, vip, pd);
    fd s6 = accept_one(dual);  // an AF_INET6 socket, local ::ffff:vip

    sockdiag::read_stats st;
    with = sockdiag::read_shadow_table({{vip}, true}, &st);
    CHECK(std::ranges::count(with, socket_entry{tcp, established, vip, pd, clients, port_of(c6.get())}) == 1);
    CHECK(std::ranges::count(with, socket_entry{tcp, listen_state, 0, pd, 0, 0}) == 1);
    CHECK(std::ranges::count_if(with, [&](const socket_entry& e) { return e.local_port == p6; }) == 0);
    CHECK(st.skipped >= 1);  // the IPV6_V6ONLY listener, and any other on this host
}

TEST_CASE("a dump larger than one read: 2,500 connections, every one found once", "[sockdiag][live]") {
    const ipv4_addr vip = test_addr(2, 1), clients = test_addr(2, 9);
    constexpr int n = 2500;
    fd l = listener(vip, n);
    const std::uint16_t p = port_of(l.get());
    std::vector<fd> held;
    held.reserve(2 * n);
    std::vector<socket_entry> want{{tcp, listen_state, vip, p, 0, 0}};
    for (int i = 0; i < n; ++i) {
        held.push_back(client(clients, vip, p));
        want.push_back({tcp, established, vip, p, clients, port_of(held.back().get())});
        held.push_back(accept_one(l));
    }
    sockdiag::read_stats st;
    const auto got = read_sorted({{vip}, false}, &st);
    CHECK(got.size() == n + 1);
    CHECK(got == sorted(want));
    CHECK(st.recvs > st.dumps);  // at least one dump came in several reads (NLM_F_MULTI)
}

namespace {

/// `n` clients from `from` to `to`:`port`, held by a child process (this
/// process's file limit could not hold both ends of 10,000 connections).
/// The child says it is done by closing its end of a pipe; it exits when
/// the parent closes the other.
class client_swarm {
public:
    client_swarm(ipv4_addr from, ipv4_addr to, std::uint16_t port, int n) {
        int done[2], release[2];
        REQUIRE(::pipe(done) == 0);
        REQUIRE(::pipe(release) == 0);
        _pid = ::fork();
        REQUIRE(_pid >= 0);
        if (_pid == 0) {
            ::close(done[0]);
            ::close(release[1]);
            const auto sa = sin_of(to, port);
            const auto src = sin_of(from, 0);
            int status = 0;
            for (int i = 0; i < n && status == 0; ++i) {
                const int c = ::socket(AF_INET, SOCK_STREAM, 0);
                const linger lg{1, 0};
                ::setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
                if (c < 0 || ::bind(c, reinterpret_cast<const sockaddr*>(&src), sizeof src) != 0 ||
                    ::connect(c, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0)
                    status = 1;
            }
            const char verdict = static_cast<char>(status);
            (void)!::write(done[1], &verdict, 1);
            ::close(done[1]);
            char b;
            (void)!::read(release[0], &b, 1);  // until the parent is done
            ::_exit(status);
        }
        ::close(done[1]);
        ::close(release[0]);
        _done = done[0];
        _release = release[1];
    }
    /// True when the child connected all.
    bool wait_connected() {
        char verdict = 1;
        return ::read(_done, &verdict, 1) == 1 && verdict == 0;
    }
    ~client_swarm() {
        ::close(_release);
        ::close(_done);
        int status = 0;
        ::waitpid(_pid, &status, 0);
    }

private:
    pid_t _pid = -1;
    int _done = -1, _release = -1;
};

}  // namespace

// Not run by default (hidden tag): how long a read of many sockets takes.
//   build/test/unit/unit_tests '[.sockdiag-bench]'   (CG_BENCH_SOCKETS=N, default 10000)
TEST_CASE("timing: reading the shadow table of many connections", "[.sockdiag-bench]") {
    const int n = std::getenv("CG_BENCH_SOCKETS") ? std::atoi(std::getenv("CG_BENCH_SOCKETS")) : 10000;
    const ipv4_addr vip = test_addr(3, 1), clients = test_addr(3, 9);
    fd l = listener(vip, 4096);
    const std::uint16_t p = port_of(l.get());
    client_swarm swarm(clients, vip, p, n);
    std::vector<fd> held;
    held.reserve(n);
    for (int i = 0; i < n; ++i) held.push_back(accept_one(l));  // while the child connects
    REQUIRE(swarm.wait_connected());

    std::vector<double> ms;
    std::size_t found = 0;
    sockdiag::read_stats st;
    for (int rep = 0; rep < 7; ++rep) {
        st = {};
        const auto t0 = std::chrono::steady_clock::now();
        found = sockdiag::read_shadow_table({{vip}, false}, &st).size();
        ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    CHECK(found == static_cast<std::size_t>(n) + 1);
    std::sort(ms.begin(), ms.end());
    std::printf("sock_diag: %zu sockets read (of %d connections, both ends on this host) in %.2f ms median, "
                "%.2f ms best, %zu netlink reads\n",
                found, n, ms[ms.size() / 2], ms.front(), st.recvs);
}
