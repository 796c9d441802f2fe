#include "control/controld/backup_dir.hpp"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <limits>

#include <fmt/chrono.h>
#include <fmt/format.h>

#include "common/crc32c.hpp"
#include "control/controld/durable_file.hpp"

namespace cg::control {

namespace {

std::uint32_t crc_of(std::string_view s) { return common::crc32c(bytes_of(s)); }

std::string header_start(std::string_view kind) { return fmt::format("# clustergate {} backup v", kind); }

}  // namespace

std::string format_wall(wall_time t) {
    const auto ms = t.time_since_epoch().count() % 1000;
    return fmt::format("{:%Y-%m-%d %H:%M:%S}.{:03} UTC", std::chrono::floor<std::chrono::seconds>(t), ms);
}

std::string encode_backup(std::string_view kind, std::string_view bytes, wall_time at) {
    return fmt::format("{}{} bytes={} crc32c={:08x} saved_ms={}\n", header_start(kind), backup_version, bytes.size(),
                       crc_of(bytes), at.time_since_epoch().count()) +
           std::string(bytes);
}

std::variant<backup_bytes, std::string> decode_backup(std::string_view kind, std::string_view file) {
    const std::string start = header_start(kind);
    const auto eol = file.find('\n');
    if (eol == std::string_view::npos || !file.starts_with(start)) return std::string("no backup header line");
    const std::string head(file.substr(0, eol));
    unsigned version = 0;
    unsigned long long bytes = 0, saved = 0;
    unsigned crc = 0;
    int end = 0;
    const std::string pattern = start + "%u bytes=%llu crc32c=%8x saved_ms=%llu%n";
    // Only the line encode writes: sscanf alone would also take leading
    // zeros, signs and blanks, so the numbers are written back and compared.
    if (std::sscanf(head.c_str(), pattern.c_str(), &version, &bytes, &crc, &saved, &end) != 4 ||
        static_cast<std::size_t>(end) != head.size() ||
        head != fmt::format("{}{} bytes={} crc32c={:08x} saved_ms={}", start, version, bytes, crc, saved))
        return fmt::format("malformed header line: {:.120}", head);
    // The clock counts in signed milliseconds: a larger number would come
    // back as another time (a date before 1970).
    if (saved > static_cast<unsigned long long>(std::numeric_limits<wall_time::rep>::max()))
        return fmt::format("saved_ms={} is past the last time this controld can hold", saved);
    if (version != backup_version)
        return fmt::format("version {}: this controld reads version {}", version, backup_version);
    const std::string_view body = file.substr(eol + 1);
    if (body.size() < bytes) return fmt::format("torn: {} of {} bytes", body.size(), bytes);
    if (body.size() > bytes) return fmt::format("{} bytes after the end of its backup", body.size() - bytes);
    const std::uint32_t computed = crc_of(body);
    if (computed != crc) return fmt::format("checksum mismatch (stored {:08x}, computed {:08x})", crc, computed);
    return backup_bytes{std::string(body), wall_time(std::chrono::milliseconds(saved))};
}

backup_dir::backup_dir(backup_dir_config c) : _c(std::move(c)) { _c.keep = std::max(_c.keep, 1u); }

std::optional<std::uint64_t> backup_dir::seq_of(const std::string& name) const {
    if (!name.starts_with(_c.prefix + "-") || !name.ends_with(_c.suffix)) return std::nullopt;
    const std::string digits = name.substr(_c.prefix.size() + 1, name.size() - _c.prefix.size() - 1 - _c.suffix.size());
    if (digits.empty() || digits.size() > 19 || !std::all_of(digits.begin(), digits.end(), [](char c) {
            return c >= '0' && c <= '9';
        }))
        return std::nullopt;
    return std::stoull(digits);
}

std::vector<backup_entry> backup_dir::list() const {
    std::vector<backup_entry> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(_c.dir, ec)) {
        const auto seq = seq_of(f.path().filename().string());
        if (!seq) continue;
        backup_entry e;
        e.seq = *seq;
        e.path = f.path().string();
        if (auto b = read(e, e.problem)) {
            e.saved = b->saved;
            e.bytes = b->bytes.size();
        }
        if (!e.good() && _bad_seen.insert(e.path).second) ++_n.bad_found;
        out.push_back(std::move(e));
    }
    std::sort(out.begin(), out.end(), [](const backup_entry& a, const backup_entry& b) { return a.seq > b.seq; });
    return out;
}

std::optional<backup_entry> backup_dir::newest_good() const {
    for (auto& e : list())
        if (e.good()) return e;
    return std::nullopt;
}

std::optional<backup_bytes> backup_dir::read(const backup_entry& e, std::string& why) const {
    why.clear();
    const std::string text = read_text(e.path, _c.max_bytes + 256, why);  // with room for the header line
    if (!why.empty()) return std::nullopt;
    auto d = decode_backup(_c.kind, text);
    if (auto* b = std::get_if<backup_bytes>(&d)) return std::move(*b);
    why = std::get<std::string>(d);
    return std::nullopt;
}

std::optional<std::string> backup_dir::save(std::string_view bytes, wall_time now, bool skip_unchanged) {
    if (bytes.size() > _c.max_bytes) {
        _last_error = fmt::format("the {} has {} bytes, more than a backup holds ({})", _c.kind, bytes.size(),
                                  _c.max_bytes);
        ++_n.write_errors;
        return _last_error;
    }
    const auto have = list();
    if (skip_unchanged) {
        for (const auto& e : have) {
            if (!e.good()) continue;
            std::string why;
            if (const auto b = read(e, why); b && b->bytes == bytes) {
                ++_n.unchanged;
                return std::nullopt;
            }
            break;  // only the newest good one counts
        }
    }
    std::error_code ec;
    std::filesystem::create_directories(_c.dir, ec);
    std::optional<std::string> err;
    if (ec) err = fmt::format("cannot create the directory {}: {}", _c.dir, ec.message());
    const std::uint64_t seq = have.empty() ? 1 : have.front().seq + 1;
    if (!err)
        err = replace_file(fmt::format("{}/{}-{:08}{}", _c.dir, _c.prefix, seq, _c.suffix),
                           bytes_of(encode_backup(_c.kind, bytes, now)));
    if (err) {
        ++_n.write_errors;
        _last_error = *err;
        return err;
    }
    ++_n.saved;
    _last_error.clear();
    // The newest `keep` stay, the one just written among them.
    for (std::size_t i = _c.keep - 1; i < have.size(); ++i)
        if (::unlink(have[i].path.c_str()) == 0) ++_n.removed;
    return std::nullopt;
}

}  // namespace cg::control
