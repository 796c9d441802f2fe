// A restored connection bridged to a service that knows nothing of it, on
// loopback: the old server taken apart (support/repair_rig), its socket
// re-created with the unanswered request replayed, and the bridge copying
// between it and a fresh connection to the "service" (the test's socket).
// A reply the old server had begun is finished from the service's answer,
// its first bytes (the client's already) dropped, once its marker matches.
// The service reads the replayed request first; the client gets the answer
// on its own socket; ends pass through as half-closes; an error resets the
// client rather than leaving it waiting.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <variant>

#include "control/nodeagent/conn_bridge.hpp"
#include "control/nodeagent/tcp_repair.hpp"
#include "support/repair_rig.hpp"

using namespace cg::control;
using namespace cg::test;
namespace asio = boost::asio;

namespace {

/// The client's connection restored and bridged to a service on loopback.
struct bridged {
    live_conn conn = open_live_conn();
    owned_fd service;  ///< the service's end of the bridge's local connection
    asio::io_context io;
    bridge_counters counters;
    std::thread loop;

    explicit bridged(const std::string& unanswered, reply_resume resume = {0, 0}) {
        send_text(conn.client.get(), unanswered);
        const auto p = take_apart(conn, static_cast<int>(unanswered.size()));
        owned_fd listener = listen_loopback();
        asio::ip::tcp::socket to_service(io);
        to_service.connect({asio::ip::address_v4::loopback(), local_port(listener.get())});
        service = owned_fd(::accept(listener.get(), nullptr, nullptr));
        auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(unanswered.data()), unanswered.size()});
        if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
        start_bridge(io, std::move(std::get<owned_fd>(made)), std::move(to_service), counters, resume);
        loop = std::thread([this] { io.run(); });  // returns when the bridge is done
    }
    ~bridged() {
        if (loop.joinable()) loop.join();
    }
};

}  // namespace

TEST_CASE("conn_bridge: the service answers the replayed request first, then the client's next ones",
          "[nodeagent][conn_bridge]") {
    bridged b("REQ 2\n");
    CHECK(receive_text(b.service.get(), 6) == "REQ 2\n");
    send_text(b.service.get(), "ANS 2\n");
    CHECK(receive_text(b.conn.client.get(), 6) == "ANS 2\n");
    send_text(b.conn.client.get(), "REQ 3\n");
    CHECK(receive_text(b.service.get(), 6) == "REQ 3\n");
    send_text(b.service.get(), "ANS 3\n");
    CHECK(receive_text(b.conn.client.get(), 6) == "ANS 3\n");

    // The client ends; the service hears it, ends too; the client hears that.
    ::shutdown(b.conn.client.get(), SHUT_WR);
    CHECK(receive_text(b.service.get(), 1).empty());
    b.service = owned_fd();
    CHECK(receive_text(b.conn.client.get(), 1).empty());
    CHECK(socket_error(b.conn.client.get()) == 0);
    b.loop.join();
    CHECK(b.counters.opened == 1);
    CHECK(b.counters.closed == 1);
    CHECK(b.counters.failed == 0);
    CHECK(b.counters.to_service_bytes == 12);
    CHECK(b.counters.to_client_bytes == 12);
}

TEST_CASE("conn_bridge: a service that fails resets the client", "[nodeagent][conn_bridge]") {
    bridged b("REQ 2\n");
    CHECK(receive_text(b.service.get(), 6) == "REQ 2\n");
    // The service dies: its kernel resets the bridge's connection.
    struct linger l{1, 0};
    ::setsockopt(b.service.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
    b.service = owned_fd();
    b.loop.join();
    CHECK(b.counters.failed == 1);
    char c;
    CHECK(::recv(b.conn.client.get(), &c, 1, 0) == -1);
    CHECK(errno == ECONNRESET);
}

namespace {
std::string as_text(std::span<const std::uint8_t> b) { return {b.begin(), b.end()}; }
std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
}  // namespace

TEST_CASE("reply_resume: the first bytes dropped once the marker is the node's, however the reads fall",
          "[nodeagent][conn_bridge]") {
    const std::string reply = std::string("\x80\x00\x00\x0a", 4) + "0123456789" + "next";
    const std::uint32_t marker = 0x8000000au;
    for (const std::uint32_t skip : {0u, 2u, 4u, 9u, 14u})
        for (std::size_t read = 1; read <= reply.size(); ++read) {
            reply_resume r(skip, skip == 0 ? 0 : marker);
            std::string got;
            for (std::size_t at = 0; at < reply.size(); at += read) {
                const auto out = r.pass(bytes_of(std::string_view(reply).substr(at, read)));
                REQUIRE(out);
                got += as_text(*out);
            }
            INFO("skip " << skip << ", reads of " << read);
            CHECK(got == reply.substr(skip));
            CHECK(r.done());
        }
}

TEST_CASE("reply_resume: a reply of another length is not the node's", "[nodeagent][conn_bridge]") {
    reply_resume r(6, 0x8000000au);
    CHECK(r.pass(bytes_of(std::string_view("\x80\x00", 2))));
    CHECK_FALSE(r.pass(bytes_of(std::string_view("\x00\x0bxx", 4))));
    reply_resume last_fragment_bit(6, 0x8000000au);
    CHECK_FALSE(last_fragment_bit.pass(bytes_of(std::string_view("\x00\x00\x00\x0axx", 6))));
}

TEST_CASE("conn_bridge: a cut reply finished: the client gets the rest of the service's answer",
          "[nodeagent][conn_bridge]") {
    // The old server had sent "\x80\0\0\x08ABCD" of an 8-byte record: the client has 8 bytes of it.
    bridged b("CALL\n", reply_resume(8, 0x80000008u));
    CHECK(receive_text(b.service.get(), 5) == "CALL\n");
    send_text(b.service.get(), std::string("\x80\x00\x00\x08", 4) + "ABCDEFGH" + "more");
    CHECK(receive_text(b.conn.client.get(), 8) == "EFGHmore");
    b.service = owned_fd();
    ::shutdown(b.conn.client.get(), SHUT_WR);
    b.loop.join();
    CHECK(b.counters.resumed == 1);
    CHECK(b.counters.resume_mismatch == 0);
    CHECK(b.counters.to_client_bytes == 8);
}

TEST_CASE("conn_bridge: a service whose answer is not the node's resets the client", "[nodeagent][conn_bridge]") {
    bridged b("CALL\n", reply_resume(8, 0x80000008u));
    CHECK(receive_text(b.service.get(), 5) == "CALL\n");
    send_text(b.service.get(), std::string("\x80\x00\x00\x09", 4) + "ABCDEFGHI");
    b.loop.join();
    CHECK(b.counters.resume_mismatch == 1);
    CHECK(b.counters.failed == 1);
    char c;
    CHECK(::recv(b.conn.client.get(), &c, 1, 0) == -1);
    CHECK(errno == ECONNRESET);
}
