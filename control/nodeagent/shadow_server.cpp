#include "control/nodeagent/shadow_server.hpp"

#include <algorithm>
#include <chrono>

#include "common/log.hpp"

namespace cg::control {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
namespace clog = common::log;

namespace {

std::uint64_t now_ms() {
    return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
}

/// Logs the 1st, 2nd, 4th, 8th... of a kind: a flood of bad queries does not flood the log.
bool worth_logging(std::uint64_t n) { return (n & (n - 1)) == 0; }

}  // namespace

/// One connection: a query in, the answer out, closed.
class shadow_server::session : public std::enable_shared_from_this<session> {
public:
    session(shadow_server& s, tcp::socket sock)
        : _s(s), _alive(s._alive), _socket(std::move(sock)), _timer(s._io) {
        boost::system::error_code ec;
        _peer = _socket.remote_endpoint(ec);
        ++_s._sessions;
    }
    ~session() {
        if (*_alive) --_s._sessions;
    }

    void start() {
        arm();
        read_frame([this] { on_query(); });
    }

private:
    bool gone() const { return !*_alive || _closed; }

    void arm(std::chrono::milliseconds extra = std::chrono::milliseconds{0}) {
        _timer.expires_after(_s._cfg.io_timeout + extra);
        _timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
            if (ec || self->gone()) return;
            ++self->_s._counters.timeouts;
            if (worth_logging(self->_s._counters.timeouts))
                clog::warn("shadow query from {}: nothing for {} ms, closed ({} such so far)", self->peer(),
                           self->_s._cfg.io_timeout.count(), self->_s._counters.timeouts);
            self->close();
        });
    }

    void close() {
        if (_closed) return;
        _closed = true;
        _timer.cancel();
        boost::system::error_code ignored;
        _socket.shutdown(tcp::socket::shutdown_both, ignored);
        _socket.close(ignored);
    }

    std::string peer() const { return _peer.address().to_string() + ":" + std::to_string(_peer.port()); }

    void refuse(shadow::refused r) {
        const auto n = _s._receiver.count(r.why);
        if (worth_logging(n))
            clog::warn("shadow query from {} refused: {}: {} ({} such so far)", peer(), shadow::refusal_name(r.why),
                       r.detail, n);
        close();
    }

    /// The stream ended (or failed) before a whole query came.
    void cut_short(const boost::system::error_code& ec, std::size_t got) {
        if (gone()) return;
        refuse(_s._receiver.note(
            {shadow::refusal::truncated, fmt::format("the connection ended after {} bytes of a query ({})", got,
                                                     ec.message())}));
    }

    /// Reads one whole frame into _frame (its size checked from the header
    /// before the rest is read), then `then`.
    void read_frame(std::function<void()> then) {
        _frame.resize(shadow::header_size);
        asio::async_read(_socket, asio::buffer(_frame),
                         [self = shared_from_this(), then = std::move(then)](const boost::system::error_code& ec,
                                                                            std::size_t n) mutable {
                             self->on_header(ec, n, std::move(then));
                         });
    }

    void on_header(const boost::system::error_code& ec, std::size_t n, std::function<void()> then) {
        if (gone()) return;
        if (ec) return cut_short(ec, n);
        auto size = shadow::frame_size(_frame, shadow::max_frame);
        if (auto* r = std::get_if<shadow::refused>(&size)) return refuse(_s._receiver.note(std::move(*r)));
        _frame.resize(std::get<std::size_t>(size));
        asio::async_read(_socket, asio::buffer(_frame.data() + shadow::header_size, _frame.size() - shadow::header_size),
                         [self = shared_from_this(), then = std::move(then)](const boost::system::error_code& ec2,
                                                                            std::size_t m) {
                             if (self->gone()) return;
                             if (ec2) return self->cut_short(ec2, shadow::header_size + m);
                             then();
                         });
    }

    void on_query() {
        auto r = _s._receiver.accept(_frame, now_ms());
        if (auto* why = std::get_if<shadow::refused>(&r)) return refuse(std::move(*why));
        const auto& e = std::get<shadow::envelope>(r);
        _query = {e.epoch, e.seq};
        if (const auto* asked = std::get_if<shadow::restore>(&e.body)) return restore(e.sender, *asked);
        if (const auto* asked = std::get_if<shadow::backup_query>(&e.body)) return backup(e.sender, *asked);
        if (const auto* asked = std::get_if<shadow::state_restore>(&e.body)) {
            _state = std::make_unique<shadow::state_collector>(_s._cfg.key, e.sender, _query, shadow::max_state);
            _failed = asked->failed;
            arm();
            return read_frame([this] { on_state_chunk(); });
        }
        const auto& q = std::get<shadow::query>(e.body);
        const auto& served = _s._cfg.clusters;
        if (!served.empty())
            for (const auto a : q.clusters)
                if (std::find(served.begin(), served.end(), a) == served.end()) {
                    ++_s._counters.not_served;
                    clog::warn("shadow query from {} ({}) asks for {}, not a cluster of this node (--cluster)", peer(),
                               common::format_ipv4(e.sender), common::format_ipv4(a));
                    return close();
                }
        _asked = std::chrono::steady_clock::now();
        arm();
        read(sockdiag::filter{q.clusters, q.wildcard});
    }

    void restore(common::ipv4_addr from, const shadow::restore& asked) {
        if (!_s._restore) {
            shadow::restored out;
            for (const auto& c : asked.conns)
                out.outcomes.push_back({c.params.client_addr, c.params.client_port, false,
                                        "this agent carries no connection on (no --restore-service)"});
            return answer_restore(from, asked, std::move(out));
        }
        arm();  // the restore's own time, from now
        _s._restore(asked, [self = shared_from_this(), from, asked](shadow::restored out) {
            if (!self->gone()) self->answer_restore(from, asked, std::move(out));
        });
    }

    void answer_restore(common::ipv4_addr from, const shadow::restore& asked, shadow::restored out) {
        std::size_t done = 0;
        for (const auto& o : out.outcomes) done += o.restored;
        clog::info("restore from {} ({}) of {} connection(s) of {}: {} restored", peer(), common::format_ipv4(from),
                   asked.conns.size(), common::format_ipv4(asked.failed), done);
        _frame = shadow::seal(shadow::envelope{_s._cfg.node, _query.epoch, _query.seq, now_ms(), std::move(out)},
                              _s._cfg.key);
        arm();
        asio::async_write(_socket, asio::buffer(_frame), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                                    std::size_t) {
            if (self->gone()) return;
            if (ec) {
                ++self->_s._counters.write_errors;
                clog::warn("restore answer to {}: {}", self->peer(), ec.message());
            } else {
                ++self->_s._counters.restores;
            }
            self->close();
        });
    }

    // ---- state backups -------------------------------------------------------------------------

    /// The node's state for controld, in chunks (or the one chunk that says why there is none).
    void backup(common::ipv4_addr from, const shadow::backup_query& asked) {
        const std::size_t max = static_cast<std::size_t>(std::min<std::uint64_t>(asked.max_bytes, shadow::max_state));
        auto send = [self = shared_from_this(), from](taken_state t) {
            if (self->gone()) return;
            clog::info("backup query from {} ({}): {}", self->peer(), common::format_ipv4(from),
                       t.error.empty() ? fmt::format("{} bytes of state", t.bytes.size()) : t.error);
            self->_taken = std::move(t);
            self->send_state(0);
        };
        if (!_s._backup) return send({{}, now_ms(), "this agent keeps no state (no --backup-command or --state-dir)"});
        arm(std::chrono::hours(1));  // the command has its own timeout
        _s._backup(max, std::move(send));
    }

    void send_state(std::size_t i) {
        const std::size_t chunks = _taken.error.empty() ? shadow::state_chunks(_taken.bytes.size()) : 1;
        if (i == chunks) {
            ++_s._counters.backups;
            return close();
        }
        arm();
        _frame = shadow::seal_state_chunk(_taken.bytes, i, _taken.taken_ms, _taken.error, _s._cfg.node, _query,
                                          now_ms(), _s._cfg.key);
        asio::async_write(_socket, asio::buffer(_frame), [self = shared_from_this(), i](const boost::system::error_code& ec,
                                                                                       std::size_t) {
            if (self->gone()) return;
            if (ec) {
                ++self->_s._counters.write_errors;
                clog::warn("state backup to {}: {} after {} chunks", self->peer(), ec.message(), i);
                return self->close();
            }
            self->send_state(i + 1);
        });
    }

    /// One chunk of a failed node's state from controld; after the last, the restore.
    void on_state_chunk() {
        if (auto r = _state->accept(_frame)) return refuse(_s._receiver.note(std::move(*r)));
        if (!_state->complete()) {
            arm();
            return read_frame([this] { on_state_chunk(); });
        }
        auto answer = [self = shared_from_this()](shadow::state_restored out) {
            if (self->gone()) return;
            clog::info("state restore from {}: {} bytes of {}'s state: {}", self->peer(), self->_state->bytes().size(),
                       common::format_ipv4(self->_failed), out.ok ? fmt::format("restored in {} ms", out.took_ms) : out.why);
            self->_frame = shadow::seal(shadow::envelope{self->_s._cfg.node, self->_query.epoch, self->_query.seq,
                                                         now_ms(), std::move(out)},
                                        self->_s._cfg.key);
            self->arm();
            asio::async_write(self->_socket, asio::buffer(self->_frame),
                              [self](const boost::system::error_code& ec, std::size_t) {
                                  if (self->gone()) return;
                                  if (ec)
                                      ++self->_s._counters.write_errors;
                                  else
                                      ++self->_s._counters.state_restores;
                                  self->close();
                              });
        };
        if (!_state->error().empty()) return answer({false, "controld sent no state: " + _state->error(), 0});
        if (!_s._state_restore) return answer({false, "this agent restores no state (no --restore-command or --state-dir)", 0});
        arm(std::chrono::hours(1));  // the command has its own timeout
        _s._state_restore(_failed, std::move(_state->bytes()), _state->taken_ms(), std::move(answer));
    }

    /// The kernel read, on the server's reader thread; its batches and its
    /// end come back here by post, to a session that may be gone by then.
    void read(sockdiag::filter f) {
        std::weak_ptr<session> weak = shared_from_this();
        asio::post(_s._reader, [weak, read = _s._read, f = std::move(f), &io = _s._io] {
            std::string error;
            try {
                read(f, [&](std::vector<shadow::socket_entry>&& some) {
                    asio::post(io, [weak, some = std::move(some)]() mutable {
                        if (auto self = weak.lock()) self->take(std::move(some));
                    });
                });
            } catch (const std::exception& ex) {
                error = ex.what();
                if (error.empty()) error = "failed";
            }
            asio::post(io, [weak, error = std::move(error)] {
                if (auto self = weak.lock()) self->read_done(error);
            });
        });
    }

    void take(std::vector<shadow::socket_entry>&& some) {
        if (gone()) return;
        _entries.insert(_entries.end(), some.begin(), some.end());
        pump();
    }

    void read_done(const std::string& error) {
        if (gone()) return;
        if (!error.empty()) {
            ++_s._counters.table_errors;
            clog::error("shadow query from {}: reading the sockets failed after {} sent: {}", peer(), _entries.size(),
                        error);
            return close();
        }
        _reading = false;
        _read = std::chrono::steady_clock::now();
        pump();
    }

    /// Sends the next chunk, if it is whole (or the read is over) and no
    /// write is under way; closes after the last.
    void pump() {
        if (_writing) return;
        const std::size_t i = _sent;
        if (_reading) {
            if (_entries.size() <= (i + 1) * shadow::entries_per_chunk) return;  // not whole, or maybe the last
        } else if (i == shadow::answer_chunks(_entries.size())) {
            return finished();
        }
        _writing = true;
        arm();
        _frame = shadow::seal_chunk(_entries, i, _s._cfg.node, _query, now_ms(), _s._cfg.key);
        asio::async_write(_socket, asio::buffer(_frame),
                          [self = shared_from_this(), i](const boost::system::error_code& ec, std::size_t) {
                              if (self->gone()) return;
                              self->_writing = false;
                              if (ec) {
                                  ++self->_s._counters.write_errors;
                                  clog::warn("shadow answer to {}: {} after {} chunks", self->peer(), ec.message(), i);
                                  return self->close();
                              }
                              ++self->_sent;
                              self->pump();
                          });
    }

    void finished() {
        ++_s._counters.answered;
        _s._counters.entries_sent += _entries.size();
        using ms = std::chrono::milliseconds;
        const auto done = std::chrono::steady_clock::now();
        clog::info("shadow answer to {}: {} sockets in {} chunks; read from the kernel in {} ms, the last chunk sent "
                   "{} ms after",
                   peer(), _entries.size(), _sent, std::chrono::duration_cast<ms>(_read - _asked).count(),
                   std::chrono::duration_cast<ms>(done - _read).count());
        close();
    }

    shadow_server& _s;
    std::shared_ptr<bool> _alive;
    tcp::socket _socket;
    asio::steady_timer _timer;
    tcp::endpoint _peer;
    std::vector<std::uint8_t> _frame;
    auth::position _query;
    std::vector<shadow::socket_entry> _entries;  ///< read so far
    std::size_t _sent = 0;                       ///< chunks written
    bool _reading = true, _writing = false;
    std::chrono::steady_clock::time_point _asked, _read;  ///< the query accepted; its sockets read
    taken_state _taken;                                 ///< a backup's state, being sent
    std::unique_ptr<shadow::state_collector> _state;    ///< a state restore's chunks, being taken
    common::ipv4_addr _failed = 0;                      ///< whose state it is
    bool _closed = false;
};

