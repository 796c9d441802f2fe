// cg-pktgen's command line: what to send, where, for how long. Parsing
// only; pktgen.cpp runs it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/net_types.hpp"
#include "flow_plan.hpp"

namespace cg::bench {

struct node_spec {
    common::mac_addr mac;
    std::uint32_t weight = 1;
};

struct pktgen_config {
    // EAL and port
    std::string device = "net_memif0,role=client,socket=/run/clustergate/bench.memif,socket-abstract=no";
    /// A second port, toward the backup gateway: when the first one's link
    /// goes down, the traffic moves to it (as a switch's would after the
    /// backup's gratuitous ARP). Empty: none.
    std::string backup_device;
    std::string prefix = "cg-pktgen";
    unsigned cpu = 0;             ///< the CPU both lcores (main: reporting, worker: TX+RX) run on
    unsigned memory_mb = 0;       ///< EAL -m; 0 = as needed
    bool huge = true;
    std::uint32_t mbufs = 16383;
    double connect_timeout_s = 10;
    std::vector<std::string> eal_extra;

    // traffic
    std::optional<common::mac_addr> src_mac;  ///< default: the port's MAC
    common::mac_addr dst_mac{{0x02, 0, 0, 0, 0, 0x01}};
    common::ipv4_addr vip = 0xc6120064;  // 198.18.0.100
    std::uint16_t dport = 80;
    std::uint32_t flows = 1000;
    double cps = 0;               ///< new connections per second in the measurement; 0 = none
    mix traffic_mix;              ///< used when cps is 0
    double malformed = 0;         ///< fraction of all packets sent malformed
    std::uint16_t size = 64;
    std::uint16_t burst = 32;
    double rate = 0;              ///< packets per second; 0 = as fast as the port takes them
    bool warmup = true;           ///< open every flow (one SYN each) before measuring
    bool assume_open = false;     ///< the peer holds every flow already (generation 1): no warm-up
    double warmup_rate = 0;       ///< SYNs per second in the warm-up; 0 = as fast as possible
    double settle_s = 0.2;        ///< quiet time between warm-up and measurement
    double duration_s = 5;        ///< measurement window
    std::uint64_t count = 0;      ///< the window also ends after this many packets; 0 = no limit
    double drain_s = 0.2;         ///< receive-only time after the window
    double tx_backoff_ns = 500;   ///< wait after the port refused packets (its ring is full)
    std::vector<node_spec> nodes; ///< expected node MACs and weights; none: no node checks

    /// /proc/PID/task/TID/schedstat files read when the window opens and
    /// closes: how much CPU time a thread (the gateway's worker) got in it.
    std::vector<std::string> cpu_probes;

    // output
    std::string json_path;        ///< also write the JSON line here
    double max_loss_pct = -1;     ///< exit 3 when the loss is above this (or a node check failed); < 0: never
    bool progress = true;         ///< a line per second on stderr
};

/// "1000", "100k", "2.5M", "1G" (k = 1e3, M = 1e6, G = 1e9). nullopt on
/// anything else, negative values included.
std::optional<double> parse_count(std::string_view s);
/// "02:00:00:00:01:01=3" (MAC, '=', weight) or a bare MAC (weight 1).
std::optional<node_spec> parse_node(std::string_view s);

struct parse_outcome {
    std::optional<pktgen_config> cfg;  ///< nullopt: exit with `exit_code`
    int exit_code = 0;
    std::optional<std::uint32_t> table_bytes_for;  ///< --table-bytes N: print and exit, no EAL
};

/// Parses argv (the part before "--"; after it come extra EAL arguments).
/// Prints usage or errors to stdout/stderr itself.
parse_outcome parse_pktgen_args(int argc, char** argv);

}  // namespace cg::bench
