// The spare's restorer on loopback: a live connection's server taken apart
// (support/repair_rig), then a restore of it handed to the restorer, which
// connects to the local service, re-creates the client's socket with the
// unanswered request and bridges the two; and the outcomes of connections
// it cannot carry on, each with its reason.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include "control/nodeagent/restorer.hpp"
#include "support/repair_rig.hpp"

using namespace cg::control;
using namespace cg::test;
namespace asio = boost::asio;

namespace {

asio::ip::tcp::endpoint loopback_at(std::uint16_t port) { return {asio::ip::address_v4::loopback(), port}; }

/// Runs the restore on `io` until its answer comes.
shadow::restored restored_by(asio::io_context& io, restorer& r, const shadow::restore& asked) {
    std::optional<shadow::restored> out;
    r.restore(asked, [&](shadow::restored o) { out = std::move(o); });
    for (int i = 0; i < 500 && !out; ++i) io.run_one_for(std::chrono::milliseconds(10));
    REQUIRE(out);
    return std::move(*out);
}

shadow::restore_conn conn_of(const cg::common::tcp_repair_params& p, const std::string& replay) {
    return {p, std::vector<std::uint8_t>(replay.begin(), replay.end())};
}

}  // namespace

TEST_CASE("restorer: a failed node's connection carried on by the local service", "[nodeagent][restorer]") {
    live_conn c = open_live_conn();
    send_text(c.client.get(), "REQ 2\n");
    const auto p = take_apart(c, 6);
    owned_fd service_listener = listen_loopback();

    asio::io_context io;
    restorer r(io, {{{p.server_port, loopback_at(local_port(service_listener.get()))}}});
    const auto out = restored_by(io, r, {0xc612000b, {conn_of(p, "REQ 2\n")}});
    REQUIRE(out.outcomes.size() == 1);
    CHECK(out.outcomes[0].why == "");
    CHECK(out.outcomes[0].restored);
    CHECK(out.outcomes[0].client == p.client_addr);
    CHECK(out.outcomes[0].client_port == p.client_port);
    owned_fd service(::accept(service_listener.get(), nullptr, nullptr));
    io.restart();
    std::thread loop([&] { io.run(); });

    CHECK(receive_text(service.get(), 6) == "REQ 2\n");
    send_text(service.get(), "ANS 2\n");
    CHECK(receive_text(c.client.get(), 6) == "ANS 2\n");
    ::shutdown(c.client.get(), SHUT_WR);
    CHECK(receive_text(service.get(), 1).empty());
    service = owned_fd();
    loop.join();
    CHECK(r.counters().restores == 1);
    CHECK(r.counters().restored == 1);
    CHECK(r.bridges().closed == 1);
}

TEST_CASE("restorer: what it cannot carry on, each with its reason", "[nodeagent][restorer]") {
    owned_fd closed = listen_loopback();
    const std::uint16_t dead_port = local_port(closed.get());
    closed = owned_fd();  // nothing listens there now
    owned_fd up = listen_loopback();

    cg::common::tcp_repair_params no_service, service_down, not_here;
    no_service.server_port = 80;
    service_down.server_port = 2049;
    not_here.server_port = 111;
    not_here.server_addr = 0xc0000201;  // 192.0.2.1: not an address of this host
    not_here.client_addr = loopback;
    not_here.client_port = 40000;

    asio::io_context io;
    restorer r(io, {{{2049, loopback_at(dead_port)}, {111, loopback_at(local_port(up.get()))}}});
    const auto out =
        restored_by(io, r, {0xc612000b, {conn_of(no_service, ""), conn_of(service_down, ""), conn_of(not_here, "")}});
    REQUIRE(out.outcomes.size() == 3);
    CHECK(out.outcomes[0].why == "no service for port 80 on this spare (--restore-service)");
    CHECK(out.outcomes[1].why == "service 127.0.0.1:" + std::to_string(dead_port) + ": Connection refused");
    CHECK(out.outcomes[2].why == "bind 192.0.2.1:111: Cannot assign requested address");
    for (const auto& o : out.outcomes) CHECK_FALSE(o.restored);
    CHECK(r.counters().not_restored == 3);
    CHECK(r.bridges().opened == 0);
}

TEST_CASE("restorer: a service that does not take the connection in time is reported, and the rest answered",
          "[nodeagent][restorer]") {
    // A listener whose backlog is full and that never accepts: its connects wait.
    owned_fd stuck = listen_loopback();
    ::listen(stuck.get(), 0);
    std::vector<owned_fd> fillers;
    for (int i = 0; i < 4; ++i) {
        fillers.emplace_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(loopback);
        a.sin_port = htons(local_port(stuck.get()));
        ::connect(fillers.back().get(), reinterpret_cast<sockaddr*>(&a), sizeof a);
    }
    cg::common::tcp_repair_params waits;
    waits.server_port = 2049;
    asio::io_context io;
    restorer_config cfg{{{2049, loopback_at(local_port(stuck.get()))}}, std::chrono::milliseconds(300)};
    restorer r(io, cfg);
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = restored_by(io, r, {0xc612000b, {conn_of(waits, ""), conn_of(waits, "")}});
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(out.outcomes.size() == 2);
    for (const auto& o : out.outcomes) {
        CHECK_FALSE(o.restored);
        CHECK(o.why == "the service did not take the connection within 300 ms");
    }
    CHECK(took >= std::chrono::milliseconds(300));
    CHECK(took < std::chrono::milliseconds(1500));
}

