// controld's link to gatewayd against real Unix socket servers in the test
// (a stand-in gatewayd on its own thread): one that answers late, one that
// accepts and never answers, none at all. Meanwhile a 10 ms timer on the
// link's io_context must never fire more than a tick late, and every request
// must end by its deadline (within a tick), with its own reply or an error.
#include <catch2/catch.hpp>

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "control/controld/gw_link.hpp"
#include "support/loop_watch.hpp"

using namespace cg::control;
using namespace std::chrono_literals;
namespace asio = boost::asio;
namespace capi = cg::common::api;
using stream = asio::local::stream_protocol;
using steady = std::chrono::steady_clock;
using cg::test::loop_watch;
using cg::test::tick_recorder;

namespace {

constexpr auto tick = 10ms;

std::string socket_path(const char* what) { return fmt::format("/tmp/cg-gwlink-{}-{}.sock", ::getpid(), what); }

double ms(steady::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

/// A stand-in for gatewayd, on its own thread and io_context: reads every
/// request as it comes and answers hello{client} with ok{"for <client>"}
/// after delay(client), or never when delay gives nullopt.
class fake_gatewayd {
public:
    using delay_fn = std::function<std::optional<std::chrono::milliseconds>(const std::string& client)>;

    fake_gatewayd(std::string path, delay_fn delay) : _path(std::move(path)), _delay(std::move(delay)) {
        std::filesystem::remove(_path);
        _acceptor.open();
        _acceptor.bind(stream::endpoint(_path));
        _acceptor.listen();
        accept();
        _thread = std::thread([this] {
            loop_watch::ordinary_thread();
            _io.run();
        });
    }
    ~fake_gatewayd() {
        _io.stop();
        _thread.join();
        std::filesystem::remove(_path);
    }  // then the io_context goes, closing every connection

    /// Closes the socket and every connection, from its own thread: returns at once.
    void hang_up() {
        asio::post(_io, [this] {
            _acceptor.close();
            for (auto& w : _conns)
                if (auto c = w.lock()) c->sock.close();
        });
    }

    int received() const { return _received; }
    int most_open() const { return _most_open; }  ///< requests received and not answered, at most

private:
    struct conn {
        explicit conn(stream::socket s) : sock(std::move(s)) {}
        stream::socket sock;
        std::uint8_t head[capi::header_size];
        std::vector<std::uint8_t> payload;
    };

    void accept() {
        _acceptor.async_accept([this](const boost::system::error_code& ec, stream::socket s) {
            if (ec) return;
            auto c = std::make_shared<conn>(std::move(s));
            _conns.push_back(c);
            read(c);
            accept();
        });
    }
    void read(std::shared_ptr<conn> c) {
        asio::async_read(c->sock, asio::buffer(c->head), [this, c](const boost::system::error_code& ec, std::size_t) {
            capi::frame_header h;
            if (ec || capi::decode_header(c->head, h)) return;
            c->payload.resize(h.length);
            asio::async_read(c->sock, asio::buffer(c->payload), [this, c, h](const boost::system::error_code& ec2,
                                                                             std::size_t) {
                if (ec2) return;
                // (No Catch assertions on this thread: the test checks what the link got.)
                auto req = capi::decode_request(h.type, c->payload);
                const auto* r = std::get_if<capi::request>(&req);
                const auto* hello = r ? std::get_if<capi::hello_req>(r) : nullptr;
                if (!hello) return;
                const std::string client = hello->client;
                ++_received;
                _most_open = std::max(_most_open.load(), ++_open);
                if (auto d = _delay(client)) {
                    auto t = std::make_shared<asio::steady_timer>(_io, *d);
                    t->async_wait([this, c, t, seq = h.seq, client](const boost::system::error_code&) {
                        --_open;
                        boost::system::error_code ignored;
                        asio::write(c->sock, asio::buffer(capi::encode_reply(capi::ok_rep{"for " + client}, seq)),
                                    ignored);
                    });
                }
                read(c);
            });
        });
    }

    std::string _path;
    delay_fn _delay;
    asio::io_context _io;
    stream::acceptor _acceptor{_io};
    std::thread _thread;
    std::vector<std::weak_ptr<conn>> _conns;  ///< on its thread only
    std::atomic<int> _received{0}, _open{0}, _most_open{0};
};

/// Runs the io_context until `done()` or `limit`; returns done().
template <class F>
bool run_until(asio::io_context& io, F done, steady::duration limit = 10s) {
    const auto end = steady::now() + limit;
    while (!done() && steady::now() < end) io.run_one_for(tick);
    return done();
}

/// One request's end: its answer, when it was asked and how long it took.
struct outcome {
    std::optional<gw_answer> answer;
    steady::time_point asked;
    steady::duration took{};
};

std::shared_ptr<outcome> ask(gw_link& link, const std::string& client) {
    auto o = std::make_shared<outcome>();
    o->asked = steady::now();
    link.ask(capi::hello_req{client}, [o](gw_answer a) {
        o->took = steady::now() - o->asked;
        o->answer = std::move(a);
    });
    return o;
}

/// Asks r0, r1... r<n-1>.
std::vector<std::shared_ptr<outcome>> ask_many(gw_link& link, int n) {
    std::vector<std::shared_ptr<outcome>> all;
    for (int i = 0; i < n; ++i) all.push_back(ask(link, fmt::format("r{}", i)));
    return all;
}

bool all_answered(const std::vector<std::shared_ptr<outcome>>& all) {
    return std::all_of(all.begin(), all.end(), [](const auto& o) { return o->answer.has_value(); });
}

std::string reply_text(const outcome& o) {
    const auto* ok = o.answer ? o.answer->as<capi::ok_rep>() : nullptr;
    return ok ? ok->message : "(no reply: " + (o.answer ? o.answer->why : std::string("not done")) + ")";
}

/// Worst lateness over every test here, the CPU's stalls included or not.
steady::duration worst_raw{0}, worst_own{0}, worst_stall{0};

/// The ticker beside the link never fired more than a tick late of its own.
void check_kept_time(const tick_recorder& t, const loop_watch& watch) {
    worst_raw = std::max(worst_raw, t.worst_raw());
    worst_own = std::max(worst_own, t.worst_own(watch));
    worst_stall = std::max(worst_stall, watch.worst_stall());
    CHECK(t.ticks() > 0);
    INFO("raw " << ms(t.worst_raw()) << " ms; the CPU stalled up to " << ms(watch.worst_stall()) << " ms");
    const double own_ms = ms(t.worst_own(watch));
    CHECK(own_ms < ms(tick));
}

/// A request ended by its deadline, within a tick of the loop's own time.
void check_on_time(const outcome& o, std::chrono::milliseconds deadline, const loop_watch& watch) {
    INFO("it took " << ms(o.took) << " ms");
    CHECK(o.took >= deadline);
    const double late_ms = ms(watch.own(o.asked + deadline, o.asked + o.took));
    CHECK(late_ms < ms(tick));
}

}  // namespace

TEST_CASE("gw_link: a slow gatewayd's replies reach their own requests; a late one reaches none", "[controld][link]") {
    const std::string path = socket_path("slow");
    fake_gatewayd gw(path, [](const std::string& client) -> std::optional<std::chrono::milliseconds> {
        if (client == "late") return 800ms;  // after its deadline, while "next" waits for its own
        if (client == "next") return 400ms;
        return 20ms;
    });
    asio::io_context io;
    gw_link link(io, {path, 500ms});
    loop_watch watch;
    tick_recorder t(io, tick);

    auto late = ask(link, "late");
    auto a = ask(link, "a");
    auto b = ask(link, "b");
    REQUIRE(run_until(io, [&] { return a->answer && b->answer; }));
    CHECK(reply_text(*a) == "for a");
    CHECK(reply_text(*b) == "for b");
    CHECK_FALSE(late->answer);

    REQUIRE(run_until(io, [&] { return late->answer.has_value(); }));
    CHECK(late->answer->error == link_error::timeout);
    CHECK_THAT(late->answer->why, Catch::Contains("did not answer within 500 ms"));
    check_on_time(*late, 500ms, watch);

    // "next" is in flight when the reply to "late" comes (at 800 ms): that
    // reply must go to nobody, and "next" must get its own.
    auto next = ask(link, "next");
    REQUIRE(run_until(io, [&] { return next->answer.has_value(); }));
    CHECK(link.counters().late_replies == 1);
    CHECK(reply_text(*next) == "for next");
    CHECK(link.counters().answered == 3);
    CHECK(link.counters().timed_out == 1);
    check_kept_time(t, watch);
}

TEST_CASE("gw_link: at most max_in_flight requests are at gatewayd at once; the rest wait their turn",
          "[controld][link]") {
    const std::string path = socket_path("window");
    fake_gatewayd gw(path, [](const std::string&) { return std::optional(20ms); });
    asio::io_context io;
    gw_link link(io, {path, 5s, 3, 100});
    loop_watch watch;
    tick_recorder t(io, tick);

    auto all = ask_many(link, 12);
    CHECK(link.in_flight() + link.queued() == 12);
    CHECK(link.in_flight() <= 3);
    REQUIRE(run_until(io, [&] { return all_answered(all); }));
    for (int i = 0; i < 12; ++i) CHECK(reply_text(*all[i]) == fmt::format("for r{}", i));
    CHECK(gw.received() == 12);
    CHECK(gw.most_open() <= 3);
    check_kept_time(t, watch);
}

TEST_CASE("gw_link: a gatewayd that accepts and never answers: each request times out on time, the window holds",
          "[controld][link]") {
    const std::string path = socket_path("mute");
    fake_gatewayd gw(path, [](const std::string&) { return std::nullopt; });
    asio::io_context io;
    gw_link link(io, {path, 200ms, 2, 3});
    loop_watch watch;
    tick_recorder t(io, tick);

    auto all = ask_many(link, 6);
    // Two sent, three waiting, the sixth refused at once.
    REQUIRE(run_until(io, [&] { return gw.received() == 2 && all[5]->answer.has_value(); }));
    CHECK(link.in_flight() == 2);
    CHECK(link.queued() == 3);
    CHECK(all[5]->answer->error == link_error::busy);
    CHECK(link.counters().busy == 1);
    for (int i = 0; i < 5; ++i) CHECK_FALSE(all[i]->answer);

    REQUIRE(run_until(io, [&] { return all_answered(all); }));
    for (int i = 0; i < 5; ++i) {
        INFO("request " << i);
        CHECK(all[i]->answer->error == link_error::timeout);
        check_on_time(*all[i], 200ms, watch);
    }
    CHECK(link.in_flight() == 0);
    CHECK(link.queued() == 0);
    CHECK(gw.received() <= 5);

    // A reset (gatewayd was started again) fails what is open at once.
    auto open = ask(link, "open");
    REQUIRE(run_until(io, [&] { return link.in_flight() == 1; }));
    link.reset("gatewayd was started again");
    REQUIRE(run_until(io, [&] { return open->answer.has_value(); }));
    CHECK(open->answer->error == link_error::lost);
    CHECK(open->answer->why == "gatewayd was started again");
    CHECK(open->took < 200ms);
    check_kept_time(t, watch);
}

TEST_CASE("gw_link: no gatewayd: requests fail at once with the reason; one that comes up is reached",
          "[controld][link]") {
    const std::string path = socket_path("absent");
    std::filesystem::remove(path);
    asio::io_context io;
    gw_link link(io, {path, 300ms});
    loop_watch watch;
    tick_recorder t(io, tick);

    // Asked again as soon as answered, for 20 ticks: a dead gatewayd under a
    // controld that keeps trying.
    std::vector<std::shared_ptr<outcome>> all;
    std::function<void()> again = [&] {
        all.push_back(ask(link, fmt::format("r{}", all.size())));
        link.ask(capi::hello_req{"and"}, [&](const gw_answer&) { again(); });
    };
    again();
    REQUIRE(run_until(io, [&] { return t.ticks() >= 20; }));
    again = [] {};
    REQUIRE(run_until(io, [&] { return all_answered(all); }));
    // Counted, not checked one by one: thousands of assertions (printed with
    // -s) would hold up the loop and the ticker beside it.
    CHECK(all.size() > 20);
    CHECK(std::count_if(all.begin(), all.end(), [](const auto& o) {
              return o->answer->error == link_error::unreachable &&
                     o->answer->why.find("is gatewayd running?") != std::string::npos;
          }) == static_cast<std::ptrdiff_t>(all.size()));
    steady::duration longest{0};
    for (const auto& o : all) longest = std::max(longest, o->took);
    CHECK(longest < 300ms);  // before the deadline: nothing to wait for
    CHECK(link.counters().connect_failures > 20);

    fake_gatewayd gw(path, [](const std::string& client) -> std::optional<std::chrono::milliseconds> {
        if (client == "held") return 10s;
        return 1ms;
    });
    auto up = ask(link, "up");
    REQUIRE(run_until(io, [&] { return up->answer.has_value(); }));
    CHECK(reply_text(*up) == "for up");

    auto held = ask(link, "held");
    REQUIRE(run_until(io, [&] { return gw.received() == 2; }));
    gw.hang_up();  // gatewayd goes away with "held" unanswered
    REQUIRE(run_until(io, [&] { return held->answer.has_value(); }));
    CHECK(held->answer->error == link_error::lost);
    CHECK_THAT(held->answer->why, Catch::Contains("closed the connection"));
    CHECK(watch.own(held->asked, held->asked + held->took) < 300ms);
    check_kept_time(t, watch);

    // What the report quotes: `unit_tests "[link]" -s` shows it.
    INFO("over these tests, a 10 ms timer beside the link fired late by at most " << ms(worst_own)
         << " ms of its own (" << ms(worst_raw) << " ms with the CPU's stalls, the longest " << ms(worst_stall)
         << " ms)");
    const double own_ms = ms(worst_own);
    CHECK(own_ms < ms(tick));
}
