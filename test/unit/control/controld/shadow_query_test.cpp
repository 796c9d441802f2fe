// The takeover query end to end over loopback: controld's client against
// nodeagent's server (with a test's table, and with the kernel's), the
// server against bad queries, and the client against agents that tamper,
// answer another query, skip a chunk, stop short or stall.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <functional>
#include <set>

#include "control/controld/shadow_query.hpp"
#include "control/nodeagent/shadow_server.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using cg::common::ipv4_addr;
using shadow::socket_entry;

namespace {

const shadow::key the_key(32, 0x77);
constexpr ipv4_addr gateway = 0xc6120003, node = 0xc612000b, vip = 0xc6120064, vip2 = 0xc6120065;
const tcp::endpoint any_loopback(asio::ip::address_v4::loopback(), 0);

std::vector<socket_entry> entries(std::size_t n) {
    std::vector<socket_entry> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i)
        v.push_back({6, 1, vip, 443, static_cast<ipv4_addr>(0x0a000000 + i / 60000),
                     static_cast<std::uint16_t>(1024 + i % 60000)});
    return v;
}

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

shadow_server_config config(std::vector<ipv4_addr> served = {}) {
    shadow_server_config c;
    c.listen = any_loopback;
    c.node = node;
    c.clusters = std::move(served);
    c.key = the_key;
    c.max_skew_ms = 5'000;
    c.io_timeout = 300ms;
    return c;
}

shadow_request request(std::uint64_t seq, std::vector<ipv4_addr> clusters = {vip}) {
    return {gateway, 1, seq, std::move(clusters), false};
}

/// Runs the io_context until `cond` holds (or 10 s pass: then the test fails).
template <class F>
void run_until(asio::io_context& io, F cond) {
    const auto limit = std::chrono::steady_clock::now() + 10s;
    while (!cond() && std::chrono::steady_clock::now() < limit) io.run_one_for(100ms);
    REQUIRE(cond());
}

shadow_result ask(asio::io_context& io, std::uint16_t port, const shadow_request& r,
                  std::chrono::milliseconds deadline = 5s) {
    std::optional<shadow_result> got;
    query_shadow_table(io, {asio::ip::address_v4::loopback(), port}, node, the_key, r, deadline,
                       [&](shadow_result res) { got = std::move(res); });
    run_until(io, [&] { return got.has_value(); });
    return std::move(*got);
}

/// Sends `bytes` on a fresh connection and reads until the other side closes:
/// what came back.
std::vector<std::uint8_t> raw_exchange(asio::io_context& io, std::uint16_t port, std::vector<std::uint8_t> bytes,
                                       bool close_after_sending = false) {
    auto s = std::make_shared<tcp::socket>(io);
    auto back = std::make_shared<std::vector<std::uint8_t>>();
    auto buf = std::make_shared<std::array<std::uint8_t, 4096>>();
    bool ended = false;
    s->connect({asio::ip::address_v4::loopback(), port});
    asio::write(*s, asio::buffer(bytes));
    if (close_after_sending) s->shutdown(tcp::socket::shutdown_send);
    std::function<void()> more = [&, s, back, buf] {
        s->async_read_some(asio::buffer(*buf), [&, s, back, buf](const boost::system::error_code& ec, std::size_t n) {
            back->insert(back->end(), buf->begin(), buf->begin() + static_cast<std::ptrdiff_t>(n));
            if (ec) {
                ended = true;
                return;
            }
            more();
        });
    };
    more();
    run_until(io, [&] { return ended; });
    return *back;
}

std::vector<std::uint8_t> sealed_query(std::uint64_t seq, const shadow::key& k = the_key,
                                       std::vector<ipv4_addr> clusters = {vip}) {
    return shadow::seal({gateway, 1, seq, now_ms(), shadow::query{std::move(clusters), false}}, k);
}

/// An agent that answers as a test says: it reads the query, then sends what
/// `reply` makes of it (nothing, and the connection held open, for a stall).
struct fake_agent {
    using replier = std::function<std::vector<std::vector<std::uint8_t>>(const shadow::envelope&)>;
    asio::io_context& io;
    replier reply;
    bool stall = false;
    std::chrono::milliseconds pace{0};  ///< between chunks; 0: all at once
    std::size_t stall_after = SIZE_MAX;  ///< chunks sent before it falls silent
    tcp::acceptor acceptor{io, any_loopback};
    std::vector<std::shared_ptr<tcp::socket>> held;
    asio::steady_timer timer{io};

