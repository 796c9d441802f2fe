// Minimal logging for the control path (never the packet path): one line
// per event on stderr, with a time stamp and level, so that journald and a
// terminal both read it.
#pragma once

#include <chrono>
#include <cstdio>
#include <string_view>

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace cg::common::log {

enum class level { debug, info, warn, error };

inline level& threshold() {
    static level l = level::info;
    return l;
}

template <class... A>
void write(level l, fmt::format_string<A...> f, A&&... args) {
    if (l < threshold()) return;
    static constexpr std::string_view names[] = {"debug", "info", "warn", "error"};
    const auto now = std::chrono::system_clock::now();
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    fmt::print(stderr, "{:%Y-%m-%d %H:%M:%S}.{:03d} {} {}\n", fmt::localtime(std::chrono::system_clock::to_time_t(now)),
               ms, names[static_cast<int>(l)], fmt::format(f, std::forward<A>(args)...));
}

template <class... A>
void info(fmt::format_string<A...> f, A&&... a) { write(level::info, f, std::forward<A>(a)...); }
template <class... A>
void warn(fmt::format_string<A...> f, A&&... a) { write(level::warn, f, std::forward<A>(a)...); }
template <class... A>
void error(fmt::format_string<A...> f, A&&... a) { write(level::error, f, std::forward<A>(a)...); }

}  // namespace cg::common::log
