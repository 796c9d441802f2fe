#include "ctl_server.hpp"

#include <filesystem>
#include <stdexcept>
#include <sys/stat.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fmt/format.h>

#include "log.hpp"

namespace cg::common {

namespace asio = boost::asio;
using asio::use_awaitable;
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

ctl_server::ctl_server(asio::io_context& io, std::string path, api::api& handler, std::function<void()> on_bad_frame,
                       std::string program)
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
    asio::co_spawn(io, accept_loop(), asio::detached);
    log::info("control socket {}", _path);
}

ctl_server::~ctl_server() {
    boost::system::error_code ec;
    _acceptor.close(ec);
    std::error_code fs_ec;
    std::filesystem::remove(_path, fs_ec);
}

asio::awaitable<void> ctl_server::accept_loop() {
    for (;;) {
        boost::system::error_code ec;
        socket s = co_await _acceptor.async_accept(asio::redirect_error(use_awaitable, ec));
        if (ec == asio::error::operation_aborted) co_return;
        if (!ec) asio::co_spawn(_acceptor.get_executor(), session(std::move(s)), asio::detached);
    }
}

// No temporaries inside a co_await expression here: GCC 12 destroys such
// temporaries twice (a known coroutine bug), so replies are built first.
asio::awaitable<void> ctl_server::session(socket s) {
    std::vector<std::uint8_t> payload, out;
    boost::system::error_code ec;
    auto on_error = [&ec] { return asio::redirect_error(use_awaitable, ec); };
    for (;;) {
        std::uint8_t head[api::header_size];
        co_await asio::async_read(s, asio::buffer(head), on_error());
        if (ec) co_return;  // the client went away
        api::frame_header h;
        if (auto why = api::decode_header(head, h)) {
            _on_bad_frame();
            out = api::encode_reply(api::error_rep{*why, {}}, 0);
            co_await asio::async_write(s, asio::buffer(out), on_error());
            co_return;  // the framing is lost: nothing after this can be trusted
        }
        payload.resize(h.length);
        co_await asio::async_read(s, asio::buffer(payload), on_error());
        if (ec) co_return;
        auto decoded = api::decode_request(h.type, payload);
        api::reply rep;
        if (auto* why = std::get_if<std::string>(&decoded)) {
            _on_bad_frame();
            rep = api::error_rep{fmt::format("bad {} request: {}", api::type_name(h.type), *why), {}};
        } else {
            rep = _handler.call(std::get<api::request>(decoded));
        }
        out = api::encode_reply(rep, h.seq);
        co_await asio::async_write(s, asio::buffer(out), on_error());
        if (ec) co_return;
    }
}

}  // namespace cg::common
