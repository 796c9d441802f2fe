#include "control/controld/gw_link.hpp"

#include <array>
#include <deque>
#include <map>

#include <fmt/format.h>

namespace cg::control {

namespace asio = boost::asio;
namespace capi = common::api;
using stream = asio::local::stream_protocol;

namespace {

gw_answer failure(link_error e, std::string why) { return {std::nullopt, e, std::move(why)}; }

}  // namespace

/// Lives as long as the link or any of its pending operations (each holds a
/// shared_ptr); `_shut` tells those that outlive the link to do nothing.
struct gw_link::impl : std::enable_shared_from_this<impl> {
    /// One connection; a new one after each failure. Handlers of an old one
    /// see that it is no longer `conn` and stop.
    struct connection {
        explicit connection(asio::io_context& io) : sock(io) {}
        stream::socket sock;
        bool open = false;  ///< connected (else connecting)
        std::array<std::uint8_t, capi::header_size> head{};
        std::vector<std::uint8_t> payload;
        std::deque<std::shared_ptr<const std::vector<std::uint8_t>>> out;  ///< frames; the front one is being written
    };
    struct request_state {
        request_state(asio::io_context& io, capi::request r, handler h) : req(std::move(r)), done(std::move(h)), timer(io) {}
        capi::request req;
        handler done;
        asio::steady_timer timer;  ///< the deadline
        bool sent = false;         ///< on the connection, counted in `in_flight`
    };

    impl(asio::io_context& io, options o) : io(io), opt(std::move(o)) {}

    asio::io_context& io;
    options opt;
    std::shared_ptr<connection> conn;
    std::uint32_t last_seq = 0;
    std::map<std::uint32_t, std::unique_ptr<request_state>> open;  ///< by seq: queued or in flight
    std::deque<std::uint32_t> queue;                               ///< seqs not sent yet, in order
    std::size_t in_flight = 0;
    counts n;
    bool shut = false;

    void ask(capi::request r, handler done) {
        ++n.asked;
        if (open.size() >= opt.max_in_flight + opt.max_queued) {
            ++n.busy;
            return deliver(std::move(done), failure(link_error::busy,
                                                    fmt::format("too many requests for gatewayd at {} open ({} sent, {} waiting)",
                                                                opt.socket_path, in_flight, queue.size())));
        }
        if (++last_seq == 0) ++last_seq;  // seq 0 is the server's "no request" (a framing error)
        const std::uint32_t seq = last_seq;
        auto& st = *open.emplace(seq, std::make_unique<request_state>(io, std::move(r), std::move(done))).first->second;
        st.timer.expires_after(opt.timeout);
        st.timer.async_wait([self = shared_from_this(), seq](const boost::system::error_code& ec) {
            if (ec || self->shut || !self->open.contains(seq)) return;  // answered meanwhile
            ++self->n.timed_out;
            self->finish(seq, failure(link_error::timeout, fmt::format("gatewayd at {} did not answer within {} ms",
                                                                       self->opt.socket_path, self->opt.timeout.count())));
        });
        queue.push_back(seq);
        pump();
    }

    /// Calls `done` from the io_context, unless the link is gone by then.
    void deliver(handler done, gw_answer a) {
        asio::post(io, [w = weak_from_this(), done = std::move(done), a = std::move(a)]() mutable {
            if (auto self = w.lock(); self && !self->shut) done(std::move(a));
        });
    }

    /// Completes request `seq`; then sends what waits, unless `then_pump` is
    /// false (a batch of failures: nothing should go out between two).
    void finish(std::uint32_t seq, gw_answer a, bool then_pump = true) {
        const auto it = open.find(seq);
        if (it == open.end()) return;
        std::unique_ptr<request_state> st = std::move(it->second);
        open.erase(it);
        st->timer.cancel();
        if (st->sent)
            --in_flight;
        else
            std::erase(queue, seq);
        deliver(std::move(st->done), std::move(a));
        if (then_pump) pump();
    }

    /// Sends what the window allows; connects first if need be.
    void pump() {
        if (shut || queue.empty()) return;
        if (!conn) return connect();
        if (!conn->open) return;  // connecting
        while (!queue.empty() && in_flight < opt.max_in_flight) {
            const std::uint32_t seq = queue.front();
            queue.pop_front();
            request_state& st = *open.at(seq);
            st.sent = true;
            ++in_flight;
            send(std::make_shared<const std::vector<std::uint8_t>>(capi::encode_request(st.req, seq)));
        }
    }

    void connect() {
        conn = std::make_shared<connection>(io);
        conn->sock.async_connect(stream::endpoint(opt.socket_path), [self = shared_from_this(), c = conn](
                                                                        const boost::system::error_code& ec) {
            if (self->shut || self->conn != c) return;
            if (ec) {
                ++self->n.connect_failures;
                self->conn.reset();
                const bool absent =
                    ec == boost::system::errc::no_such_file_or_directory || ec == asio::error::connection_refused;
                // Nothing can be sent: every queued request fails now, not at its deadline.
                self->fail_queued(link_error::unreachable,
                                  fmt::format("cannot connect to gatewayd at {}: {}{}", self->opt.socket_path,
                                              ec.message(), absent ? " (is gatewayd running?)" : ""));
                return;
            }
            ++self->n.connects;
            c->open = true;
            self->read_header(c);
            self->pump();
        });
    }

