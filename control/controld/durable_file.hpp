// Files that must survive a crash and a power cut at any instant: written
// whole to a temporary name, fsynced, renamed into place, and the directory
// fsynced (the escalation counts, the configuration backups). Every error
// comes back as text ("cannot fsync <file>: <why>"); nothing throws but
// bad_alloc.
//
// Thread-safety: reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace cg::control {

/// A string's bytes, as the writers below take them.
inline std::span<const std::uint8_t> bytes_of(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

/// "<what>: <strerror(err)>".
std::string errno_text(const std::string& what, int err);

struct missing_file {};

/// A regular file's bytes, missing_file when there is none, or why it
/// cannot be read (not a regular file, larger than `max_bytes`, an I/O error).
std::variant<std::vector<std::uint8_t>, missing_file, std::string> read_whole(const std::string& path,
                                                                               std::size_t max_bytes);
/// read_whole as text; on failure "" with `why` set ("missing" for no file).
std::string read_text(const std::string& path, std::size_t max_bytes, std::string& why);
/// Writes `bytes` to a new file at `path` (mode 0600) and fsyncs it.
std::optional<std::string> write_synced(const std::string& path, std::span<const std::uint8_t> bytes);
/// fsync of a directory: its renames are on disk once it returns.
std::optional<std::string> fsync_directory(const std::string& dir);
/// `path`'s directory, "." for a bare name.
std::string directory_of(const std::string& path);
/// Puts `bytes` at `path` atomically: <path>.tmp written and fsynced,
/// renamed over `path`, the directory fsynced. On an error `path` is as
/// it was (a stray <path>.tmp removed).
std::optional<std::string> replace_file(const std::string& path, std::span<const std::uint8_t> bytes);

}  // namespace cg::control
