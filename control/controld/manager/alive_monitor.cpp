#include "control/controld/manager/alive_monitor.hpp"

namespace cg::control {

void alive_monitor::heard(common::ipv4_addr node, clock::time_point now) {
    auto [it, fresh] = _nodes.try_emplace(node, alive_monitor::node{now, now});
    if ((fresh || !it->second.agent) || now > it->second.last) it->second.last = now;
    it->second.agent = true;
}

void alive_monitor::reported(common::ipv4_addr reporter, common::ipv4_addr server, bool unreachable,
                             clock::time_point now) {
    auto [it, fresh] = _nodes.try_emplace(server, alive_monitor::node{now, now});
    if (unreachable)
        it->second.unreachable_by.insert(reporter);
    else
        it->second.unreachable_by.erase(reporter);
}

void alive_monitor::mirrored(const std::map<common::ipv4_addr, std::chrono::milliseconds>& silent,
                             clock::time_point now) {
    for (auto& [addr, n] : _nodes) n.mirror_silent.reset();
    for (const auto& [addr, waited] : silent)
        _nodes.try_emplace(addr, alive_monitor::node{now, now}).first->second.mirror_silent = waited;
}

common::ipv4_addr alive_monitor::reporter_of(const node& n, clock::time_point now) const {
    for (const common::ipv4_addr r : n.unreachable_by) {
        const auto t = _nodes.find(r);
        if (t != _nodes.end() && t->second.agent && now - t->second.last < _timeout) return r;
    }
    return 0;
}

std::vector<alive_monitor::change> alive_monitor::check(clock::time_point now) {
    std::vector<change> out;
    const auto ms = [](clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
    for (auto& [addr, n] : _nodes) {
        const bool was = _failed.contains(addr);
        const bool silent = n.agent && now - n.last >= _timeout;
        const common::ipv4_addr by = silent ? 0 : reporter_of(n, now);
        const bool mirror = !silent && !by && n.mirror_silent;
        if (!was && (silent || by || mirror)) {
            _failed.insert(addr);
            n.silent_since = n.agent ? n.last : now;
            ++_failures;
            const auto quiet = mirror ? *n.mirror_silent : n.agent ? ms(now - n.last) : std::chrono::milliseconds{0};
            out.push_back({addr, true, quiet, by, mirror});
        } else if (was && !silent && !by && !n.mirror_silent && (!n.agent || n.last > n.silent_since)) {
            _failed.erase(addr);
            ++_recoveries;
            out.push_back({addr, false, ms((n.agent ? n.last : now) - n.silent_since)});
        }
    }
    return out;
}

}  // namespace cg::control
