#include "control/controld/manager/alive_monitor.hpp"

namespace cg::control {

void alive_monitor::heard(common::ipv4_addr node, clock::time_point now) {
    auto [it, fresh] = _nodes.try_emplace(node, alive_monitor::node{now, now});
    if (!fresh && now > it->second.last) it->second.last = now;
}

std::vector<alive_monitor::change> alive_monitor::check(clock::time_point now) {
    std::vector<change> out;
    const auto ms = [](clock::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d); };
    for (auto& [addr, n] : _nodes) {
        const bool was = _failed.contains(addr);
        if (!was && now - n.last >= _timeout) {
            _failed.insert(addr);
            n.silent_since = n.last;
            ++_failures;
            out.push_back({addr, true, ms(now - n.last)});
        } else if (was && n.last > n.silent_since) {
            _failed.erase(addr);
            ++_recoveries;
            out.push_back({addr, false, ms(n.last - n.silent_since)});
        }
    }
    return out;
}

}  // namespace cg::control
