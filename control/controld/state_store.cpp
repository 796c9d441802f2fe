#include "control/controld/state_store.hpp"

#include <algorithm>
#include <filesystem>

namespace cg::control {

state_store::state_store(std::string dir, std::uint32_t keep, std::size_t max_bytes)
    : _dir(std::move(dir)), _keep(keep), _max(max_bytes) {}

backup_dir& state_store::of(common::ipv4_addr node) {
    auto it = _nodes.find(node);
    if (it == _nodes.end())
        it = _nodes.emplace(node, backup_dir({_dir + "/" + common::format_ipv4(node), "state", ".bin", "node state",
                                              _keep, _max}))
                 .first;
    return it->second;
}

std::optional<std::string> state_store::save(common::ipv4_addr node, std::string_view bytes, wall_time taken) {
    return of(node).save(bytes, taken, false);
}

std::vector<backup_entry> state_store::list(common::ipv4_addr node) { return of(node).list(); }

std::optional<backup_bytes> state_store::newest(common::ipv4_addr node, backup_entry& which, std::string& why) {
    const backup_dir& d = of(node);
    std::string problems;
    for (const backup_entry& e : d.list()) {
        if (!e.good()) {
            problems += (problems.empty() ? "" : "; ") + e.path + ": " + e.problem;
            continue;
        }
        if (auto b = d.read(e, why)) {
            which = e;
            return b;
        }
        problems += (problems.empty() ? "" : "; ") + e.path + ": " + why;
    }
    why = problems.empty() ? "no state backup of " + common::format_ipv4(node) : problems;
    return std::nullopt;
}

std::vector<common::ipv4_addr> state_store::nodes() const {
    std::vector<common::ipv4_addr> out;
    std::error_code ec;
    for (const auto& f : std::filesystem::directory_iterator(_dir, ec))
        if (auto a = common::parse_ipv4(f.path().filename().string()); a && f.is_directory(ec)) out.push_back(*a);
    std::sort(out.begin(), out.end());
    return out;
}

backup_dir::counts state_store::counters() const {
    backup_dir::counts sum;
    for (const auto& [_, d] : _nodes) {
        const auto& n = d.counters();
        sum.saved += n.saved;
        sum.unchanged += n.unchanged;
        sum.write_errors += n.write_errors;
        sum.bad_found += n.bad_found;
        sum.removed += n.removed;
    }
    return sum;
}

}  // namespace cg::control