    void send(std::shared_ptr<tcp::socket> s, std::shared_ptr<std::vector<std::vector<std::uint8_t>>> frames,
              std::size_t i) {
        if (i == stall_after) return;  // holds the connection, says no more
        if (i == frames->size()) {
            s->shutdown(tcp::socket::shutdown_both);
            return s->close();
        }
        asio::write(*s, asio::buffer((*frames)[i]));
        if (pace.count() == 0) return send(s, frames, i + 1);
        timer.expires_after(pace);
        timer.async_wait([this, s, frames, i](const boost::system::error_code& ec) {
            if (!ec) send(s, frames, i + 1);
        });
    }

    std::uint16_t port() const { return acceptor.local_endpoint().port(); }
    void serve() {
        acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket sock) {
            if (ec) return;
            auto s = std::make_shared<tcp::socket>(std::move(sock));
            held.push_back(s);
            auto frame = std::make_shared<std::vector<std::uint8_t>>(shadow::header_size);
            asio::async_read(*s, asio::buffer(*frame), [this, s, frame](const boost::system::error_code& rec, std::size_t) {
                if (rec) return;
                frame->resize(std::get<std::size_t>(shadow::frame_size(*frame)));
                asio::async_read(*s, asio::buffer(frame->data() + shadow::header_size, frame->size() - shadow::header_size),
                                 [this, s, frame](const boost::system::error_code& bec, std::size_t) {
                                     if (bec) return;
                                     const auto q = std::get<shadow::envelope>(shadow::open(*frame, the_key));
                                     if (stall) return;  // holds the connection, says nothing
                                     send(s, std::make_shared<std::vector<std::vector<std::uint8_t>>>(reply(q)), 0);
                                 });
            });
            serve();
        });
    }
};

std::vector<std::vector<std::uint8_t>> honest(const std::vector<socket_entry>& all, const shadow::envelope& q,
                                              ipv4_addr from = node) {
    std::vector<std::vector<std::uint8_t>> out;
    for (std::size_t i = 0; i < shadow::answer_chunks(all.size()); ++i)
        out.push_back(shadow::seal_chunk(all, i, from, {q.epoch, q.seq}, now_ms(), the_key));
    return out;
}

/// A reader that hands out `table` as the kernel would: in batches of a
/// netlink read's size (about 250 sockets), never an empty one.
table_reader serving(std::vector<socket_entry> table) {
    return [table = std::move(table)](const sockdiag::filter&, const sockdiag::batch_sink& each) {
        for (std::size_t at = 0; at < table.size(); at += 250)
            each(std::vector<socket_entry>(table.begin() + static_cast<std::ptrdiff_t>(at),
                                           table.begin() + static_cast<std::ptrdiff_t>(std::min(table.size(), at + 250))));
    };
}

/// 127.x addresses of this process's own (shadow_table_test.cpp's scheme, another block).
ipv4_addr test_addr(unsigned n) {
    const auto pid = static_cast<unsigned>(::getpid());
    return 0x7f000000u | ((100 + pid % 100) << 16) | ((pid / 100 % 250) << 8) | (16 * 8 + n);
}

}  // namespace

