// HTTP/1.x heads as the mirror parser reads them: where a head ends, what it
// says of its body (RFC 9112 6.3), the heads a strict server refuses, and the
// resynchronisation probe.
#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "dataplane/mirror/http1.hpp"

using namespace cg::dp::mirror;
using namespace cg::dp::mirror::http1;

namespace {

constexpr direction C = direction::to_server, S = direction::to_client;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

struct parsed {
    std::optional<error> e;
    head h;
};

parsed parse(std::string_view text, direction d) {
    parsed p;
    p.e = parse_head(as_bytes(text), d, p.h);
    return p;
}

}  // namespace

TEST_CASE("http1: the end of a head, however its bytes come", "[mirror][http1]") {
    const std::string head = "\r\nGET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    const std::string after = "GET /b HTTP/1.1\r\n";
    const std::string wire = head + after;
    for (std::size_t cut = 1; cut < wire.size(); ++cut) {
        head_scanner s;
        const auto first = s.scan(as_bytes(std::string_view(wire).substr(0, cut)));
        std::size_t end = 0;
        if (first) {
            end = *first;
        } else {
            const auto second = s.scan(as_bytes(std::string_view(wire).substr(cut)));
            REQUIRE(second);
            end = cut + *second;
        }
        CHECK(end == head.size());
    }
    head_scanner bare;
    CHECK(bare.scan(as_bytes("GET / HTTP/1.0\nA: b\n\nrest")) == std::size_t{21});
    head_scanner open;
    CHECK_FALSE(open.scan(as_bytes("GET / HTTP/1.1\r\nHost: x\r\n")));
    head_scanner trailer(true);
    CHECK(trailer.scan(as_bytes("\r\nnext")) == std::size_t{2});
    // A line of CRs alone is empty, even when its bytes come one by one.
    const std::string crs = "GET / HTTP/1.1\r\nA: b\r\n\r\r\n";
    head_scanner whole;
    CHECK(whole.scan(as_bytes(crs + "rest")) == crs.size());
    head_scanner bytewise;
    std::optional<std::size_t> at;
    std::size_t i = 0;
    for (; i < crs.size() && !at; ++i) at = bytewise.scan(as_bytes(std::string_view(crs).substr(i, 1)));
    CHECK(at == std::size_t{1});
    CHECK(i == crs.size());
}

TEST_CASE("http1: what a request's head says of its body", "[mirror][http1]") {
    struct row {
        std::string_view text;
        method verb;
        body kind;
        std::uint64_t length;
    };
    const row rows[] = {
        {"GET / HTTP/1.1\r\nHost: a\r\n\r\n", method::get, body::none, 0},
        {"HEAD /x HTTP/1.1\r\n\r\n", method::head, body::none, 0},
        {"POST /f HTTP/1.1\r\nContent-Length: 12\r\n\r\n", method::post, body::length, 12},
        {"PUT /f HTTP/1.1\r\ncontent-length:  7 \r\n\r\n", method::put, body::length, 7},
        {"POST /f HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", method::post, body::length, 5},
        {"POST /f HTTP/1.1\r\nContent-Length: 0\r\n\r\n", method::post, body::none, 0},
        {"POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", method::post, body::chunked, 0},
        // Transfer-Encoding wins over Content-Length.
        {"POST /f HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", method::post,
         body::chunked, 0},
        {"OPTIONS * HTTP/1.1\r\n\r\n", method::options, body::none, 0},
        {"CONNECT example.org:443 HTTP/1.1\r\n\r\n", method::connect, body::none, 0},
        {"PROPFIND /d HTTP/1.1\r\n\r\n", method::other, body::none, 0},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const parsed p = parse(r.text, C);
        REQUIRE_FALSE(p.e);
        CHECK(p.h.verb == r.verb);
        CHECK(p.h.kind == r.kind);
        CHECK(p.h.length == r.length);
        CHECK(p.h.head_len == r.text.size());
    }
    CHECK(parse("GET / HTTP/1.0\r\n\r\n", C).h.close);
    CHECK_FALSE(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", C).h.close);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: TE, close\r\n\r\n", C).h.close);
    CHECK(parse("GET /chat HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", C).h.upgrade);
    CHECK(parse("GET /chat HTTP/1.1\r\nUPGRADE: h2c\r\n\r\n", C).h.upgrade);
    // Names of the same lengths as those that matter, and what they say, change nothing.
    const parsed others = parse("POST / HTTP/1.1\r\nUser-Agent: close\r\nAccept-Charset: 12\r\n"
                                "If-Modified-Since: chunked\r\nReferer: x\r\nTransfer-Encodings: gzip\r\n\r\n", C);
    REQUIRE_FALSE(others.e);
    CHECK_FALSE(others.h.close);
    CHECK_FALSE(others.h.upgrade);
    CHECK(others.h.kind == body::none);
}

