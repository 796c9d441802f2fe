// What a dead gatewayd's EAL left on the machine, and its removal: the
// PH2.0 rung (recovery_plan.hpp) has the next gatewayd start its EAL from
// nothing. DPDK names everything a process keeps outside its memory after
// its file prefix (common::eal_file_prefix): the runtime directory
// <runtime root>/<prefix> (its config, fbarray and socket files) and the
// hugepage files <hugetlbfs mount>/<prefix>map_<n>. Only those of this one
// prefix are touched: another gatewayd's (a pair's second gateway on the
// same host, a test's) are left alone, as is every other file.
//
// Called from: controld's supervision, after its gatewayd died and was
// reaped (never while it runs). Thread-safety: none needed (no state).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace cg::control {

struct eal_removal {
    std::size_t runtime_files = 0;   ///< files of the runtime directory (the directory too)
    std::size_t hugepage_files = 0;
    std::vector<std::string> errors;  ///< what could not be removed or read, and why
};

/// DPDK's runtime root for this process's user: /var/run/dpdk for root,
/// else $XDG_RUNTIME_DIR/dpdk, else /tmp/dpdk (as EAL's eal_get_runtime_dir).
std::string eal_runtime_root();
/// The hugetlbfs mount points listed in `mounts` (a /proc/mounts text).
std::vector<std::string> hugetlbfs_mounts(const std::string& mounts_text);

/// Removes the runtime directory of `prefix` under `runtime_root` and the
/// hugepage files of `prefix` in each of `huge_dirs`. A prefix that could
/// name something else (empty, ".", "..", a '/') removes nothing and says so.
eal_removal remove_eal_leftovers(const std::string& prefix, const std::string& runtime_root,
                                 const std::vector<std::string>& huge_dirs);

}  // namespace cg::control
