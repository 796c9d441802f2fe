#include "control/controld/config_backups.hpp"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <limits>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "control/controld/durable_file.hpp"
#include "control/controld/escalation_store.hpp"

namespace cg::control {

namespace {

constexpr std::string_view header_start = "# clustergate configuration backup v";

std::uint32_t crc_of(std::string_view s) {
    return crc32c({reinterpret_cast<const std::uint8_t*>(s.data()), s.size()});
}

std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// The sequence number of "config-<seq>.yaml", or nullopt for another name.
std::optional<std::uint64_t> seq_of(const std::string& name) {
    unsigned long long seq = 0;
    int end = 0;
    if (std::sscanf(name.c_str(), "config-%llu.yaml%n", &seq, &end) != 1 ||
        static_cast<std::size_t>(end) != name.size())
        return std::nullopt;
    return seq;
}

/// A configuration file or a backup, with room for the header line.
std::string read_config_text(const std::string& path, std::string& why) {
    return read_text(path, config_backup_max + 256, why);
}

}  // namespace

std::string format_wall(wall_time t) {
    const auto ms = t.time_since_epoch().count() % 1000;
    return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:03} UTC", std::chrono::floor<std::chrono::seconds>(t), ms);
}

std::string encode_config_backup(std::string_view yaml, wall_time at) {
    return fmt::format("{}{} bytes={} crc32c={:08x} saved_ms={}\n", header_start, config_backup_version, yaml.size(),
                       crc_of(yaml), at.time_since_epoch().count()) +
           std::string(yaml);
}

std::variant<config_backup, std::string> decode_config_backup(std::string_view file) {
    const auto eol = file.find('\n');
    if (eol == std::string_view::npos || !file.starts_with(header_start)) return std::string("no backup header line");
    const std::string head(file.substr(0, eol));
    unsigned version = 0;
    unsigned long long bytes = 0, saved = 0;
    unsigned crc = 0;
    int end = 0;
    const std::string pattern = std::string(header_start) + "%u bytes=%llu crc32c=%8x saved_ms=%llu%n";
    // Only the line encode writes: sscanf alone would also take leading
    // zeros, signs and blanks, so the numbers are written back and compared.
    if (std::sscanf(head.c_str(), pattern.c_str(), &version, &bytes, &crc, &saved, &end) != 4 ||
        static_cast<std::size_t>(end) != head.size() ||
        head != fmt::format("{}{} bytes={} crc32c={:08x} saved_ms={}", header_start, version, bytes, crc, saved))
        return fmt::format("malformed header line: {:.120}", head);
    // The clock counts in signed milliseconds: a larger number would come
    // back as another time (a date before 1970).
    if (saved > static_cast<unsigned long long>(std::numeric_limits<wall_time::rep>::max()))
        return fmt::format("saved_ms={} is past the last time this controld can hold", saved);
    if (version != config_backup_version)
        return fmt::format("version {}: this controld reads version {}", version, config_backup_version);
    const std::string_view yaml = file.substr(eol + 1);
    if (yaml.size() < bytes) return fmt::format("torn: {} of {} bytes", yaml.size(), bytes);
    if (yaml.size() > bytes) return fmt::format("{} bytes after the end of its configuration", yaml.size() - bytes);
    const std::uint32_t computed = crc_of(yaml);
    if (computed != crc) return fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, computed);
    return config_backup{std::string(yaml), wall_time(std::chrono::milliseconds(saved))};
}

config_backups::config_backups(std::string dir, std::uint32_t keep) : _dir(std::move(dir)), _keep(std::max(keep, 1u)) {}

std::vector<backup_entry> config_backups::list() const {
    std::vector<backup_entry> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(_dir, ec)) {
        const auto seq = seq_of(f.path().filename().string());
        if (!seq) continue;
        backup_entry e;
        e.seq = *seq;
        e.path = f.path().string();
        const std::string text = read_config_text(e.path, e.problem);
        if (e.problem.empty()) {
            auto d = decode_config_backup(text);
            if (auto* b = std::get_if<config_backup>(&d)) {
                e.saved = b->saved;
                e.bytes = b->yaml.size();
            } else {
                e.problem = std::get<std::string>(d);
            }
        }
        if (!e.good() && _bad_seen.insert(e.path).second) ++_n.bad_found;
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const backup_entry& a, const backup_entry& b) { return a.seq > b.seq; });
    return out;
}

std::optional<config_backup> config_backups::read(const backup_entry& e, std::string& why) const {
    const std::string text = read_config_text(e.path, why);
    if (!why.empty()) return std::nullopt;
    auto d = decode_config_backup(text);
    if (auto* b = std::get_if<config_backup>(&d)) return std::move(*b);
    why = std::get<std::string>(d);
    return std::nullopt;
}

std::optional<std::string> config_backups::save(std::string_view yaml, wall_time now) {
    if (yaml.size() > config_backup_max) {
        _last_error = fmt::format("the configuration has {} bytes, more than a backup holds ({})", yaml.size(),
                                  config_backup_max);
        ++_n.write_errors;
        return _last_error;
    }
    const auto have = list();
    for (const auto& e : have) {
        if (!e.good()) continue;
        std::string why;
        if (const auto b = read(e, why); b && b->yaml == yaml) {
            ++_n.unchanged;
            return std::nullopt;
        }
        break;  // only the newest good one counts
    }
    std::error_code ec;
    std::filesystem::create_directories(_dir, ec);
    std::optional<std::string> err;
    if (ec) err = fmt::format("cannot create the directory {}: {}", _dir, ec.message());
    const std::uint64_t seq = have.empty() ? 1 : have.front().seq + 1;
    if (!err) err = replace_file(fmt::format("{}/config-{:08}.yaml", _dir, seq), bytes_of(encode_config_backup(yaml, now)));
    if (err) {
        ++_n.write_errors;
        _last_error = *err;
        return err;
    }
    ++_n.saved;
    _last_error.clear();
    // The newest `keep` stay, the one just written among them.
    for (std::size_t i = _keep - 1; i < have.size(); ++i)
        if (::unlink(have[i].path.c_str()) == 0) ++_n.removed;
    return std::nullopt;
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
