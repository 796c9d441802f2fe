#include "ctl_client.hpp"

#include <cerrno>
#include <cstring>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <fmt/format.h>

namespace cg::common::api {

ctl_client::ctl_client(const std::string& path, std::chrono::milliseconds timeout) : _path(path) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (path.size() >= sizeof addr.sun_path) throw api_error(fmt::format("socket path too long: {}", path));
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    _fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (_fd < 0) throw api_error(fmt::format("socket: {}", std::strerror(errno)));
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (::connect(_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
        const int e = errno;
        ::close(_fd);
        _fd = -1;
        throw api_error(fmt::format("cannot connect to gatewayd at {}: {}{}", path, std::strerror(e),
                                    e == ENOENT || e == ECONNREFUSED ? " (is gatewayd running?)" : ""));
    }
}

ctl_client::~ctl_client() {
    if (_fd >= 0) ::close(_fd);
}

void ctl_client::send_all(const std::vector<std::uint8_t>& b) {
    for (std::size_t off = 0; off < b.size();) {
        const ssize_t n = ::send(_fd, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw api_error(fmt::format("lost gatewayd at {}: {}", _path, std::strerror(errno)));
        off += static_cast<std::size_t>(n);
    }
}

void ctl_client::recv_all(std::uint8_t* p, std::size_t len) {
    for (std::size_t off = 0; off < len;) {
        const ssize_t n = ::recv(_fd, p + off, len - off, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) throw api_error(fmt::format("gatewayd at {} closed the connection", _path));
        if (n < 0)
            throw api_error(errno == EAGAIN ? fmt::format("gatewayd at {} did not answer in time", _path)
                                            : fmt::format("lost gatewayd at {}: {}", _path, std::strerror(errno)));
        off += static_cast<std::size_t>(n);
    }
}

reply ctl_client::call(const request& r) {
    send_all(encode_request(r, ++_seq));
    std::uint8_t head[header_size];
    recv_all(head, header_size);
    frame_header h;
    if (auto err = decode_header(head, h)) throw api_error(*err);
    std::vector<std::uint8_t> payload(h.length);
    recv_all(payload.data(), payload.size());
    auto decoded = decode_reply(h.type, payload);
    if (auto* why = std::get_if<std::string>(&decoded)) throw api_error("bad reply from gatewayd: " + *why);
    return std::get<reply>(std::move(decoded));
}

}  // namespace cg::common::api