shadow_server::shadow_server(asio::io_context& io, shadow_server_config cfg, table_reader read)
    : _io(io), _cfg(std::move(cfg)), _read(std::move(read)), _acceptor(io), _retry(io),
      _receiver(_cfg.key, _cfg.max_skew_ms) {}

shadow_server::~shadow_server() {
    _reader.join();  // a read under way ends first; what it posts finds its session gone
    *_alive = false;
    boost::system::error_code ignored;
    _acceptor.close(ignored);
    _retry.cancel();
}

void shadow_server::start() {
    _acceptor.open(_cfg.listen.protocol());
    _acceptor.set_option(tcp::acceptor::reuse_address(true));
    _acceptor.bind(_cfg.listen);
    _acceptor.listen();
    accept();
}

std::uint16_t shadow_server::port() const { return _acceptor.local_endpoint().port(); }

void shadow_server::accept() {
    _acceptor.async_accept([this, alive = _alive](const boost::system::error_code& ec, tcp::socket s) {
        if (!*alive) return;
        if (ec) {
            if (ec == asio::error::operation_aborted) return;
            // Out of file descriptors, say: try again a little later, not in a loop.
            clog::warn("shadow listener: {}", ec.message());
            _retry.expires_after(std::chrono::milliseconds(100));
            _retry.async_wait([this, alive](const boost::system::error_code& tec) {
                if (!tec && *alive) accept();
            });
            return;
        }
        if (_sessions >= _cfg.max_sessions) {
            ++_counters.busy;
            if (worth_logging(_counters.busy))
                clog::warn("shadow listener: {} queries in progress, a connection closed ({} such so far)", _sessions,
                           _counters.busy);
        } else {
            std::make_shared<session>(*this, std::move(s))->start();
        }
        accept();
    });
}

}  // namespace cg::control
