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

TEST_CASE("repair_socket: the node's last reply, as if unacknowledged, goes back in the send queue as sent",
          "[nodeagent][tcp_repair]") {
    live_conn c = open_live_conn();
    const std::string answer = "ANS 1 with some length\n", request = "REQ 2\n";
    send_text(c.client.get(), "REQ 1\n");
    CHECK(receive_text(c.server.get(), 6) == "REQ 1\n");
    send_text(c.server.get(), answer);
    CHECK(receive_text(c.client.get(), answer.size()) == answer);
    send_text(c.client.get(), request);
    cg::common::tcp_repair_params p = take_apart(c, static_cast<int>(request.size()));
    // The mirror missed the client's acknowledgement of the answer: the
    // spare starts its send queue at the answer's first byte, with it in.
    p.snd_seq -= static_cast<std::uint32_t>(answer.size());
    p.resend_len = static_cast<std::uint32_t>(answer.size());
    const std::string replay = request + answer;
    auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(replay.data()), replay.size()});
    if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
    const int fd = std::get<owned_fd>(made).get();
    CHECK(receive_text(fd, request.size()) == request);  // only the request is the service's to read
    send_text(fd, "ANS 2\n");
    // The client had the answer: it takes the next bytes after it, once.
    CHECK(receive_text(c.client.get(), 6) == "ANS 2\n");
    send_text(c.client.get(), "REQ 3\n");
    CHECK(receive_text(fd, 6) == "REQ 3\n");
    CHECK(socket_error(c.client.get()) == 0);

    p.resend_len = static_cast<std::uint32_t>(replay.size() + 1);
    auto refused = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(replay.data()), replay.size()});
    REQUIRE(std::holds_alternative<std::string>(refused));
    CHECK(std::get<std::string>(refused) == "the reply to send again (30 bytes) is longer than the replay (29)");
}

TEST_CASE("repair_socket: a reply the client never had, put in the send queue, reaches it once",
          "[nodeagent][tcp_repair]") {
    live_conn c = open_live_conn();
    const std::string request = "REQ 1\n", answer = "ANS 1, lost with the node\n";
    send_text(c.client.get(), request);
    cg::common::tcp_repair_params p = take_apart(c, static_cast<int>(request.size()));
    // The node sent its answer and died; the client never had it. The
    // spare's send queue holds it as sent, from the node's next byte.
    p.resend_len = static_cast<std::uint32_t>(answer.size());
    const std::string replay = answer;  // the request was answered: nothing to replay
    auto made = repair_socket(p, {reinterpret_cast<const std::uint8_t*>(replay.data()), replay.size()});
    if (auto* why = std::get_if<std::string>(&made)) FAIL(*why);
    const int fd = std::get<owned_fd>(made).get();
    CHECK(receive_text(c.client.get(), answer.size()) == answer);  // retransmitted by the spare's kernel
    send_text(fd, "ANS 2\n");
    CHECK(receive_text(c.client.get(), 6) == "ANS 2\n");
    send_text(c.client.get(), "REQ 2\n");
    CHECK(receive_text(fd, 6) == "REQ 2\n");
    CHECK(socket_error(c.client.get()) == 0);
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
