#include "control/controld/eal_leftovers.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

namespace cg::control {

namespace fs = std::filesystem;

namespace {

/// "<prefix>map_<digits>": EAL's HUGEFILE_FMT.
bool hugepage_file_of(const std::string& name, const std::string& prefix) {
    const std::string head = prefix + "map_";
    if (!name.starts_with(head) || name.size() == head.size()) return false;
    return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(head.size()), name.end(),
                       [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace

std::string eal_runtime_root() {
    if (::geteuid() == 0) return "/var/run/dpdk";
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    return std::string(xdg && *xdg ? xdg : "/tmp") + "/dpdk";
}

std::vector<std::string> hugetlbfs_mounts(const std::string& mounts_text) {
    std::vector<std::string> out;
    std::istringstream in(mounts_text);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string device, dir, type;
        if (f >> device >> dir >> type && type == "hugetlbfs") out.push_back(dir);
    }
    return out;
}

eal_removal remove_eal_leftovers(const std::string& prefix, const std::string& runtime_root,
                                 const std::vector<std::string>& huge_dirs) {
    eal_removal r;
    if (prefix.empty() || prefix == "." || prefix == ".." || prefix.find('/') != std::string::npos) {
        r.errors.push_back(fmt::format("EAL file prefix '{}' could name other files: nothing removed", prefix));
        return r;
    }
    std::error_code ec;
    const fs::path dir = fs::path(runtime_root) / prefix;
    if (fs::exists(dir, ec)) {
        const auto n = fs::remove_all(dir, ec);
        if (ec) r.errors.push_back(fmt::format("{}: {}", dir.string(), ec.message()));
        else r.runtime_files = static_cast<std::size_t>(n);
    }
    for (const auto& h : huge_dirs) {
        ec.clear();
        for (fs::directory_iterator it(h, ec), end; !ec && it != end; it.increment(ec)) {
            if (!hugepage_file_of(it->path().filename().string(), prefix)) continue;
            std::error_code rm;
            if (fs::remove(it->path(), rm)) ++r.hugepage_files;
            else if (rm) r.errors.push_back(fmt::format("{}: {}", it->path().string(), rm.message()));
        }
        if (ec) r.errors.push_back(fmt::format("{}: {}", h, ec.message()));
    }
    return r;
}

}  // namespace cg::control