TEST_CASE("client and agent: 100,000 sockets asked, streamed in chunks, taken whole", "[shadow][io]") {
    asio::io_context io;
    const auto table = entries(100'000);
    std::vector<sockdiag::filter> asked;
    shadow_server server(io, config({vip, vip2}), [&](const sockdiag::filter& f, const sockdiag::batch_sink& each) {
        asked.push_back(f);
        serving(table)(f, each);
    });
    server.start();
    auto r = ask(io, server.port(), {gateway, 4, 1, {vip2, vip}, true});
    REQUIRE(r.ok());
    CHECK(r.entries == table);
    CHECK(r.chunks == shadow::answer_chunks(table.size()));
    REQUIRE(asked.size() == 1);
    CHECK(asked[0].locals == std::vector<ipv4_addr>{vip2, vip});
    CHECK(asked[0].wildcard);
    run_until(io, [&] { return server.counters().answered == 1; });
    CHECK(server.counters().entries_sent == table.size());
    CHECK(server.queries().accepted() == 1);

    // An empty table is one empty chunk; the next query must come with a higher seq.
    shadow_server empty(io, config(), serving({}));
    empty.start();
    r = ask(io, empty.port(), request(1));
    REQUIRE(r.ok());
    CHECK(r.entries.empty());
    CHECK(r.chunks == 1);
}

TEST_CASE("client and agent: a slow read streams its chunks, so the querier hears the node alive", "[shadow][io]") {
    asio::io_context io;
    const auto table = entries(4 * shadow::entries_per_chunk);
    // The read takes 8 x 75 ms, past the querier's 300 ms of silence; a
    // chunk leaves as soon as the batches have filled it and begun the next.
    const std::size_t half = shadow::entries_per_chunk / 2;
    shadow_server server(io, config(), [&](const sockdiag::filter&, const sockdiag::batch_sink& each) {
        for (std::size_t b = 0; b < 8; ++b) {
            std::this_thread::sleep_for(75ms);
            const auto from = table.begin() + static_cast<std::ptrdiff_t>(b * half);
            const auto to = b == 7 ? table.end() : from + static_cast<std::ptrdiff_t>(half);
            each(std::vector<socket_entry>(from, to));
        }
    });
    server.start();
    const auto t0 = std::chrono::steady_clock::now();
    auto r = ask(io, server.port(), request(1), 300ms);
    CHECK(std::chrono::steady_clock::now() - t0 >= 600ms);
    REQUIRE(r.ok());
    CHECK(r.entries == table);
    CHECK(r.chunks == 4);
}

TEST_CASE("client and agent: the kernel's sockets on the asked address", "[shadow][io][live]") {
    asio::io_context io;
    const ipv4_addr addr = test_addr(1), clients = test_addr(9);
    tcp::acceptor listener(io, {asio::ip::address_v4(addr), 0});
    const std::uint16_t p = listener.local_endpoint().port();
    std::vector<tcp::socket> held;
    std::set<socket_entry> want{{6, 10, addr, p, 0, 0}};
    for (int i = 0; i < 3; ++i) {
        tcp::socket c(io);
        c.open(tcp::v4());
        c.set_option(asio::socket_base::linger(true, 0));  // no TIME_WAIT left behind
        c.bind({asio::ip::address_v4(clients), 0});
        c.connect(listener.local_endpoint());
        want.insert({6, 1, addr, p, clients, c.local_endpoint().port()});
        held.push_back(std::move(c));
        held.push_back(listener.accept());
        held.back().set_option(asio::socket_base::linger(true, 0));
    }
    shadow_server server(io, config());
    server.start();
    auto r = ask(io, server.port(), request(1, {addr}));
    REQUIRE(r.ok());
    CHECK(std::set<socket_entry>(r.entries.begin(), r.entries.end()) == want);
    CHECK(r.entries.size() == want.size());
}

TEST_CASE("the agent refuses bad queries, counts each, and goes on answering", "[shadow][io]") {
    asio::io_context io;
    shadow_server server(io, config({vip}), serving(entries(10)));
    server.start();
    const auto port = server.port();
    const auto& q = server.queries();
    using shadow::refusal;

    CHECK(raw_exchange(io, port, sealed_query(1, shadow::key(32, 1))).empty());
    CHECK(q.count(refusal::bad_mac) == 1);

    const auto good = sealed_query(2);
    CHECK_FALSE(raw_exchange(io, port, good).empty());  // answered
    CHECK(raw_exchange(io, port, good).empty());         // the same query again
    CHECK(q.count(refusal::replayed) == 1);

    auto tampered = sealed_query(3);
    tampered[shadow::header_size + 5] ^= 0x40;
    CHECK(raw_exchange(io, port, tampered).empty());
    CHECK(q.count(refusal::bad_mac) == 2);

    CHECK(raw_exchange(io, port, std::vector<std::uint8_t>(shadow::header_size, 'G')).empty());
    CHECK(q.count(refusal::bad_magic) == 1);

    auto huge = sealed_query(4);
    huge[39] = 0x7f;  // the length's top byte: 2 GB announced, refused before it is read
    CHECK(raw_exchange(io, port, std::vector<std::uint8_t>(huge.begin(), huge.begin() + shadow::header_size)).empty());
    CHECK(q.count(refusal::too_large) == 1);

    const auto half = sealed_query(5);
    CHECK(raw_exchange(io, port, std::vector<std::uint8_t>(half.begin(), half.begin() + 50), true).empty());
    CHECK(q.count(refusal::truncated) == 1);

    auto chunk = shadow::seal_chunk(entries(1), 0, node, {1, 6}, now_ms(), the_key);
    CHECK(raw_exchange(io, port, chunk).empty());
    CHECK(q.count(refusal::wrong_type) == 1);

    CHECK(raw_exchange(io, port, sealed_query(7, the_key, {vip, vip2})).empty());  // vip2 is not served here
    CHECK(server.counters().not_served == 1);

    // Says nothing: closed after io_timeout.
    CHECK(raw_exchange(io, port, {}).empty());
    CHECK(server.counters().timeouts == 1);

    auto r = ask(io, port, request(8));
    REQUIRE(r.ok());
    CHECK(r.entries == entries(10));
    CHECK(q.accepted() == 3);  // seq 2, seq 7 (refused after: not served), seq 8
    CHECK(server.counters().answered == 2);
}

TEST_CASE("the agent serves a few queries at once and closes the rest", "[shadow][io]") {
    asio::io_context io;
    auto cfg = config();
    cfg.max_sessions = 2;
    shadow_server server(io, cfg, serving(entries(1)));
    server.start();
    // Two connections that say nothing hold both sessions; a third is closed at once.
    tcp::socket a(io), b(io);
    a.connect({asio::ip::address_v4::loopback(), server.port()});
    b.connect({asio::ip::address_v4::loopback(), server.port()});
    CHECK(raw_exchange(io, server.port(), sealed_query(1)).empty());
    CHECK(server.counters().busy == 1);
    run_until(io, [&] { return server.counters().timeouts == 2 && server.sessions() == 0; });  // a and b time out
    CHECK(ask(io, server.port(), request(2)).ok());
}

TEST_CASE("the client refuses a tampered chunk, another query's, a skipped one, a short answer; a stall hits the deadline",
          "[shadow][io]") {
    asio::io_context io;
    const auto table = entries(3 * shadow::entries_per_chunk);
    fake_agent agent{io, {}};
    agent.serve();

    SECTION("an honest fake: taken whole") {
        agent.reply = [&](const shadow::envelope& q) { return honest(table, q); };
        auto r = ask(io, agent.port(), request(1));
        REQUIRE(r.ok());
        CHECK(r.entries == table);
    }
    SECTION("a changed byte in chunk 1") {
        agent.reply = [&](const shadow::envelope& q) {
            auto f = honest(table, q);
            f[1][shadow::header_size + 100] ^= 1;
            return f;
        };
        auto r = ask(io, agent.port(), request(1));
        CHECK_FALSE(r.ok());
        CHECK(r.refusal == shadow::refusal::bad_mac);
        CHECK(r.chunks == 1);
        CHECK(r.entries.empty());
        CHECK_THAT(r.error, Catch::Contains("chunk 1 refused: bad_mac"));
    }
    SECTION("an answer to an earlier query") {
        agent.reply = [&](const shadow::envelope& q) {
            auto earlier = q;
            earlier.seq -= 1;
            return honest(table, earlier);
        };
        CHECK(ask(io, agent.port(), request(5)).refusal == shadow::refusal::replayed);
    }
    SECTION("another node's answer") {
        agent.reply = [&](const shadow::envelope& q) { return honest(table, q, node + 1); };
        CHECK(ask(io, agent.port(), request(1)).refusal == shadow::refusal::wrong_peer);
    }
    SECTION("chunk 1 skipped") {
        agent.reply = [&](const shadow::envelope& q) {
            auto f = honest(table, q);
            f.erase(f.begin() + 1);
            return f;
        };
        auto r = ask(io, agent.port(), request(1));
        CHECK(r.refusal == shadow::refusal::out_of_order);
        CHECK(r.chunks == 1);
    }
    SECTION("closed before the last chunk, between frames and inside one") {
        agent.reply = [&](const shadow::envelope& q) {
            auto f = honest(table, q);
            f.pop_back();
            return f;
        };
        auto r = ask(io, agent.port(), request(1));
        CHECK_FALSE(r.ok());
        CHECK_FALSE(r.refusal);
        CHECK_THAT(r.error, Catch::Contains("closed the connection after 2 chunks"));
        agent.reply = [&](const shadow::envelope& q) {
            auto f = honest(table, q);
            f[2].resize(1000);
            return f;
        };
        r = ask(io, agent.port(), request(2));
        CHECK(r.refusal == shadow::refusal::truncated);
    }
    SECTION("a stall: the deadline ends it") {
        agent.stall = true;
        const auto t0 = std::chrono::steady_clock::now();
        auto r = ask(io, agent.port(), request(1), 200ms);
        CHECK(std::chrono::steady_clock::now() - t0 >= 200ms);
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::Contains("silent for 200 ms (0 chunks taken)"));
    }
    SECTION("a slow answer whose every chunk comes within the deadline is taken whole") {
        agent.reply = [&](const shadow::envelope& q) { return honest(table, q); };
        agent.pace = 120ms;  // 3 chunks: 240 ms and more in all, against 200 ms
        const auto t0 = std::chrono::steady_clock::now();
        auto r = ask(io, agent.port(), request(1), 200ms);
        CHECK(std::chrono::steady_clock::now() - t0 >= 240ms);
        REQUIRE(r.ok());
        CHECK(r.entries == table);
    }
    SECTION("an agent that falls silent after a chunk is given up a deadline later") {
        agent.reply = [&](const shadow::envelope& q) { return honest(table, q); };
        agent.stall_after = 1;
        auto r = ask(io, agent.port(), request(1), 200ms);
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::Contains("silent for 200 ms (1 chunks taken)"));
    }
    SECTION("nobody listening") {
        const auto port = agent.port();
        agent.acceptor.close();
        auto r = ask(io, port, request(1));
        CHECK_FALSE(r.ok());
        CHECK_THAT(r.error, Catch::Contains("connect"));
    }
}