TEST_CASE("http1: heads a strict server refuses", "[mirror][http1]") {
    struct row {
        std::string_view text;
        direction d;
        error e;
    };
    const row rows[] = {
        {"GET /\r\n\r\n", C, error::bad_start_line},
        {"GET  / HTTP/1.1\r\n\r\n", C, error::bad_start_line},
        {"G@T / HTTP/1.1\r\n\r\n", C, error::bad_start_line},
        {"GET / HTTP/2.0\r\n\r\n", C, error::bad_version},
        {"GET / http/1.1\r\n\r\n", C, error::bad_version},
        {"GET / HTTP/1.1\r\nHost : a\r\n\r\n", C, error::bad_field},
        {"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", C, error::bad_field},
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", C, error::bad_field},
        {"GET / HTTP/1.1\r\n: empty name\r\n\r\n", C, error::bad_field},
        {"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", C, error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", C, error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", C, error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n", C, error::bad_content_length},
        {"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", C, error::bad_content_length},
        {"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", C, error::bad_transfer_encoding},
        {"HTTP/1.1 20 OK\r\n\r\n", S, error::bad_start_line},
        {"HTTP/1.1 200OK\r\n\r\n", S, error::bad_start_line},
        {"HTTP/1.1 099 Low\r\n\r\n", S, error::bad_start_line},
        {"HTTP/3.0 200 OK\r\n\r\n", S, error::bad_version},
        {"SSH-2.0-OpenSSH\r\n\r\n", S, error::bad_start_line},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const parsed p = parse(r.text, r.d);
        REQUIRE(p.e);
        CHECK(error_names[static_cast<std::size_t>(*p.e)] == error_names[static_cast<std::size_t>(r.e)]);
    }
}

TEST_CASE("http1: a response's body, given its request", "[mirror][http1]") {
    struct row {
        std::string_view text;
        method request;
        body kind;
    };
    const row rows[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method::get, body::length},
        {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method::head, body::none},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", method::get, body::chunked},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", method::get, body::until_close},
        {"HTTP/1.0 200 OK\r\n\r\n", method::get, body::until_close},
        {"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n", method::delete_, body::none},
        {"HTTP/1.1 304 Not Modified\r\n\r\n", method::get, body::none},
        {"HTTP/1.1 100 Continue\r\n\r\n", method::post, body::none},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", method::get, body::tunnel},
        {"HTTP/1.1 200 Connection established\r\n\r\n", method::connect, body::tunnel},
        {"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n", method::connect, body::none},
        {"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n", method::get, body::length},
    };
    for (const row& r : rows) {
        INFO(r.text);
        const parsed p = parse(r.text, S);
        REQUIRE_FALSE(p.e);
        CHECK(response_body(p.h, r.request) == r.kind);
    }
    CHECK(parse("HTTP/1.1 100 Continue\r\n\r\n", S).h.interim());
    CHECK(parse("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n", S).h.interim());
    CHECK_FALSE(parse("HTTP/1.1 101 Switching Protocols\r\n\r\n", S).h.interim());
    CHECK(parse("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", S).h.status == 404);
}

TEST_CASE("http1: the probe for a head's start", "[mirror][http1]") {
    const auto at = [](std::string_view s, direction d) { return probe_start(as_bytes(s).data(), s.size(), d); };
    CHECK(at("GET /index.html HTTP/1.1", C) == probe::yes);
    CHECK(at("DELETE /x", C) == probe::yes);
    CHECK(at("OPTIONS * HTTP/1.1", C) == probe::yes);
    CHECK(at("GE", C) == probe::need_more);
    CHECK(at("OPTION", C) == probe::need_more);
    CHECK(at("GET/", C) == probe::no);
    CHECK(at("get / HTTP/1.1", C) == probe::no);
    CHECK(at("HTTP/1.1 200 OK", C) == probe::no);
    CHECK(at("HTTP/1.1 200 OK", S) == probe::yes);
    CHECK(at("HTTP/1.0 404", S) == probe::yes);
    CHECK(at("HTTP/1.1 2", S) == probe::need_more);
    CHECK(at("HTT", S) == probe::need_more);
    CHECK(at("HTTP/2 200", S) == probe::no);
    CHECK(at("HTTP/1.1 OK!", S) == probe::no);
    CHECK(at("GET / HTTP/1.1", S) == probe::no);
}
