// The record framer's HTTP/1.x framing: pipelined requests and responses of
// every body kind come out as records of exactly their bytes, however the
// stream is cut; a response is framed by its request (HEAD); a gap inside a
// body drops that message only; a gap over a head is resynchronised from;
// a bad chunk loses the framing; after a 101 nothing is framed.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

#include "dataplane/mirror/record_framer.hpp"

using namespace cg::dp::mirror;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct seen {
    std::string text;
    std::uint32_t total_len;
    std::uint64_t start, end;
    bool whole;
    http1::body kind;
};

struct collector final : record_sink {
    std::vector<seen> records;
    std::vector<http1::method> heads;
    record_framer* answers = nullptr;  ///< the server's framer: told each request's method
    void on_record(const record& r) noexcept override {
        records.push_back({std::string(r.bytes.begin(), r.bytes.end()), r.total_len, r.start, r.end, r.whole(),
                           r.http ? r.http->kind : http1::body::none});
    }
    void on_http_head(const http1::head& h) noexcept override {
        heads.push_back(h.verb);
        if (answers) answers->http_expect(h.verb);
    }
};

framer_config http_cfg(direction d, std::uint32_t cap = 64 * 1024) {
    framer_config c;
    c.kind = framing::http1;
    c.dir = d;
    c.cap = cap;
    c.prefix = 64;
    return c;
}

const std::string get1 = "GET /a HTTP/1.1\r\nHost: n\r\n\r\n";
const std::string post_cl = "POST /f HTTP/1.1\r\nHost: n\r\nContent-Length: 11\r\n\r\nhello world";
const std::string post_chunked =
    "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
    "5;name=v\r\nhello\r\n"
    "A\r\n0123456789\r\n"
    "0\r\nX-Sum: 1\r\n\r\n";
const std::string get2 = "\r\nGET /b HTTP/1.1\r\n\r\n";  // a stray CRLF before it, as RFC 9112 2.2 allows

}  // namespace

TEST_CASE("http framer: pipelined requests of every body kind, every cut", "[mirror][record_framer][http1]") {
    const std::vector<std::string> msgs = {get1, post_cl, post_chunked, get2};
    std::string wire;
    for (const std::string& m : msgs) wire += m;
    for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{17}, wire.size()}) {
        INFO("pieces of " << step);
        record_framer f(http_cfg(C));
        collector k;
        for (std::size_t at = 0; at < wire.size(); at += step)
            f.feed(as_bytes(std::string_view(wire).substr(at, step)), k);
        REQUIRE(k.records.size() == msgs.size());
        std::uint64_t pos = 0;
        for (std::size_t i = 0; i < msgs.size(); ++i) {
            CHECK(k.records[i].text == msgs[i]);
            CHECK(k.records[i].total_len == msgs[i].size());
            CHECK(k.records[i].start == pos);
            pos += msgs[i].size();
            CHECK(k.records[i].end == pos);
            CHECK(k.records[i].whole);
        }
        CHECK(k.heads == std::vector{http1::method::get, http1::method::post, http1::method::post, http1::method::get});
        CHECK(f.settled() == wire.size());
        CHECK(f.counters().records_whole == msgs.size());
    }
}

TEST_CASE("http framer: a request in progress is not settled", "[mirror][record_framer][http1]") {
    record_framer f(http_cfg(C));
    collector k;
    f.feed(as_bytes(get1), k);
    f.feed(as_bytes(std::string_view(post_cl).substr(0, post_cl.size() - 3)), k);
    CHECK(k.records.size() == 1);
    CHECK(f.settled() == get1.size());
    CHECK(f.partial_len() == post_cl.size() - 3);
    f.feed(as_bytes(std::string_view(post_cl).substr(post_cl.size() - 3)), k);
    CHECK(k.records.size() == 2);
    CHECK(f.settled() == get1.size() + post_cl.size());
}

TEST_CASE("http framer: responses framed by their requests", "[mirror][record_framer][http1]") {
    record_framer server(http_cfg(S));
    record_framer client(http_cfg(C));
    collector up, down;
    up.answers = &server;
    // HEAD's response announces 5 bytes it does not send; 100 Continue is
    // interim; 204 has no body; the last runs to the close.
    client.feed(as_bytes("HEAD /x HTTP/1.1\r\n\r\nPOST /p HTTP/1.1\r\nContent-Length: 2\r\n\r\nhiGET /n HTTP/1.1\r\n\r\n"
                         "DELETE /d HTTP/1.1\r\n\r\nGET /old HTTP/1.1\r\n\r\n"),
                up);
    REQUIRE(up.records.size() == 5);
    const std::vector<std::string> responses = {
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
        "HTTP/1.1 100 Continue\r\n\r\n",
        "HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 204 No Content\r\n\r\n",
        "HTTP/1.0 200 OK\r\n\r\nuntil the close",
    };
    std::string wire;
    for (const std::string& m : responses) wire += m;
    server.feed(as_bytes(wire), down);
    REQUIRE(down.records.size() == 5);  // the last one never ends: the stream has not closed
    for (std::size_t i = 0; i < 5; ++i) CHECK(down.records[i].text == responses[i]);
    CHECK(down.records[0].kind == http1::body::none);
    CHECK(down.records[2].kind == http1::body::chunked);
    CHECK(down.records[4].kind == http1::body::none);
    CHECK(server.settled() == wire.size() - responses[5].size());
}

