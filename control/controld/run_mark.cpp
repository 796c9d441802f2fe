#include "control/controld/run_mark.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>

#include "control/controld/backup_dir.hpp"
#include "control/controld/durable_file.hpp"

namespace cg::control {

namespace {
constexpr std::size_t max_mark = 4096;  // one line; more is not ours, and is shown cut
}

run_mark::run_mark(std::string path) : _path(std::move(path)) {
    std::string why;
    std::string text = read_text(_path, 1u << 20, why);
    if (why == "missing") return;
    if (!why.empty()) {
        _previous = fmt::format("a mark that cannot be read: {}", why);
        return;
    }
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    if (text.size() > max_mark) text.resize(max_mark);
    _previous = text.empty() ? std::string("an empty mark (a write cut short)") : std::move(text);
}

std::optional<std::string> run_mark::set(pid_t pid, wall_time started) {
    const std::string dir = directory_of(_path);
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return fmt::format("cannot create the directory {}: {}", dir, ec.message());
    return replace_file(_path, bytes_of(fmt::format("controld pid {}, started {}\n", pid, format_wall(started))));
}

std::optional<std::string> run_mark::clear() {
    if (std::remove(_path.c_str()) != 0 && errno != ENOENT) return errno_text("cannot remove " + _path, errno);
    if (auto err = fsync_directory(directory_of(_path))) return err;
    return std::nullopt;
}

}  // namespace cg::control
