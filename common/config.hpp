// The configuration model of a gateway: what conf/gateway.yaml says, after
// defaults are applied. Every key is documented in docs/config.md.
//
// Two parts with different lifetimes:
//  - static part (gateway, eal, lcores, ports, tables, timers): read once at
//    start; changing it needs a restart.
//  - cluster tables (clusters -> ports -> nodes, SPEC 2.1): the run-time
//    state that the control API edits (SPEC 2.8). The controller keeps its
//    own copy and validates every edit with the same rules as the file.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net_types.hpp"

namespace cg::common {

using millis = std::chrono::milliseconds;
using micros = std::chrono::microseconds;

/// Upper bounds that keep 32-bit millisecond clocks and 16-bit slots safe.
inline constexpr std::uint32_t max_weight_bound = 65535;
inline constexpr millis max_timeout{24LL * 24 * 3600 * 1000};  // 24 days < 2^31 ms
inline constexpr std::uint32_t max_node_slots = 65535;
inline constexpr std::uint32_t max_service_slots = 65535;

struct node_cfg {
    ipv4_addr address = 0;
    std::optional<mac_addr> mac;           ///< nullopt: resolve by ARP on `port`
    std::uint32_t weight = 1;              ///< 0..effective bound
    std::optional<std::uint32_t> weight_bound;  ///< per-node cap, below the port's bound
    std::string port;                      ///< gateway port that reaches the node (resolved: never empty after load)
    bool quiesced = false;                 ///< takes no new connections, keeps its weight for later
    friend bool operator==(const node_cfg&, const node_cfg&) = default;
};

/// One port of a virtual cluster (SPEC 2.1 "port table" entry).
struct service_cfg {
    l4_proto protocol = l4_proto::tcp;
    std::uint16_t port = 0;
    millis msl{30'000};
    millis fin_timeout{90'000};      ///< FIN_TIME_OUT, default 3 x msl
    millis stale_timeout{8'100'000};  ///< STALE_TIME_OUT, default 2h15m
    std::uint32_t weight_bound = 100;
    std::vector<node_cfg> nodes;
    friend bool operator==(const service_cfg&, const service_cfg&) = default;
};

struct cluster_cfg {
    std::string name;
    ipv4_addr address = 0;  ///< the cluster address (VIP)
    std::vector<service_cfg> ports;
    friend bool operator==(const cluster_cfg&, const cluster_cfg&) = default;
};

struct port_cfg {
    std::string name;
    std::string device;                ///< PCI address or vdev string
    std::optional<ipv4_addr> address;  ///< the gateway's own address on this port
    std::optional<mac_addr> mac;       ///< set the port's MAC at start; default: the device's own
    std::uint16_t rx_descriptors = 1024;
    std::uint16_t tx_descriptors = 1024;
    friend bool operator==(const port_cfg&, const port_cfg&) = default;
};

struct lcore_cfg {
    unsigned main = 0;
    std::vector<unsigned> workers;
    std::optional<unsigned> dispatch;  ///< I/O lcore for single-queue ports
    friend bool operator==(const lcore_cfg&, const lcore_cfg&) = default;
};

struct table_cfg {
    std::uint32_t connections = 1'000'000;  ///< total over all workers
    std::uint32_t services = 256;           ///< cluster ports, all clusters together
    std::uint32_t nodes = 1024;             ///< node slots, draining nodes included
    std::uint32_t mbufs = 16383;
    std::uint16_t burst = 32;
    friend bool operator==(const table_cfg&, const table_cfg&) = default;
};

/// Defaults for every cluster port that does not set its own.
struct timer_cfg {
    millis msl{30'000};
    std::optional<millis> fin_timeout;  ///< nullopt: 3 x msl
    millis stale_timeout{8'100'000};
    millis arp_refresh{30'000};         ///< how often resolved node MACs are asked again
    friend bool operator==(const timer_cfg&, const timer_cfg&) = default;
};

struct eal_cfg {
    bool huge = true;
    std::uint32_t memory_mb = 0;        ///< 0: let EAL decide (-m not passed)
    std::vector<std::string> args;      ///< extra EAL arguments, passed as they are
    friend bool operator==(const eal_cfg&, const eal_cfg&) = default;
};

struct gateway_cfg {
    std::string name = "gw";
    std::string control_socket;  ///< default /run/clustergate/<name>.sock
    micros idle_sleep{0};        ///< sleep when a poll returns nothing; 0 = pure polling
    eal_cfg eal;
    lcore_cfg lcores;
    std::vector<port_cfg> ports;
    table_cfg tables;
    timer_cfg timers;
    std::vector<cluster_cfg> clusters;
    friend bool operator==(const gateway_cfg&, const gateway_cfg&) = default;
};

/// Where an error was found, and why. `where` is "file:line" for a file,
/// or the API request for an edit at run time.
struct config_error {
    std::string where;
    std::string key;     ///< path of the key, e.g. clusters[0].ports[1].nodes[2].weight
    std::string reason;
};

std::string format_error(const config_error& e);

}  // namespace cg::common
