// Finding, configuring and starting the gateway's ports (PCI NICs or
// virtual devices), and reading their NIC counters. DPDK glue only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/config.hpp"
#include "common/ctl_msg.hpp"

struct rte_mempool;

namespace cg::dp {

struct port_info {
    std::string name;
    std::string device;
    std::uint16_t id = 0;
    common::mac_addr mac;
    std::optional<common::ipv4_addr> address;
};

/// Finds the ethdev of every configured port and starts it with `queues` RX
/// and TX queues (RSS across them when more than one), appending each to
/// `started` as soon as it runs, so that a failure half-way leaves the
/// caller a list of what to stop. Throws std::runtime_error naming the port
/// and the reason.
void start_ports(const common::gateway_cfg& cfg, std::uint16_t queues, rte_mempool* pool,
                 std::vector<port_info>& started);

void stop_ports(const std::vector<port_info>& ports) noexcept;

/// NIC counters and link state. Thread-safety: any thread (ethdev stats reads).
common::api::port_view port_view_of(const port_info& p);

}  // namespace cg::dp
