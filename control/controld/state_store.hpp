// controld's storage of the working nodes' state backups (requirements 7.3;
// docs/operations.md "State backups"): every period each working node with
// a spare sends its state (its agent's backup command's output), and the
// last `keep` of each node are kept on disk, one backup_dir per node:
// <dir>/<node address>/state-<seq>.bin, each file with its header line
// (length, CRC-32C, the time it was taken) before the bytes. When the node
// fails, the newest good one goes to its spare.
//
// Thread-safety: none (one owner).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net_types.hpp"
#include "control/controld/backup_dir.hpp"

namespace cg::control {

/// A node's state backup larger than this is refused (by the transfer too).
inline constexpr std::size_t state_backup_max = 64u << 20;

class state_store {
public:
    state_store(std::string dir, std::uint32_t keep, std::size_t max_bytes = state_backup_max);

    /// Saves `bytes` as `node`'s newest state, taken at `taken`. Why not, or nullopt.
    std::optional<std::string> save(common::ipv4_addr node, std::string_view bytes, wall_time taken);
    /// `node`'s backups, newest first, the bad ones with their problem.
    std::vector<backup_entry> list(common::ipv4_addr node);
    /// `node`'s newest good state and which file it is, or nullopt (none,
    /// or none good: `why` says).
    std::optional<backup_bytes> newest(common::ipv4_addr node, backup_entry& which, std::string& why);
    /// The nodes with a directory of backups, in address order.
    std::vector<common::ipv4_addr> nodes() const;

    /// Counts over every node's directory.
    backup_dir::counts counters() const;
    const std::string& dir() const { return _dir; }
    std::uint32_t keep() const { return _keep; }

private:
    backup_dir& of(common::ipv4_addr node);

    std::string _dir;
    std::uint32_t _keep;
    std::size_t _max;
    std::map<common::ipv4_addr, backup_dir> _nodes;
};

}  // namespace cg::control
