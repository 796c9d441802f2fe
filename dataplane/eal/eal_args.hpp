// From the configuration to the EAL command line gatewayd starts with, and
// from a port's `device` string to the ethdev it names. Pure, so that the
// mapping is unit-tested.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"

namespace cg::dp {

enum class device_kind { pci, vdev, existing };

struct device_ref {
    device_kind kind;
    std::string name;  ///< the ethdev name: PCI address with domain, or the vdev name
    std::string arg;   ///< what goes to EAL (-a or --vdev); empty for `existing`
};

/// "0000:03:00.0" or "03:00.0" (optionally ",devargs"): a PCI device;
/// "net_xxx[,args]": a virtual device; "eth:NAME": an ethdev that already
/// exists in the process (tests, embedding). Anything else: nullopt.
std::optional<device_ref> parse_device(const std::string& device);

/// argv for rte_eal_init (argv[0] included). `extra` is appended last, so
/// that it can override. Precondition: every port device parses.
std::vector<std::string> eal_args(const common::gateway_cfg& cfg, const std::vector<std::string>& extra = {});

}  // namespace cg::dp