namespace {

/// A cut reply's case on loopback: the node read the call and sent the
/// first `sent` bytes of its 20-byte reply (a record marker, 16 bytes),
/// which the client has; the mirror saw the client acknowledge only the
/// first 4. The service (a thread) answers the replayed call with `answer`.
struct cut_reply {
    static constexpr std::uint32_t marker = 0x80000010u;
    static inline const std::string body = "0123456789abcdef";
    live_conn c = open_live_conn();
    cg::common::tcp_repair_params p;
    owned_fd listener = listen_loopback();
    std::string service_got;
    std::thread service;

    explicit cut_reply(std::uint32_t sent, std::string answer) {
        send_text(c.client.get(), "CALL\n");
        REQUIRE(receive_text(c.server.get(), 5) == "CALL\n");
        const std::string reply = std::string{"\x80\x00\x00\x10", 4} + body;
        send_text(c.server.get(), reply.substr(0, sent));
        REQUIRE(receive_text(c.client.get(), sent) == reply.substr(0, sent));
        p = take_apart(c, 0);
        p.snd_seq -= sent - 4;  // where the mirror saw the client's acknowledgement
        p.resume_skip = 4;
        p.resume_sent = sent;
        p.resume_marker = marker;
        service = std::thread([this, answer] {
            owned_fd s(::accept(listener.get(), nullptr, nullptr));
            service_got = receive_text(s.get(), 5);
            send_text(s.get(), answer);
            receive_text(s.get(), 1);  // until the bridge closes
        });
    }
    ~cut_reply() {
        if (service.joinable()) service.join();
    }
};

}  // namespace

TEST_CASE("restorer: a cut reply the client had more of than the mirror saw is finished in place",
          "[nodeagent][restorer]") {
    cut_reply cut(12, std::string{"\x80\x00\x00\x10", 4} + cut_reply::body);
    asio::io_context io;
    restorer r(io, {{{cut.p.server_port, loopback_at(local_port(cut.listener.get()))}}});
    const auto out = restored_by(io, r, {0xc612000b, {conn_of(cut.p, "CALL\n")}});
    REQUIRE(out.outcomes.size() == 1);
    CHECK(out.outcomes[0].why == "");
    CHECK(out.outcomes[0].restored);
    io.restart();
    std::thread loop([&] { io.run(); });
    // The client, whose acknowledgement stood at 12 while the spare's socket
    // was told 4, gets the reply's last 8 bytes, and nothing twice. (On
    // loopback the rest goes out in one burst, so the client's ACK becomes
    // valid either way; the hang this path prevents needs a reply longer
    // than the spare's first window: system test nfs_restore.)
    CHECK(receive_text(cut.c.client.get(), 8) == "89abcdef");
    ::shutdown(cut.c.client.get(), SHUT_WR);
    cut.service.join();
    loop.join();
    CHECK(cut.service_got == "CALL\n");
    CHECK(r.bridges().resumed == 1);
}

TEST_CASE("restorer: a cut reply whose service answers with another record marker is not carried on",
          "[nodeagent][restorer]") {
    cut_reply cut(12, std::string{"\x80\x00\x00\x20", 4} + cut_reply::body);
    asio::io_context io;
    restorer r(io, {{{cut.p.server_port, loopback_at(local_port(cut.listener.get()))}}});
    const auto out = restored_by(io, r, {0xc612000b, {conn_of(cut.p, "CALL\n")}});
    REQUIRE(out.outcomes.size() == 1);
    CHECK_FALSE(out.outcomes[0].restored);
    CHECK(out.outcomes[0].why == "the service's reply is not the node's (another record marker)");
    CHECK(r.bridges().resume_mismatch == 1);
    CHECK(r.bridges().opened == 0);
}

TEST_CASE("restorer: a cut reply whose service answers shorter than the node is refused at its marker, not at the "
          "timeout",
          "[nodeagent][restorer]") {
    // 8 bytes in all, fewer than the 12 the node had sent: a read of 12 would wait for the timeout.
    cut_reply cut(12, std::string{"\x80\x00\x00\x04", 4} + "0123");
    asio::io_context io;
    restorer r(io, {{{cut.p.server_port, loopback_at(local_port(cut.listener.get()))}}, std::chrono::seconds(2)});
    const auto t0 = std::chrono::steady_clock::now();
    const auto out = restored_by(io, r, {0xc612000b, {conn_of(cut.p, "CALL\n")}});
    const auto took = std::chrono::steady_clock::now() - t0;
    REQUIRE(out.outcomes.size() == 1);
    CHECK_FALSE(out.outcomes[0].restored);
    CHECK(out.outcomes[0].why == "the service's reply is not the node's (another record marker)");
    CHECK(r.bridges().resume_mismatch == 1);
    CHECK(took < std::chrono::milliseconds(1000));
}
