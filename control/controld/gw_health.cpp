#include "control/controld/gw_health.hpp"

#include <fmt/format.h>

namespace cg::control {

namespace capi = common::api;
using pair::clock;
using pair::health;

namespace {

long long ms_since(clock::time_point t, clock::time_point now) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - t).count();
}

}  // namespace

void loop_watch::answered(const std::vector<capi::lcore_view>& lcores, clock::time_point now) {
    _answered = now;
    for (const auto& l : lcores) {
        if (l.role == "main") continue;  // it answered: that is its loop going on
        auto [it, fresh] = _lcores.try_emplace(l.role, lcore_seen{l.loops, now});
        if (!fresh && l.loops != it->second.loops) it->second = {l.loops, now};
    }
}

void loop_watch::restarted() {
    _answered.reset();
    _lcores.clear();
}

health loop_watch::at(clock::time_point now) const {
    if (!_answered) return health::down;
    if (now - *_answered >= _dead_time) return health::hung;
    for (const auto& [role, seen] : _lcores)
        if (now - seen.moved >= _dead_time) return health::hung;
    return health::up;
}

std::optional<std::chrono::milliseconds> loop_watch::stalled(clock::time_point now) const {
    if (!_answered) return std::nullopt;
    clock::time_point latest = *_answered;
    for (const auto& [role, seen] : _lcores) latest = std::min(latest, seen.moved);
    return std::chrono::duration_cast<std::chrono::milliseconds>(now - latest);
}

std::string loop_watch::why(clock::time_point now) const {
    if (!_answered) return "not answered since it started";
    if (now - *_answered >= _dead_time)
        return fmt::format("its control socket silent for {} ms", ms_since(*_answered, now));
    for (const auto& [role, seen] : _lcores)
        if (now - seen.moved >= _dead_time)
            return fmt::format("{}'s loop stopped {} ms ago", role, ms_since(seen.moved, now));
    return "forwarding";
}

gw_health::gw_health(boost::asio::io_context& io, const std::string& socket_path, std::chrono::milliseconds interval,
                     std::chrono::milliseconds dead_time)
    : _link(io, {socket_path, std::max(dead_time * 4, std::chrono::milliseconds(500)), 1, 1}),
      _timer(io),
      _interval(interval),
      _watch(dead_time) {}

void gw_health::start() { poll(); }

void gw_health::poll() {
    _link.ask(capi::hello_req{"controld health"}, [this](gw_answer a) {
        if (const auto* h = a.as<capi::hello_rep>()) _watch.answered(h->lcores, clock::now());
        _timer.expires_after(_interval);
        _timer.async_wait([this](const boost::system::error_code& ec) {
            if (!ec) poll();
        });
    });
}

health gw_health::at(clock::time_point now, bool running) const { return running ? _watch.at(now) : health::down; }

std::string gw_health::why(clock::time_point now, bool running) const {
    return running ? _watch.why(now) : "not running";
}

}  // namespace cg::control
