// The configuration model of a gateway: what conf/gateway.yaml says, after
// defaults are applied. Every key is documented in docs/config.md.
//
// Two parts with different lifetimes:
//  - static part (gateway, eal, lcores, ports, tables, timers): read once at
//    start; changing it needs a restart.
//  - cluster tables (clusters -> ports -> nodes, requirements 2.1): the run-time
//    state that the control API edits (requirements 2.8). The controller keeps its
//    own copy and validates every edit with the same rules as the file.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
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

/// One port of a virtual cluster (requirements 2.1 "port table" entry).
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

/// Bounds of mirror.refresh: more often than every 10 ms is every frame in
/// all but name; past 10 minutes a standby learns too late.
inline constexpr millis min_mirror_refresh{10};
inline constexpr millis max_mirror_refresh{600'000};

/// What the active's mirror copies (requirements 3.2): every frame it forwards, or
/// only what changes a connection's state plus a periodic refresh.
enum class mirror_mode : std::uint8_t { every_frame, state_changes };

/// A cluster, or one of its ports, whose forwarded frames are mirrored.
struct mirror_service_cfg {
    std::string cluster;                 ///< a cluster's name
    std::optional<l4_proto> protocol;    ///< with `port`; default tcp
    std::optional<std::uint16_t> port;   ///< nullopt: every port of the cluster
    friend bool operator==(const mirror_service_cfg&, const mirror_service_cfg&) = default;
};

/// The gateway pair's mirror link (requirements 3.2, docs/config.md "mirror"): the
/// active copies the frames it forwards to `port`; the standby follows the
/// frames that arrive there into its connection tables.
struct mirror_cfg {
    std::string port;  ///< a port of `ports`, dedicated to the mirror (no node behind it)
    mirror_mode mode = mirror_mode::state_changes;
    millis refresh{1000};  ///< state_changes: one copy per connection per interval at most
    std::vector<mirror_service_cfg> services;  ///< empty: every cluster port
    friend bool operator==(const mirror_cfg&, const mirror_cfg&) = default;
};

/// Whether `mirror.services` (empty: all) includes the cluster port.
bool mirrors(const mirror_cfg& m, const std::string& cluster, l4_proto proto, std::uint16_t port);

/// What a server port speaks to the mirror parser (docs/config.md
/// "mirror_parser"); the names are dataplane/mirror's port_proto_names.
inline constexpr std::array<std::string_view, 7> span_protocols{"tcp", "rpc", "nfs", "mount", "portmapper", "smb", "http"};

struct span_protocol_cfg {
    std::uint16_t port = 0;
    std::string protocol;  ///< one of span_protocols; "tcp" takes a default port out
    friend bool operator==(const span_protocol_cfg&, const span_protocol_cfg&) = default;
};

/// The mirror parser (requirements 6.2, docs/config.md "mirror_parser"): the
/// ports that carry a switch's SPAN copies of a node's port (no node behind
/// them, nothing sent on them, no ARP answered there) and the lcores that
/// parse them. Read once at start.
struct mirror_parser_cfg {
    std::vector<std::string> ports;     ///< names of `ports` entries
    std::vector<unsigned> lcores;       ///< a worker's lcore or one of its own; the first also reads the ports
    std::uint32_t connections = 1024;   ///< followed at once, per parser lcore
    std::uint32_t request_chunks = 8192;  ///< 2 KiB chunks per parser lcore for unanswered requests' bytes
    std::uint32_t ring_size = 1024;     ///< frames queued for each parser lcore
    /// On top of 2049 nfs, 111 portmapper, 445 smb.
    std::vector<span_protocol_cfg> protocols;
    friend bool operator==(const mirror_parser_cfg&, const mirror_parser_cfg&) = default;
};

struct gateway_cfg;
/// Whether `port` is one of the mirror parser's SPAN ports.
bool is_span_port(const gateway_cfg& cfg, const std::string& port);

struct eal_cfg {
    bool huge = true;
    std::uint32_t memory_mb = 0;        ///< 0: let EAL decide (-m not passed)
    std::vector<std::string> args;      ///< extra EAL arguments, passed as they are
    friend bool operator==(const eal_cfg&, const eal_cfg&) = default;
};

/// controld's manager (requirements 4): how it measures nodes and moves weights.
/// gatewayd reads and ignores this part. docs/weights.md explains the numbers.
struct importance_cfg {  ///< w[i] of requirements 4.6 per metric; 0 = off
    double conns = 1;        ///< active connections per node (per weight)
    double conn_rate = 0;    ///< new connections per second (per weight)
    double answer_time = 1;  ///< probe answer time (level)
    double load = 0, cpu = 0, memory = 0, sockets = 0, script = 0;  ///< node agents' host figures (levels)
    friend bool operator==(const importance_cfg&, const importance_cfg&) = default;
};

enum class probe_kind : std::uint8_t { tcp, http };

/// A forward metric (requirements 4.3): every node of one cluster port is probed.
struct probe_cfg {
    ipv4_addr cluster = 0;
    l4_proto protocol = l4_proto::tcp;
    std::uint16_t port = 0;               ///< the cluster port (service) whose nodes are probed
    probe_kind type = probe_kind::tcp;
    std::optional<std::uint16_t> target;  ///< the node's port to probe; default: `port`
    std::string path = "/";               ///< http: the GET target
    std::uint16_t expect = 200;           ///< http: the status that counts as an answer
    millis interval{1000};
    millis timeout{500};
    friend bool operator==(const probe_cfg&, const probe_cfg&) = default;
};

/// "These nodes take no new connections between from and to" (requirements 4.4),
/// local time of day; a window may wrap past midnight.
struct rule_cfg {
    std::string name;
    std::vector<ipv4_addr> nodes;
    std::uint16_t from = 0, to = 0;  ///< minutes after midnight
    friend bool operator==(const rule_cfg&, const rule_cfg&) = default;
};

/// A user metric (requirements 4.4): a command run per node ({node} replaced by its
/// address) whose output is a number, a level.
struct user_metric_cfg {
    std::string name;
    std::string command;
    millis interval{5000};
    millis timeout{2000};
    double importance = 1;
    friend bool operator==(const user_metric_cfg&, const user_metric_cfg&) = default;
};

/// The longest reset window (agents_cfg::reset_window, set_role_req): far
/// below the 24 days after which the worker clock's difference would wrap,
/// and below any sane stale timer.
inline constexpr std::uint32_t max_reset_window_ms = 3'600'000;

struct agents_cfg {
    std::string listen;    ///< address:port where controld takes node reports (UDP)
    std::string key_file;  ///< the HMAC key both sides read
    millis stale{3000};    ///< no report for this long: the node takes no new connections (requirements 4.2)
    millis max_skew{30000};
    /// Where each node's agent answers takeover queries (nodeagent
    /// --shadow-listen), at the node's address. Set: a restarted gatewayd
    /// starts as standby, gets the connections the nodes hold, then forwards.
    std::optional<std::uint16_t> shadow_port;
    millis shadow_deadline{1000};  ///< a node silent this long is presumed down: its connections are not restored
    /// After a restore, for this long a TCP segment of a connection no live
    /// node holds gets a reset (its client reconnects at once); 0: dropped.
    millis reset_window{60000};
    /// Alive monitoring (requirements 6.3): a node whose agent has spoken and
    /// then sent nothing (signs of life come every 20 ms) for this long is
    /// marked failed in gatewayd: its clients are reset and reconnect to
    /// live nodes. 0: off.
    millis alive_timeout{0};
    /// The mirror's own sign of a dead node (requirements 6.3): a node its
    /// clients have been retransmitting to for this long, with no frame
    /// from it since, as gatewayd's mirror parser sees it, is failed like a
    /// silent one. Needs alive_timeout and a mirror_parser. 0: off.
    millis mirror_silence{0};
    friend bool operator==(const agents_cfg&, const agents_cfg&) = default;
};

/// The gateway pair (docs/operations.md "Gateway pair"): this controld and
/// its peer on the other gateway exchange heartbeats over UDP on an
/// internal link; the backup takes over when the active one, or its
/// gatewayd, stops.
struct pair_cfg {
    std::string listen;    ///< address:port of this controld's heartbeats (UDP)
    std::string peer;      ///< address:port of the peer's
    std::string key_file;  ///< the HMAC key both controlds read
    millis interval{10};   ///< between two heartbeats
    millis dead_time{50};  ///< no heartbeat for this long: the peer is down
    std::uint8_t priority = 100;  ///< when both start at once, the higher one becomes active
    /// The active hands over to a peer that wins (priority, then address)
    /// once that peer has been a healthy backup for this long; 0: never
    /// (a recovered gateway stays the backup). The same on both gateways.
    millis preempt_delay{0};
    millis max_skew{30000};
    /// controld's real-time priority (SCHED_RR, 1-99; 0: none), so that a
    /// busy machine does not delay a heartbeat past the dead time. What
    /// controld starts runs with normal priority.
    std::uint8_t rt_priority = 10;
    /// Auto-heal: hosts where a new gateway instance can be started when the
    /// peer's whole instance is dead; it joins the pair as the peer.
    struct pool_host {
        std::string address;  ///< address:port of its controld's heartbeats (its manager.pair.listen)
        std::string start;    ///< /bin/sh command that starts it; {peer}: this controld's listen, {failed}: the dead peer's
        friend bool operator==(const pool_host&, const pool_host&) = default;
    };
    std::vector<pool_host> pool;
    millis heal_after{3000};     ///< the peer silent this long: its instance is dead, one is started from the pool
    millis heal_timeout{30000};  ///< a pool host started but not heard by then: the next one
    friend bool operator==(const pair_cfg&, const pair_cfg&) = default;
};

/// State backups (requirements 7.3; docs/operations.md "State backups"):
/// every `every`, controld asks the agent of each working node that has a
/// spare for the node's state (the output of its --backup-command) and
/// keeps the last `keep` of each in `dir`; when the node fails, the newest
/// goes to the spare's agent, whose --restore-command takes it before the
/// spare takes the node's connections. Needs agents.shadow_port.
struct state_backups_cfg {
    millis every{60'000};
    std::uint32_t keep = 3;
    std::string dir;          ///< default /var/lib/clustergate/<gateway.name>-state
    millis timeout{30'000};   ///< for one backup (command and transfer), and for the spare's restore
    friend bool operator==(const state_backups_cfg&, const state_backups_cfg&) = default;
};

struct manager_cfg {
    std::string gatewayd;        ///< the program controld starts; default: gatewayd beside controld
    std::string control_socket;  ///< controld's own; default /run/clustergate/<gateway.name>-controld.sock
    std::string prometheus = "127.0.0.1:9650";  ///< text metrics endpoint; empty = off
    millis period{1000};         ///< counter reading and weight computing period (requirements 4.1, 4.7)
    double smoothing = 4;        ///< SF >= 1
    double threshold = 0.05;     ///< share of the total weight that must move before a push
    double min_weight = 1;
    importance_cfg importance;
    std::optional<agents_cfg> agents;
    std::optional<pair_cfg> pair;
    std::optional<state_backups_cfg> state_backups;
    std::vector<probe_cfg> probes;
    std::vector<rule_cfg> rules;
    std::vector<user_metric_cfg> metrics;
    friend bool operator==(const manager_cfg&, const manager_cfg&) = default;
};

/// The rungs of the restart escalation ladder that have a limit, in its
/// order (requirements 8.2, docs/operations.md "Restart escalation"); auto-heal,
/// the last rung, has none. Their keys under supervision.ladder.
inline constexpr std::size_t limited_rungs = 5;
inline constexpr std::array<std::string_view, limited_rungs> rung_keys{"ph0_5", "ph1_0", "ph2_0", "ph2_5", "ph3_0"};

/// A rung's restart intensity (Erlang/OTP's MaxR in MaxT): at most
/// `failures` recoveries at this rung within `window`; one more goes to the
/// next rung. 0 failures: the rung is passed over.
struct rung_limit_cfg {
    std::uint32_t failures = 1;
    millis window{60'000};
    friend bool operator==(const rung_limit_cfg&, const rung_limit_cfg&) = default;
};

/// controld's supervision of its gatewayd (requirements 8): the escalation
/// ladder's limits and where its counts are kept. gatewayd reads and ignores it.
struct supervision_cfg {
    std::string store;             ///< the counts' file; default /var/lib/clustergate/<gateway.name>.escalation
    millis healthy_after{300'000};  ///< up this long without a failure: the counts clear, the ladder starts again at PH0.5
    /// gatewayd silent on its control socket, or a worker's loop counter
    /// still, this long (once it has answered since its start): hung, killed
    /// with SIGKILL, and up the ladder.
    millis hung_after{2'000};
    std::uint32_t history = 20;    ///< recoveries kept (and shown)
    /// The configuration file as controld loaded it is backed up this often
    /// while gatewayd runs (a new backup only when it changed); 0: never.
    millis backup_every{60'000};
    std::uint32_t backups_kept = 10;  ///< the newest backups kept
    /// PH0.5, PH1.0, PH2.0, PH2.5, PH3.0 (rung_keys).
    std::array<rung_limit_cfg, limited_rungs> ladder{{{3, millis{60'000}},
                                                       {2, millis{120'000}},
                                                       {2, millis{600'000}},
                                                       {1, millis{1'800'000}},
                                                       {1, millis{3'600'000}}}};
    friend bool operator==(const supervision_cfg&, const supervision_cfg&) = default;
};

/// One entry of the spare correspondence table (requirements 7.1;
/// docs/config.md "spares"): working node addresses first..last, each with
/// its spare at the same offset, spare_first + (node - first). Written in
/// the file as {node, spare} or {nodes: first-last, offset}, with
/// `terminators: [k, ...]`: each node A's front-ends ("terminators") at
/// A+k, whose spares are the spare's, B+k.
struct spare_cfg {
    ipv4_addr first = 0, last = 0;
    std::int64_t offset = 0;  ///< spare - node
    std::vector<std::int64_t> terminators;  ///< k: terminator - node, the same for every node of the entry
    friend bool operator==(const spare_cfg&, const spare_cfg&) = default;
};

/// The spare of working node `node` by `spares` (a node's terminator's: the
/// spare's terminator at the same offset), or nullopt.
std::optional<ipv4_addr> spare_of(const std::vector<spare_cfg>& spares, ipv4_addr node);
/// The terminators of working node `node` (node + k for each k of its entry).
std::vector<ipv4_addr> terminators_of(const std::vector<spare_cfg>& spares, ipv4_addr node);
/// Every terminator of every working node of `spares` (whose agents may report their servers).
std::set<ipv4_addr> terminator_addresses(const std::vector<spare_cfg>& spares);
/// One piece of the correspondence, as checked: an entry's nodes, or its
/// nodes' terminators at one offset k, with their spares (`key` names it).
struct spare_piece {
    std::int64_t first = 0, last = 0, offset = 0;
    std::string key;  ///< "spares[198.18.0.11]", "spares[198.18.0.11].terminators[0]"
};
std::vector<spare_piece> spare_pieces(const std::vector<spare_cfg>& spares);
/// How an error names the entry: "spares[198.18.0.11]", "spares[198.18.0.12-198.18.0.19]".
std::string spare_key(const spare_cfg& s);
/// `spares` with `node`'s entry replaced: taken out of the entry that
/// covers it (a range is split around it), then, with `spare`, given an
/// entry of its own. The rest keep their order.
std::vector<spare_cfg> with_spare(const std::vector<spare_cfg>& spares, ipv4_addr node, std::optional<ipv4_addr> spare);

struct gateway_cfg {
    std::string name = "gw";
    std::string control_socket;  ///< default /run/clustergate/<name>.sock
    micros idle_sleep{0};        ///< sleep when a poll returns nothing; 0 = pure polling
    eal_cfg eal;
    lcore_cfg lcores;
    std::vector<port_cfg> ports;
    table_cfg tables;
    timer_cfg timers;
    std::optional<mirror_cfg> mirror;  ///< nullopt: no mirror port
    std::optional<mirror_parser_cfg> mirror_parser;  ///< nullopt: no SPAN port, no parser
    std::vector<cluster_cfg> clusters;
    std::vector<spare_cfg> spares;  ///< the spare correspondence table
    manager_cfg manager;
    supervision_cfg supervision;
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

/// gatewayd's EAL file prefix ("cg-<gateway.name>"): its runtime directory
/// and hugepage files are named after it (dataplane/eal/eal_args.cpp passes
/// it; controld's PH2.0 removes what it names, control/controld/eal_leftovers.hpp).
std::string eal_file_prefix(const gateway_cfg& cfg);

/// The port a node reaches when it names none: the one port that is not the
/// mirror's; empty when there are several (the checks then say so).
std::string default_node_port(const gateway_cfg& cfg);

/// Every node address of the cluster tables, whatever port it serves.
std::set<ipv4_addr> node_addresses(const std::vector<cluster_cfg>& clusters);

}  // namespace cg::common
