#include "ctl_server.hpp"

#include <deque>
#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

#include <fmt/format.h>

#include "log.hpp"

namespace cg::common {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

namespace {

/// A socket file nobody answers on is left over from a crash: remove it.
/// One somebody answers on belongs to a running gatewayd: refuse. Anything
/// else at that path is not ours to remove.
void claim_path(asio::io_context& io, const std::string& path, const std::string& program) {
    std::error_code fs_ec;
    const auto st = std::filesystem::symlink_status(path, fs_ec);
    if (!std::filesystem::exists(st)) return;
    if (!std::filesystem::is_socket(st))
        throw std::runtime_error(fmt::format("control socket {}: the path exists and is not a socket", path));
    boost::system::error_code ec;
    stream::socket probe(io);
    probe.connect(stream::endpoint(path), ec);
    if (!ec) throw std::runtime_error(fmt::format("another {} is listening on {}", program, path));
    std::filesystem::remove(path);
}

}  // namespace

/// One client connection. Kept alive by its pending reads and writes and by
/// the completions of its unanswered requests; closed when the last goes.
class ctl_server::session : public std::enable_shared_from_this<session> {
public:
    session(stream::socket s, api::async_api& handler, std::function<void()> on_bad_frame)
        : _sock(std::move(s)), _handler(handler), _on_bad_frame(std::move(on_bad_frame)) {}

    void start() { read_header(); }
    void close() {
        _closed = true;
        boost::system::error_code ec;
        _sock.close(ec);
    }

private:
    void read_header() {
        asio::async_read(_sock, asio::buffer(_head),
                         [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                             if (ec || self->_closed) return;  // the client went away
                             self->on_header();
                         });
    }

    void on_header() {
        api::frame_header h;
        if (auto why = api::decode_header(_head, h)) {
            _on_bad_frame();
            _lost = true;  // the framing is lost: nothing after this can be trusted
            send(api::encode_reply(api::error_rep{*why, {}}, 0));
            return;
        }
        _payload.resize(h.length);
        asio::async_read(_sock, asio::buffer(_payload),
                         [self = shared_from_this(), h](const boost::system::error_code& ec, std::size_t) {
                             if (ec || self->_closed) return;
                             self->on_request(h);
                         });
    }

    void on_request(const api::frame_header& h) {
        auto decoded = api::decode_request(h.type, _payload);
        if (auto* why = std::get_if<std::string>(&decoded)) {
            _on_bad_frame();
            send(api::encode_reply(api::error_rep{fmt::format("bad {} request: {}", api::type_name(h.type), *why), {}},
                                   h.seq));
        } else {
            ++_outstanding;
            // Posted, so that a handler answering at once (or from another
            // thread) never re-enters this session.
            _handler.call_async(std::get<api::request>(decoded), [self = shared_from_this(), seq = h.seq](api::reply rep) {
                asio::post(self->_sock.get_executor(), [self, seq, rep = std::move(rep)] { self->answer(seq, rep); });
            });
        }
        if (_outstanding < max_outstanding)
            read_header();
        else
            _paused = true;
    }

    void answer(std::uint32_t seq, const api::reply& rep) {
        --_outstanding;
        if (_closed) return;
        send(api::encode_reply(rep, seq));
        if (_paused) {
            _paused = false;
            read_header();
        }
    }

    void send(std::vector<std::uint8_t> frame) {
        _out.push_back(std::move(frame));
        if (_out.size() == 1) write_front();
    }

    void write_front() {
        asio::async_write(_sock, asio::buffer(_out.front()),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                              if (ec) return self->close();
                              self->_out.pop_front();
                              if (!self->_out.empty())
                                  self->write_front();
                              else if (self->_lost)
                                  self->close();
                          });
    }

    stream::socket _sock;
    api::async_api& _handler;
    std::function<void()> _on_bad_frame;
    std::uint8_t _head[api::header_size];
    std::vector<std::uint8_t> _payload;
    std::deque<std::vector<std::uint8_t>> _out;  ///< replies; the front one is being written
    std::size_t _outstanding = 0;                ///< requests the handler has not answered yet
    bool _paused = false;                        ///< at max_outstanding: reading waits for an answer
    bool _lost = false;                          ///< bad framing: close once the error reply is out
    bool _closed = false;
};

ctl_server::ctl_server(asio::io_context& io, std::string path, api::async_api& handler,
                       std::function<void()> on_bad_frame, std::string program)
    : _path(std::move(path)),
      _handler(handler),
      _on_bad_frame(std::move(on_bad_frame)),
      _program(std::move(program)),
      _acceptor(io) {
    const auto dir = std::filesystem::path(_path).parent_path();
    if (!dir.empty()) std::filesystem::create_directories(dir);
    claim_path(io, _path, _program);
    const mode_t old = ::umask(0077);  // owner-only from the first instant
    boost::system::error_code ec;
    _acceptor.open(stream(), ec);
    if (!ec) _acceptor.bind(stream::endpoint(_path), ec);
    if (!ec) _acceptor.listen(asio::socket_base::max_listen_connections, ec);
    ::umask(old);
    if (ec) throw std::runtime_error(fmt::format("control socket {}: {}", _path, ec.message()));
    accept();
    log::info("control socket {}", _path);
}

ctl_server::~ctl_server() {
    boost::system::error_code ec;
    _acceptor.close(ec);
    for (auto& w : _sessions)
        if (auto s = w.lock()) s->close();
    std::error_code fs_ec;
    std::filesystem::remove(_path, fs_ec);
}

void ctl_server::accept() {
    _acceptor.async_accept([this](const boost::system::error_code& ec, stream::socket s) {
        if (ec == asio::error::operation_aborted) return;
        if (!ec) {
            std::erase_if(_sessions, [](const std::weak_ptr<session>& w) { return w.expired(); });
            auto sess = std::make_shared<session>(std::move(s), _handler, _on_bad_frame);
            _sessions.push_back(sess);
            sess->start();
        }
        accept();
    });
}

}  // namespace cg::common
