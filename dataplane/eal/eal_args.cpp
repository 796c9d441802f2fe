#include "dataplane/eal/eal_args.hpp"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

namespace cg::dp {

std::optional<device_ref> parse_device(const std::string& device) {
    static const std::regex pci(R"(^(([0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])(,.*)?$)");
    static const std::regex vdev(R"(^(net_[A-Za-z0-9_]+)(,.*)?$)");
    std::smatch m;
    if (device.starts_with("eth:") && device.size() > 4) return device_ref{device_kind::existing, device.substr(4), ""};
    if (std::regex_match(device, m, pci)) {
        const std::string addr = m[2].matched ? m[1].str() : "0000:" + m[1].str();
        return device_ref{device_kind::pci, addr, device};
    }
    if (std::regex_match(device, m, vdev)) return device_ref{device_kind::vdev, m[1].str(), device};
    return std::nullopt;
}

std::vector<std::string> eal_args(const common::gateway_cfg& cfg, const std::vector<std::string>& extra) {
    std::vector<std::string> a{"gatewayd"};
    std::string lcores = std::to_string(cfg.lcores.main);
    for (unsigned w : cfg.lcores.workers) lcores += "," + std::to_string(w);
    if (cfg.lcores.dispatch) lcores += "," + std::to_string(*cfg.lcores.dispatch);
    if (cfg.mirror_parser)  // parser lcores of their own; the others are workers' already
        for (unsigned p : cfg.mirror_parser->lcores)
            if (std::find(cfg.lcores.workers.begin(), cfg.lcores.workers.end(), p) == cfg.lcores.workers.end())
                lcores += "," + std::to_string(p);
    a.insert(a.end(), {"-l", lcores, "--main-lcore", std::to_string(cfg.lcores.main)});
    a.insert(a.end(), {"--file-prefix", common::eal_file_prefix(cfg)});
    if (!cfg.eal.huge) a.emplace_back("--no-huge");
    if (cfg.eal.memory_mb > 0) a.insert(a.end(), {"-m", std::to_string(cfg.eal.memory_mb)});

    bool any_pci = false;
    for (const auto& p : cfg.ports) {
        const auto d = parse_device(p.device);
        if (!d) continue;
        if (d->kind == device_kind::pci) {
            any_pci = true;
            a.insert(a.end(), {"-a", d->arg});
        } else if (d->kind == device_kind::vdev) {
            a.push_back("--vdev=" + d->arg);
        }
    }
    // Without PCI ports, keep EAL away from the machine's real NICs.
    if (!any_pci) a.emplace_back("--no-pci");
    a.insert(a.end(), cfg.eal.args.begin(), cfg.eal.args.end());
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
}

}  // namespace cg::dp
