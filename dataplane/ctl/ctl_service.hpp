// The controller behind gatewayd's control socket (ctl_server): a request
// starts at once (controller::begin); one that waits for worker jobs is
// polled from a timer on the io_context, every poll_interval while any
// waits, and answered when its jobs are done or its deadline has passed.
// So the socket's io_context, on the main lcore, never waits for a worker
// and never holds the controller's lock while a worker runs a job.
//
// Thread-safety: none; runs on its io_context. The controller may be used
// from other threads meanwhile (the console of `gatewayd -i`).
#pragma once

#include <chrono>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

#include "common/api.hpp"
#include "dataplane/ctl/controller.hpp"

namespace cg::dp {

class ctl_service final : public common::api::async_api {
public:
    ctl_service(boost::asio::io_context& io, controller& ctl,
                std::chrono::microseconds poll_interval = std::chrono::milliseconds(1));
    /// Requests still waiting are dropped: their completions are not called.
    ~ctl_service() override = default;

    void call_async(const common::api::request& r, completion done) override;

    /// Requests waiting for worker jobs now.
    std::size_t waiting() const { return _waiting.size(); }

private:
    struct waiter {
        pending_request request;
        completion done;
    };
    void arm();
    void poll();

    controller& _ctl;
    boost::asio::steady_timer _timer;
    std::chrono::microseconds _interval;
    std::vector<waiter> _waiting;
    bool _armed = false;
};

}  // namespace cg::dp