TEST_CASE("the agent answers a restore with its handler's outcomes, for that restore; without one, none restored",
          "[shadow][io][restore]") {
    asio::io_context io;
    shadow_server server(io, config({vip}), serving(entries(1)));
    server.start();
    const auto port = server.port();
    shadow::restore asked{0xc612000c, {}};
    for (std::uint16_t p : {40000, 40001}) {
        shadow::restore_conn c;
        c.params.client_addr = 0xc612000a;
        c.params.client_port = p;
        c.params.server_addr = vip;
        c.params.server_port = 2049;
        asked.conns.push_back(c);
    }
    const auto frame = [&](std::uint64_t seq) { return shadow::seal({gateway, 1, seq, now_ms(), asked}, the_key); };

    auto none = shadow::open_restored(raw_exchange(io, port, frame(1)), the_key, node, {1, 1}, 2);
    REQUIRE(std::holds_alternative<shadow::restored>(none));
    for (const auto& o : std::get<shadow::restored>(none).outcomes) {
        CHECK_FALSE(o.restored);
        CHECK(o.why == "this agent carries no connection on (no --restore-service)");
    }

    std::vector<std::uint16_t> handled;
    server.on_restore([&](const shadow::restore& r, std::function<void(shadow::restored)> done) {
        shadow::restored out;
        for (const auto& c : r.conns) {
            handled.push_back(c.params.client_port);
            out.outcomes.push_back({c.params.client_addr, c.params.client_port, c.params.client_port == 40000, "x"});
        }
        asio::post(io, [done, out] { done(out); });  // later, as a restore's answer comes
    });
    auto some = shadow::open_restored(raw_exchange(io, port, frame(2)), the_key, node, {1, 2}, 2);
    REQUIRE(std::holds_alternative<shadow::restored>(some));
    CHECK(handled == std::vector<std::uint16_t>{40000, 40001});
    CHECK(std::get<shadow::restored>(some).outcomes[0].restored);
    CHECK_FALSE(std::get<shadow::restored>(some).outcomes[1].restored);
    // The same restore again is a replay: refused, never handled twice.
    CHECK(raw_exchange(io, port, frame(2)).empty());
    CHECK(handled.size() == 2);
    CHECK(server.queries().count(shadow::refusal::replayed) == 1);
    CHECK(server.counters().restores == 2);
}
