// Timing checks for an event loop that must not block, on a machine that
// may stop a CPU for tens of milliseconds at a time: on the loaded 2-core
// VM the tests run on, a real-time thread that only sleeps 1 ms at a time
// was seen to miss 50 ms. Such a stall is no code's doing; a handler that
// blocks the loop is. loop_watch tells them apart:
//
// While it lives, the calling thread (the loop's) is pinned to the CPU it
// runs on, at a real-time priority when allowed (root), and a watcher
// thread, pinned to the same CPU at a higher priority, wakes every
// millisecond and records each time it could not: the CPU's stalls. The
// watcher preempts the loop, so a loop that blocks (sleeping or spinning)
// never makes it miss a wake. own(from, to) is the part of a delay during
// which the CPU was there for the loop: the loop's own lateness.
//
// A tick_recorder on the loop's io_context fires every `tick`; its
// worst_own() is its worst lateness net of the CPU's stalls.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <ctime>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include <utility>  // before asio: Boost 1.74's awaitable.hpp uses std::exchange
#include <boost/asio.hpp>

namespace cg::test {

class loop_watch {
public:
    using steady = std::chrono::steady_clock;

    loop_watch() {
        _cpu = ::sched_getcpu();
        _pinned = _cpu >= 0 && ::pthread_getaffinity_np(::pthread_self(), sizeof _saved_cpus, &_saved_cpus) == 0 &&
                  pin(_cpu);
        _had_sched = ::pthread_getschedparam(::pthread_self(), &_saved_policy, &_saved_param) == 0;
        const sched_param loop_prio{10};
        _raised = _had_sched && ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &loop_prio) == 0;
        _watcher = std::thread([this] { watch(); });
    }
    ~loop_watch() {
        _stop = true;
        _watcher.join();
        if (_raised) ::pthread_setschedparam(::pthread_self(), _saved_policy, &_saved_param);
        if (_pinned) ::pthread_setaffinity_np(::pthread_self(), sizeof _saved_cpus, &_saved_cpus);
    }
    loop_watch(const loop_watch&) = delete;
    loop_watch& operator=(const loop_watch&) = delete;

    /// How much of [from, to] the loop's CPU was not stalled.
    steady::duration own(steady::time_point from, steady::time_point to) const {
        if (to <= from) return steady::duration::zero();
        steady::duration stalled{0};
        std::lock_guard guard(_m);
        for (const auto& [a, b] : _stalls) {
            const auto lo = std::max(a, from), hi = std::min(b, to);
            if (hi > lo) stalled += hi - lo;
        }
        return (to - from) - stalled;
    }
    /// The longest stall seen (for the report).
    steady::duration worst_stall() const {
        std::lock_guard guard(_m);
        steady::duration w{0};
        for (const auto& [a, b] : _stalls) w = std::max(w, b - a);
        return w;
    }

    /// A thread started while a loop_watch lives inherits its CPU and
    /// priority: call this first thing in it to make it ordinary again.
    static void ordinary_thread() {
        const sched_param normal{0};
        ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &normal);
        cpu_set_t all;
        CPU_ZERO(&all);
        for (unsigned c = 0; c < std::max(1u, std::thread::hardware_concurrency()); ++c) CPU_SET(c, &all);
        ::pthread_setaffinity_np(::pthread_self(), sizeof all, &all);
    }

private:
    static bool pin(int cpu) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        return ::pthread_setaffinity_np(::pthread_self(), sizeof one, &one) == 0;
    }

    void watch() {
        if (_pinned) pin(_cpu);
        const sched_param above_loop{11};
        ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &above_loop);
        constexpr auto step = std::chrono::milliseconds(1);
        auto prev = steady::now();
        while (!_stop) {
            const timespec ts{0, 1'000'000};
            ::clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, nullptr);
            const auto now = steady::now();
            if (now - prev > 2 * step) {
                std::lock_guard guard(_m);
                _stalls.emplace_back(prev + step, now);
            }
            prev = now;
        }
    }

    int _cpu = -1;
    bool _pinned = false, _had_sched = false, _raised = false;
    cpu_set_t _saved_cpus{};
    int _saved_policy = SCHED_OTHER;
    sched_param _saved_param{};
    std::atomic<bool> _stop{false};
    mutable std::mutex _m;
    std::vector<std::pair<steady::time_point, steady::time_point>> _stalls;
    std::thread _watcher;
};

/// Every `tick` on an io_context: when each expiry was due and when it fired.
class tick_recorder {
public:
    using steady = std::chrono::steady_clock;

    tick_recorder(boost::asio::io_context& io, steady::duration tick) : _timer(io), _tick(tick) { arm(); }

    int ticks() const { return _ticks; }
    /// The worst lateness, stalls of the CPU included.
    steady::duration worst_raw() const { return _worst_raw; }
    /// The worst lateness of the loop's own (watch.own of each late tick).
    steady::duration worst_own(const loop_watch& watch) const {
        steady::duration w{0};
        for (const auto& [due, fired] : _late) w = std::max(w, watch.own(due, fired));
        return w;
    }

private:
    void arm() {
        _due = steady::now() + _tick;
        _timer.expires_at(_due);
        _timer.async_wait([this](const boost::system::error_code& ec) {
            if (ec) return;
            const auto now = steady::now();
            _worst_raw = std::max(_worst_raw, now - _due);
            if (now - _due > std::chrono::milliseconds(1)) _late.emplace_back(_due, now);
            ++_ticks;
            arm();
        });
    }

    boost::asio::steady_timer _timer;
    steady::duration _tick;
    steady::time_point _due;
    steady::duration _worst_raw{0};
    std::vector<std::pair<steady::time_point, steady::time_point>> _late;
    int _ticks = 0;
};

}  // namespace cg::test
