// Backups of the configuration file (requirements 8.1's PH3.0; docs/operations.md
// "Restart escalation"): the file as controld last loaded it is saved every
// `supervision.backup_every` while gatewayd runs with it, the last
// `supervision.backups_kept` kept, so that a file that no longer loads, or
// keeps the gateway failing, can be replaced by the last good one.
//
// One backup per file, <dir>/config-<seq>.yaml (backup_dir.hpp): a first
// line that is a YAML comment, then the configuration's bytes unchanged
// (so a backup is itself a file gatewayd and controld can read):
//   # clustergate configuration backup v1 bytes=<n> crc32c=<8 hex> saved_ms=<ms since the epoch>
// A backup that is torn, tampered with or of another version is reported
// and skipped; the next older good one is used.
//
// Thread-safety: none for a config_backups (one owner); the free functions
// are reentrant.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "control/controld/backup_dir.hpp"
#include "control/controld/escalation.hpp"

namespace cg::control {

/// A configuration file larger than this is not backed up (nor read back).
inline constexpr std::size_t config_backup_max = 16u << 20;

struct config_backup {
    std::string yaml;  ///< the configuration file's bytes
    wall_time saved{};
};

/// The whole backup file for `yaml` saved at `at`.
std::string encode_config_backup(std::string_view yaml, wall_time at);
/// The configuration a backup file holds, or why it cannot be used
/// ("no header line", "torn: 100 of 1200 bytes", "checksum mismatch ...",
/// "version 2: this controld reads version 1"). Never throws.
std::variant<config_backup, std::string> decode_config_backup(std::string_view file);

/// A configuration to start from instead of the current file.
struct restore_choice {
    std::string yaml;
    std::string what;  ///< "backup 7 (saved 2026-12-03 07:30:00.123 UTC)", "the initial file /etc/...initial"
};

class config_backups {
public:
    config_backups(std::string dir, std::uint32_t keep);

    /// The backups, newest first, the bad ones with their problem.
    std::vector<backup_entry> list() const { return _d.list(); }
    /// The configuration of one of list()'s entries, or nullopt with why.
    std::optional<config_backup> read(const backup_entry& e, std::string& why) const;
    /// Saves `yaml` unless the newest good backup holds the same bytes
    /// (then nothing is written); the oldest files beyond `keep` are
    /// removed. Why it could not, or nullopt.
    std::optional<std::string> save(std::string_view yaml, wall_time now) { return _d.save(yaml, now, true); }
    /// The newest good backup whose configuration differs from `current`
    /// and that `loads` accepts, else `initial_file` under the same
    /// conditions, else nullopt. Each backup passed over is said in `skipped`.
    std::optional<restore_choice> choose(std::string_view current, const std::string& initial_file,
                                         const std::function<bool(const std::string&)>& loads,
                                         std::vector<std::string>& skipped);

    using counts = backup_dir::counts;
    const counts& counters() const { return _d.counters(); }
    const std::string& dir() const { return _d.config().dir; }
    std::uint32_t keep() const { return _d.config().keep; }
    const std::string& last_error() const { return _d.last_error(); }

private:
    backup_dir _d;
};

/// Writes `yaml` over the configuration file `path` atomically; the file it
/// replaces is kept as <path>.replaced. Why not, or nullopt.
std::optional<std::string> install_config(const std::string& path, std::string_view yaml);

}  // namespace cg::control
