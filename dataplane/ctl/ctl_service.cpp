#include "dataplane/ctl/ctl_service.hpp"

namespace cg::dp {

namespace api = common::api;

ctl_service::ctl_service(boost::asio::io_context& io, controller& ctl, std::chrono::microseconds poll_interval)
    : _ctl(ctl), _timer(io), _interval(poll_interval) {}

void ctl_service::call_async(const api::request& r, completion done) {
    controller::started s = _ctl.begin(r);
    if (auto* rep = std::get_if<api::reply>(&s)) return done(std::move(*rep));
    _waiting.push_back({std::move(std::get<pending_request>(s)), std::move(done)});
    arm();
}

void ctl_service::arm() {
    if (_armed) return;
    _armed = true;
    _timer.expires_after(_interval);
    _timer.async_wait([this](const boost::system::error_code& ec) {
        _armed = false;
        if (!ec) poll();
    });
}

void ctl_service::poll() {
    std::vector<std::pair<completion, api::reply>> answered;
    std::erase_if(_waiting, [&](waiter& w) {
        auto rep = _ctl.poll(w.request);
        if (rep) answered.emplace_back(std::move(w.done), std::move(*rep));
        return rep.has_value();
    });
    if (!_waiting.empty()) arm();
    for (auto& [done, rep] : answered) done(std::move(rep));
}

}  // namespace cg::dp