    void fail_queued(link_error e, const std::string& why) {
        while (!queue.empty()) finish(queue.front(), failure(e, why), false);
    }

    /// The connection is unusable: the requests sent on it fail; queued
    /// ones go out on a new connection, unless `keep_queued` is false.
    void drop(const std::string& why, bool keep_queued = true) {
        if (conn) {
            boost::system::error_code ignored;
            conn->sock.close(ignored);
            conn.reset();
            ++n.lost;
        }
        std::vector<std::uint32_t> failing;
        for (const auto& [seq, st] : open)
            if (st->sent || !keep_queued) failing.push_back(seq);
        for (std::uint32_t seq : failing) finish(seq, failure(link_error::lost, why), false);
        pump();
    }

    void send(std::shared_ptr<const std::vector<std::uint8_t>> frame) {
        conn->out.push_back(std::move(frame));
        if (conn->out.size() == 1) write_front(conn);
    }

    void write_front(const std::shared_ptr<connection>& c) {
        // The frame is held by the handler: it outlives a close of the connection.
        asio::async_write(c->sock, asio::buffer(*c->out.front()),
                          [self = shared_from_this(), c, frame = c->out.front()](const boost::system::error_code& ec,
                                                                                 std::size_t) {
                              if (self->shut || self->conn != c) return;
                              if (ec)
                                  return self->drop(
                                      fmt::format("lost gatewayd at {}: {}", self->opt.socket_path, ec.message()));
                              c->out.pop_front();
                              if (!c->out.empty()) self->write_front(c);
                          });
    }

    void read_header(const std::shared_ptr<connection>& c) {
        asio::async_read(c->sock, asio::buffer(c->head), [self = shared_from_this(), c](const boost::system::error_code& ec,
                                                                                        std::size_t) {
            if (self->shut || self->conn != c) return;
            if (ec)
                return self->drop(ec == asio::error::eof
                                      ? fmt::format("gatewayd at {} closed the connection", self->opt.socket_path)
                                      : fmt::format("lost gatewayd at {}: {}", self->opt.socket_path, ec.message()));
            capi::frame_header h;
            if (auto why = capi::decode_header(c->head, h))
                return self->drop(fmt::format("bad reply from gatewayd at {}: {}", self->opt.socket_path, *why));
            c->payload.resize(h.length);
            self->read_payload(c, h);
        });
    }

    void read_payload(const std::shared_ptr<connection>& c, capi::frame_header h) {
        asio::async_read(c->sock, asio::buffer(c->payload), [self = shared_from_this(), c, h](
                                                                const boost::system::error_code& ec, std::size_t) {
            if (self->shut || self->conn != c) return;
            if (ec) return self->drop(fmt::format("lost gatewayd at {}: {}", self->opt.socket_path, ec.message()));
            self->on_reply(h, c->payload);
            if (self->conn == c) self->read_header(c);
        });
    }

    void on_reply(const capi::frame_header& h, std::span<const std::uint8_t> payload) {
        const auto it = open.find(h.seq);
        if (it == open.end() || !it->second->sent) {
            ++n.late_replies;  // its request timed out (or a seq gatewayd made up): nobody's
            return;
        }
        auto decoded = capi::decode_reply(h.type, payload);
        if (auto* why = std::get_if<std::string>(&decoded))
            return finish(h.seq, failure(link_error::bad_reply,
                                         fmt::format("bad reply from gatewayd at {}: {}", opt.socket_path, *why)));
        ++n.answered;
        finish(h.seq, {std::get<capi::reply>(std::move(decoded)), link_error::none, {}});
    }

    void reset(const std::string& why) { drop(why, false); }

    void shutdown() {
        shut = true;
        if (conn) {
            boost::system::error_code ignored;
            conn->sock.close(ignored);
        }
        conn.reset();
        open.clear();  // their timers go with them
        queue.clear();
        in_flight = 0;
    }
};

gw_link::gw_link(asio::io_context& io, options opt) : _impl(std::make_shared<impl>(io, std::move(opt))) {}
gw_link::~gw_link() { _impl->shutdown(); }

void gw_link::ask(capi::request r, handler done) { _impl->ask(std::move(r), std::move(done)); }
void gw_link::reset(const std::string& why) { _impl->reset(why); }
std::size_t gw_link::in_flight() const { return _impl->in_flight; }
std::size_t gw_link::queued() const { return _impl->queue.size(); }
const gw_link::counts& gw_link::counters() const { return _impl->n; }
const gw_link::options& gw_link::config() const { return _impl->opt; }

}  // namespace cg::control
