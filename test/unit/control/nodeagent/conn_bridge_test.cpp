// A restored connection bridged to a service that knows nothing of it, on
// loopback: the old server taken apart (support/repair_rig), its socket
// re-created with the unanswered request replayed, and the bridge copying
// between it and a fresh connection to the "service" (the test's socket).
// The service reads the replayed request first; the client gets the answer
// on its own socket; ends pass through as half-closes; an error resets the
// client rather than leaving it waiting.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <cerrno>
#include <string>
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

    explicit bridged(const std::string& unanswered) {
        send_text(conn.client.get(), unanswered);
        const auto p = take_apart(conn, static_cast<int>(unanswered.size()));
        owned_fd listener = listen_loopback();
        asio::ip::tcp::socket to_service(io);
        to_service.connect({asio::ip::address_v4::loopback(), local_port(listener.get())});
        service = owned_fd(::accept(listener.get(), nullptr, nullptr));
        auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(unanswered.data()), unanswered.size()});
        if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
        start_bridge(io, std::move(std::get<owned_fd>(made)), std::move(to_service), counters);
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
