// A directory of numbered backups of one thing, the newest `keep` kept:
// the configuration file (config_backups.hpp) and each node's state
// (state_store.hpp). Each backup is one file, <dir>/<prefix>-<seq><suffix>:
// a first line that is a comment, then the backed-up bytes unchanged:
//   # clustergate <kind> backup v1 bytes=<n> crc32c=<8 hex> saved_ms=<ms since the epoch>
// crc32c is CRC-32C of the bytes after that line. A file that is torn,
// tampered with or of another version is reported with its problem and
// passed over; the next older good one is used. Files are written whole
// and renamed into place (durable_file.hpp).
//
// Thread-safety: none for a backup_dir (one owner); the free functions are
// reentrant.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "control/controld/escalation.hpp"  // wall_time

namespace cg::control {

inline constexpr std::uint32_t backup_version = 1;

struct backup_bytes {
    std::string bytes;  ///< what was backed up
    wall_time saved{};
};

/// The whole backup file of `kind` ("configuration", "node state") for
/// `bytes` saved at `at`.
std::string encode_backup(std::string_view kind, std::string_view bytes, wall_time at);
/// What a backup file of `kind` holds, or why it cannot be used ("no
/// header line", "torn: 100 of 1200 bytes", "checksum mismatch ...",
/// "version 2: this controld reads version 1"). Never throws.
std::variant<backup_bytes, std::string> decode_backup(std::string_view kind, std::string_view file);

/// One file of a backup directory.
struct backup_entry {
    std::uint64_t seq = 0;
    std::string path;
    wall_time saved{};
    std::size_t bytes = 0;  ///< the backed-up bytes'
    std::string problem;    ///< why it cannot be used; empty: good
    bool good() const { return problem.empty(); }
};

struct backup_dir_config {
    std::string dir;
    std::string prefix;  ///< "config"
    std::string suffix;  ///< ".yaml"
    std::string kind;    ///< "configuration", in each file's header line
    std::uint32_t keep = 3;
    std::size_t max_bytes = 16u << 20;  ///< larger is neither saved nor read back
};

class backup_dir {
public:
    explicit backup_dir(backup_dir_config c);

    /// The backups, newest first, the bad ones with their problem (each
    /// bad file counted once in bad_found).
    std::vector<backup_entry> list() const;
    /// The newest good one of list(), if any.
    std::optional<backup_entry> newest_good() const;
    /// The bytes of one of list()'s entries, or nullopt with why.
    std::optional<backup_bytes> read(const backup_entry& e, std::string& why) const;
    /// Saves `bytes` as the newest backup (with `skip_unchanged`, not when
    /// the newest good one holds the same bytes: counted `unchanged`); the
    /// oldest files beyond `keep` are removed. Why it could not, or nullopt.
    std::optional<std::string> save(std::string_view bytes, wall_time now, bool skip_unchanged);

    struct counts {
        std::uint64_t saved = 0, unchanged = 0, write_errors = 0, bad_found = 0, removed = 0;
    };
    const counts& counters() const { return _n; }
    const backup_dir_config& config() const { return _c; }
    const std::string& last_error() const { return _last_error; }

private:
    std::optional<std::uint64_t> seq_of(const std::string& name) const;

    backup_dir_config _c;
    mutable counts _n;  // list() counts the bad files it finds
    mutable std::set<std::string> _bad_seen;
    std::string _last_error;
};

/// "2026-12-03 07:30:00.123 UTC".
std::string format_wall(wall_time t);

}  // namespace cg::control