TEST_CASE("http framer: a gap inside a body drops that message only", "[mirror][record_framer][http1]") {
    for (const std::string& lossy : {post_cl, post_chunked}) {
        INFO(lossy);
        record_framer f(http_cfg(C));
        collector k;
        f.feed(as_bytes(get1), k);
        // The lost bytes lie inside the body's data ("hello").
        const std::size_t at = lossy.find("hello") + 1;
        f.feed(as_bytes(std::string_view(lossy).substr(0, at)), k);
        f.gap(3);
        f.feed(as_bytes(std::string_view(lossy).substr(at + 3)), k);
        f.feed(as_bytes(get2), k);
        REQUIRE(k.records.size() == 2);
        CHECK(k.records[0].text == get1);
        CHECK(k.records[1].text == get2);
        CHECK(k.records[1].start == get1.size() + lossy.size());
        CHECK(f.counters().error(framer_error::gap_dropped_record) == 1);
        CHECK(f.counters().error(framer_error::gap_lost_sync) == 0);
    }
}

TEST_CASE("http framer: a gap over a head is resynchronised from at the next request", "[mirror][record_framer][http1]") {
    record_framer f(http_cfg(C));
    collector k;
    f.feed(as_bytes(std::string_view(get1).substr(0, 6)), k);
    f.gap(10);
    const std::string rest = get1.substr(16) + "xyz" + post_cl;
    f.feed(as_bytes(rest), k);
    REQUIRE(k.records.size() == 1);
    CHECK(k.records[0].text == post_cl);
    CHECK(k.records[0].start == get1.size() + 3);
    CHECK(f.counters().error(framer_error::gap_lost_sync) == 1);
    CHECK(f.counters().resyncs == 1);
    CHECK(f.in_sync());
}

TEST_CASE("http framer: what loses the framing, and is counted", "[mirror][record_framer][http1]") {
    struct row {
        std::string text;
        http1::error why;
        std::uint32_t cap;
    };
    const std::vector<row> rows = {
        {"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http1::error::bad_chunk, 65536},
        {"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", http1::error::bad_chunk, 65536},
        {"POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", http1::error::bad_chunk, 65536},
        {"GET / HTTP/1.1\r\nHost  : a\r\n\r\n", http1::error::bad_field, 65536},
        {"GET /" + std::string(200, 'a') + " HTTP/1.1\r\n\r\n", http1::error::head_too_long, 128},
    };
    for (const row& r : rows) {
        INFO(r.text);
        record_framer f(http_cfg(C, r.cap));
        collector k;
        f.feed(as_bytes(r.text), k);
        CHECK(k.records.empty());
        CHECK(f.counters().error(framer_error::bad_http) == 1);
        CHECK(f.counters().http[static_cast<std::size_t>(r.why)] == 1);
        CHECK_FALSE(f.in_sync());
        // It finds the next request.
        f.feed(as_bytes(get1), k);
        REQUIRE(k.records.size() == 1);
        CHECK(k.records[0].text == get1);
    }
}

TEST_CASE("http framer: a body longer than the buffer comes by its prefix", "[mirror][record_framer][http1]") {
    record_framer f(http_cfg(S, 256));
    collector k;
    const std::string big = "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'd');
    f.feed(as_bytes(big), k);
    f.feed(as_bytes("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\ne"), k);
    REQUIRE(k.records.size() == 2);
    CHECK_FALSE(k.records[0].whole);
    CHECK(k.records[0].total_len == big.size());
    CHECK(k.records[0].text == big.substr(0, 64));
    CHECK(k.records[1].whole);
    CHECK(f.counters().records_prefix == 1);
}

TEST_CASE("http framer: after 101 Switching Protocols nothing is framed", "[mirror][record_framer][http1]") {
    record_framer server(http_cfg(S));
    record_framer client(http_cfg(C));
    collector up, down;
    up.answers = &server;
    client.feed(as_bytes("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"), up);
    server.feed(as_bytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x05hello"), down);
    client.http_tunnel();
    client.feed(as_bytes("GET / HTTP/1.1\r\n\r\n"), up);  // websocket bytes that look like HTTP
    server.feed(as_bytes("HTTP/1.1 200 OK\r\n\r\n"), down);
    client.desync();  // a parser's refusal does not bring the framing back
    client.feed(as_bytes("GET / HTTP/1.1\r\n\r\n"), up);
    CHECK(up.records.size() == 1);
    REQUIRE(down.records.size() == 1);
    CHECK(down.records[0].kind == http1::body::tunnel);
    CHECK(server.position() == server.settled());
}

TEST_CASE("http framer: a head is too long at the same byte however it is cut", "[mirror][record_framer][http1]") {
    const std::string wire = "GET /" + std::string(300, 'a') + " HTTP/1.1\r\n\r\n" + get1;
    std::vector<std::uint64_t> skipped;
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{100}, wire.size()}) {
        record_framer f(http_cfg(C, 128));
        collector k;
        for (std::size_t at = 0; at < wire.size(); at += step)
            f.feed(as_bytes(std::string_view(wire).substr(at, step)), k);
        REQUIRE(k.records.size() == 1);
        CHECK(k.records[0].text == get1);
        CHECK(f.counters().http[static_cast<std::size_t>(http1::error::head_too_long)] == 1);
        skipped.push_back(f.counters().resync_skipped_bytes);
    }
    CHECK(skipped == std::vector<std::uint64_t>(4, wire.size() - get1.size() - 129));
}
