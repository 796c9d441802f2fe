// repair_socket against the Linux kernel, on loopback: a live connection's
// server socket is taken apart in repair mode (support/repair_rig), and
// re-created from its values with a request the old server had received
// but not answered put back. The client, which never noticed, gets the
// answer on its own socket and goes on.
#include <catch2/catch.hpp>

#include <netinet/tcp.h>

#include <string>
#include <variant>

#include "control/nodeagent/tcp_repair.hpp"
#include "support/repair_rig.hpp"

using namespace cg::control;
using namespace cg::test;

TEST_CASE("repair_socket: a connection re-created from its values carries on, the unanswered request replayed",
          "[nodeagent][tcp_repair]") {
    live_conn c = open_live_conn();
    send_text(c.client.get(), "REQ 1\n");
    CHECK(receive_text(c.server.get(), 6) == "REQ 1\n");
    send_text(c.server.get(), "ANS 1\n");
    CHECK(receive_text(c.client.get(), 6) == "ANS 1\n");
    // The second request reaches the server's kernel, which acknowledges
    // it; the server dies before its application reads it.
    const std::string request = "REQ 2\n";
    send_text(c.client.get(), request);
    const cg::common::tcp_repair_params p = take_apart(c, 6);
    CHECK(p.timestamps);  // Linux's defaults: what the restore must get right
    CHECK(p.wscale);

    auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(request.data()), request.size()});
    if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
    const int fd = std::get<owned_fd>(made).get();
    CHECK(tcp_state_of(fd) == TCP_ESTABLISHED);
    CHECK(receive_text(fd, 6) == request);  // replayed
    send_text(fd, "ANS 2\n");
    CHECK(receive_text(c.client.get(), 6) == "ANS 2\n");
    send_text(c.client.get(), "REQ 3\n");
    CHECK(receive_text(fd, 6) == "REQ 3\n");
    send_text(fd, "ANS 3\n");
    CHECK(receive_text(c.client.get(), 6) == "ANS 3\n");
    CHECK(socket_error(c.client.get()) == 0);
    CHECK(tcp_state_of(c.client.get()) == TCP_ESTABLISHED);
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
