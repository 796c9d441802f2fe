// The control API over gatewayd's Unix socket (blocking, one request at a
// time). Used by gwctl and controld.
#pragma once

#include <chrono>
#include <string>

#include "api.hpp"

namespace cg::common::api {

class ctl_client final : public api {
public:
    /// Connects; throws api_error with the reason (no such socket, refused,
    /// permission denied) when it cannot.
    explicit ctl_client(const std::string& socket_path, std::chrono::milliseconds timeout = std::chrono::seconds(10));
    ~ctl_client() override;
    ctl_client(const ctl_client&) = delete;
    ctl_client& operator=(const ctl_client&) = delete;

    reply call(const request& r) override;

private:
    void send_all(const std::vector<std::uint8_t>& bytes);
    void recv_all(std::uint8_t* p, std::size_t n);

    int _fd = -1;
    std::uint32_t _seq = 0;
    std::string _path;
};

}  // namespace cg::common::api
