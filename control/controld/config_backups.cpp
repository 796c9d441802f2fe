#include "control/controld/config_backups.hpp"

#include <fmt/format.h>

#include "control/controld/durable_file.hpp"

namespace cg::control {

namespace {

constexpr std::string_view kind = "configuration";

/// A configuration file or a backup, with room for the header line.
std::string read_config_text(const std::string& path, std::string& why) {
    return read_text(path, config_backup_max + 256, why);
}

}  // namespace

std::string encode_config_backup(std::string_view yaml, wall_time at) { return encode_backup(kind, yaml, at); }

std::variant<config_backup, std::string> decode_config_backup(std::string_view file) {
    auto d = decode_backup(kind, file);
    if (auto* b = std::get_if<backup_bytes>(&d)) return config_backup{std::move(b->bytes), b->saved};
    return std::get<std::string>(std::move(d));
}

config_backups::config_backups(std::string dir, std::uint32_t keep)
    : _d({std::move(dir), "config", ".yaml", std::string(kind), keep, config_backup_max}) {}

std::optional<config_backup> config_backups::read(const backup_entry& e, std::string& why) const {
    auto b = _d.read(e, why);
    if (!b) return std::nullopt;
    return config_backup{std::move(b->bytes), b->saved};
}

std::optional<restore_choice> config_backups::choose(std::string_view current, const std::string& initial_file,
                                                     const std::function<bool(const std::string&)>& loads,
                                                     std::vector<std::string>& skipped) {
    for (const auto& e : list()) {
        const std::string name = fmt::format("backup {}", e.seq);
        if (!e.good()) {
            skipped.push_back(fmt::format("{} ({}): {}", name, e.path, e.problem));
            continue;
        }
        std::string why;
        auto b = read(e, why);
        if (!b) {  // changed since list()
            skipped.push_back(fmt::format("{} ({}): {}", name, e.path, why));
            continue;
        }
        if (b->yaml == current) {
            skipped.push_back(fmt::format("{}: the same as the current file", name));
            continue;
        }
        if (!loads(b->yaml)) {
            skipped.push_back(fmt::format("{}: does not load", name));
            continue;
        }
        return restore_choice{std::move(b->yaml), fmt::format("{} (saved {})", name, format_wall(b->saved))};
    }
    if (initial_file.empty()) return std::nullopt;
    std::string why;
    std::string text = read_config_text(initial_file, why);
    const std::string name = "the initial file " + initial_file;
    if (!why.empty())
        skipped.push_back(fmt::format("{}: {}", name, why));
    else if (text == current)
        skipped.push_back(name + ": the same as the current file");
    else if (!loads(text))
        skipped.push_back(name + ": does not load");
    else
        return restore_choice{std::move(text), name};
    return std::nullopt;
}

std::optional<std::string> install_config(const std::string& path, std::string_view yaml) {
    std::string why;
    const std::string old = read_config_text(path, why);
    if (why.empty())
        if (auto err = replace_file(path + ".replaced", bytes_of(old))) return err;
    return replace_file(path, bytes_of(yaml));
}

}  // namespace cg::control
