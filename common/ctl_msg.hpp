// The control API of gatewayd: typed requests and replies, versioned and
// framed, shared by gatewayd (server), gwctl and the console (clients), and
// controld. Never copied by hand: every program compiles against this file.
//
// Wire format (little endian):
//   frame  = header payload
//   header = magic u32 "CGW1" | version u16 | type u16 | length u32 | seq u32
//   payload: the message's fields in declaration order; integers fixed
//   width, strings and vectors as u32 count + elements, optionals as u8
//   flag + value.
// Compatibility: a message's type on the wire is its id in the type table
// below (`type_of`), never its place in the variants. An id, once given,
// never changes and is never reused; a new message takes a new id. Add new
// trailing fields only; bump `protocol_version` for anything else.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "flow_key.hpp"
#include "msg_type.hpp"
#include "net_types.hpp"
#include "tcp_repair_params.hpp"
#include "wire_fields.hpp"

namespace cg::common::api {

inline constexpr std::uint32_t frame_magic = 0x31574743;  // "CGW1" read as little-endian u32
inline constexpr std::uint16_t protocol_version = 1;
inline constexpr std::size_t header_size = 16;
inline constexpr std::uint32_t max_payload = 16u << 20;
inline constexpr std::uint16_t reply_type_base = 0x8000;  ///< request ids are below, reply ids from here

struct named_count {
    std::string name;
    std::uint64_t value = 0;
    CG_FIELDS(s.name, s.value)
};

// ---- requests ---------------------------------------------------------

struct hello_req {
    std::string client;
    CG_FIELDS(s.client)
};
/// Clusters, their ports and nodes with counters. vip 0 = all.
struct show_tables_req {
    ipv4_addr vip = 0;
    CG_FIELDS(s.vip)
};
struct add_cluster_req {
    std::string name;  ///< empty: the address as text
    ipv4_addr vip = 0;
    CG_FIELDS(s.name, s.vip)
};
struct del_cluster_req {
    ipv4_addr vip = 0;
    CG_FIELDS(s.vip)
};
using common::service_key;
struct add_port_req {
    service_key svc;
    std::optional<std::uint32_t> msl_ms, fin_ms, stale_ms, weight_bound;  ///< unset: the defaults
    CG_FIELDS(s.svc, s.msl_ms, s.fin_ms, s.stale_ms, s.weight_bound)
};
struct del_port_req {
    service_key svc;
    CG_FIELDS(s.svc)
};
struct add_node_req {
    service_key svc;
    ipv4_addr node = 0;
    std::optional<mac_addr> mac;  ///< unset: resolve by ARP
    std::uint32_t weight = 1;
    std::optional<std::uint32_t> weight_bound;
    std::string port;  ///< gateway port; empty when there is one
    bool quiesced = false;
    CG_FIELDS(s.svc, s.node, s.mac, s.weight, s.weight_bound, s.port, s.quiesced)
};
struct del_node_req {
    service_key svc;
    ipv4_addr node = 0;
    CG_FIELDS(s.svc, s.node)
};
/// Changes what is set, leaves the rest.
struct set_node_req {
    service_key svc;
    ipv4_addr node = 0;
    std::optional<std::uint32_t> weight;
    std::optional<bool> quiesced;
    CG_FIELDS(s.svc, s.node, s.weight, s.quiesced)
};
struct show_stats_req {
    CG_FIELDS()
};
/// A page of the connection tables. cursor 0 = from the start. `max` is
/// clamped to 1..max_conns_page: a bigger page would hold the gateway's
/// control path for too long (the workers copy it between two bursts).
inline constexpr std::uint32_t max_conns_page = 1000;
struct show_conns_req {
    std::uint64_t cursor = 0;
    std::uint32_t max = 50;
    CG_FIELDS(s.cursor, s.max)
};
/// The mirror parser (requirements 6.2): its lcores' counters and, when
/// `conns` > 0, up to that many connections, most recently used first.
inline constexpr std::uint32_t max_mirror_conns = 1000;
struct show_mirror_req {
    std::uint32_t conns = 0;
    CG_FIELDS(s.conns)
};
/// The restore plans of a node's connections followed by the mirror parser
/// (requirements 6.4): what its spare would be asked to carry on if it
/// failed now. One page of one parser lcore's table: up to `max` plans from
/// table slot `cursor` (0 at the start, then the reply's next_cursor), like
/// a bulk dump; restore_plans_pages (restore_plans_pages.hpp) walks them all.
/// A page also stops after a bounded number of slots, so it may hold fewer
/// than `max` plans and still not be the last.
inline constexpr std::uint32_t max_restore_plans = 4096;
struct restore_plans_req {
    ipv4_addr node = 0;
    std::uint32_t max = 1000;    ///< clamped to 1..max_restore_plans
    std::uint16_t lcore = 0;     ///< the parser lcore, 0 .. the reply's lcores-1
    std::uint32_t cursor = 0;
    CG_FIELDS(s.node, s.max, s.lcore, s.cursor)
};
struct simulate_req {
    flow_key flow;
    CG_FIELDS(s.flow)
};
/// One connection as it moves in bulk between processes (dump, insert):
/// 18 bytes on the wire.
struct conn_record {
    flow_key flow;
    ipv4_addr node = 0;      ///< the node its packets go to
    std::uint8_t state = 1;  ///< 1 ACTIVE, 2 FIN
    CG_FIELDS(s.flow, s.node, s.state)
    friend bool operator==(const conn_record&, const conn_record&) = default;
};
/// Most records in one bulk request or reply (about 1.2 MB): a million
/// connections move in 16 of them.
inline constexpr std::uint32_t max_bulk_conns = 65536;
/// Bulk dump: up to `max` entries of worker `worker`'s table, from table slot
/// `cursor` (0 at the start, then the reply's next_cursor).
struct dump_conns_req {
    std::uint16_t worker = 0;
    std::uint32_t cursor = 0;
    std::uint32_t max = max_bulk_conns;  ///< clamped to 1..max_bulk_conns
    CG_FIELDS(s.worker, s.cursor, s.max)
};
/// Bulk insert: each record goes into the table of the worker that owns its
/// flow (every worker's, when the NIC spreads flows by RSS), toward the node
/// of that address in the flow's cluster port. An entry that exists already
/// is kept as it is, unless `replace`.
struct insert_conns_req {
    std::vector<conn_record> conns;  ///< at most max_bulk_conns
    bool replace = false;
    CG_FIELDS(s.conns, s.replace)
};
/// Makes this gateway the active one of its pair (forwards, answers ARP for
/// the cluster addresses, announces them) or the standby (neither).
struct set_role_req {
    std::string role;  ///< "active" or "standby"
    /// With active: for this long, a TCP segment of a connection the tables
    /// do not know is answered with a reset, so that its client reconnects
    /// at once (after the tables were rebuilt from every live node). 0: none.
    std::uint32_t reset_unknown_ms = 0;
    CG_FIELDS(s.role, s.reset_unknown_ms)
};
/// Marks a node failed (or live again) on every cluster port it serves
/// (requirements 6.3, 6.4): a failed node takes no new connections, and a TCP
/// segment of one of its connections gets a reset (the entry goes), so that
/// its client reconnects at once to a live node; a UDP flow of it moves to a
/// live node. Run-time state, not configuration: a reload keeps it.
struct fail_node_req {
    ipv4_addr node = 0;
    bool failed = true;
    CG_FIELDS(s.node, s.failed)
};
/// One entry of the spares table (docs/config.md "spares"): working nodes
/// first..last, each with its spare at spare + (node - first), and its
/// terminators at node + k for each k (theirs: spare + k).
struct spare_rule {
    ipv4_addr first = 0, last = 0, spare = 0;
    std::vector<std::int64_t> terminators;
    friend bool operator==(const spare_rule&, const spare_rule&) = default;
    CG_FIELDS(s.first, s.last, s.spare, s.terminators)
};
/// Replaces the spares table, checked with the cluster tables as a reload
/// would. The console's `set spare` edits one node's entry
/// (common::with_spare) and sends the whole table.
struct set_spares_req {
    std::vector<spare_rule> spares;
    CG_FIELDS(s.spares)
};
/// Re-reads the cluster tables from a file (the running config file if empty).
struct reload_req {
    std::string path;
    CG_FIELDS(s.path)
};

// ---- controld's manager (requirements 4.5); gatewayd refuses these ---------------

struct manager_show_req {
    CG_FIELDS()
};
/// Sets one manager parameter: "smoothing", "importance.cpu", "probes.0.timeout"...
struct manager_set_req {
    std::string name, value;
    CG_FIELDS(s.name, s.value)
};
/// A node's mode in every cluster port it serves.
struct manager_node_req {
    ipv4_addr node = 0;
    std::uint8_t action = 0;  ///< 0 adapt, 1 quiesce, 2 fix
    double weight = 0;        ///< fix: the weight
    CG_FIELDS(s.node, s.action, s.weight)
};

// ---- controld's gateway pair (docs/operations.md); gatewayd refuses these --

struct ha_show_req {
    CG_FIELDS()
};
/// The active asks its backup to take over, and stays active until it has.
struct ha_switchover_req {
    CG_FIELDS()
};

// ---- controld's supervision (docs/operations.md "Restart escalation"); gatewayd refuses these

struct escalation_show_req {
    CG_FIELDS()
};
/// The last failed nodes whose connections controld asked their spares to
/// carry on (requirements 6.4).
struct restore_show_req {
    CG_FIELDS()
};
/// The working nodes' state backups, as controld keeps them (requirements 7.3).
struct state_show_req {
    CG_FIELDS()
};

// ---- replies ----------------------------------------------------------

struct ok_rep {
    std::string message;
    CG_FIELDS(s.message)
};
struct error_rep {
    std::string message;              ///< one line that says what went wrong
    std::vector<std::string> details;  ///< e.g. every config error
    CG_FIELDS(s.message, s.details)
};
struct port_view {
    std::string name, device;
    mac_addr mac;
    ipv4_addr address = 0;
    bool link_up = false;
    std::uint32_t speed_mbps = 0;
    std::uint64_t ipackets = 0, opackets = 0, ibytes = 0, obytes = 0, imissed = 0, ierrors = 0, oerrors = 0,
                  rx_nombuf = 0;
    CG_FIELDS(s.name, s.device, s.mac, s.address, s.link_up, s.speed_mbps, s.ipackets, s.opackets, s.ibytes, s.obytes,
              s.imissed, s.ierrors, s.oerrors, s.rx_nombuf)
};
struct lcore_view {
    std::uint32_t lcore = 0;
    std::string role;
    std::uint64_t rx_pkts = 0, fwd_pkts = 0, tx_pkts = 0, drops = 0, conns = 0, loops = 0, busy_loops = 0;
    /// Busy poll iterations by duration: [0] under 1 us, [b] in [2^(b-1), 2^b) us, the last the rest.
    std::vector<std::uint64_t> loop_time;
    std::vector<std::string> jobs;  ///< what its loop runs each iteration, in order
    CG_FIELDS(s.lcore, s.role, s.rx_pkts, s.fwd_pkts, s.tx_pkts, s.drops, s.conns, s.loops, s.busy_loops,
              s.loop_time, s.jobs)
};
struct hello_rep {
    std::uint16_t version = protocol_version;
    std::string gateway, software;
    std::uint64_t uptime_ms = 0;
    std::vector<port_view> ports;
    std::vector<lcore_view> lcores;
    std::string role;  ///< "active" or "standby"
    std::uint32_t pid = 0;  ///< gatewayd's process id (a restarted controld adopts it)
    CG_FIELDS(s.version, s.gateway, s.software, s.uptime_ms, s.ports, s.lcores, s.role, s.pid)
};
struct node_view {
    ipv4_addr address = 0;
    mac_addr mac;
    std::uint8_t mac_source = 0;  ///< 0 configured, 1 learned by ARP, 2 not yet resolved
    std::uint32_t weight = 0, effective_weight = 0;
    std::optional<std::uint32_t> weight_bound;
    std::string port;
    bool quiesced = false, draining = false;
    bool failed = false;  ///< marked failed (fail_node_req)
    /// A spare (docs/config.md "spares"): the working node it stands by
    /// for, with weight 0 until that node fails. 0: a node of the tables.
    ipv4_addr spare_for = 0;
    std::uint64_t new_conns = 0, active = 0, fin = 0, completed = 0, pkts = 0, bytes = 0;
    CG_FIELDS(s.address, s.mac, s.mac_source, s.weight, s.effective_weight, s.weight_bound, s.port, s.quiesced,
              s.draining, s.failed, s.spare_for, s.new_conns, s.active, s.fin, s.completed, s.pkts, s.bytes)
};
struct service_view {
    common::l4_proto proto = common::l4_proto::tcp;
    std::uint16_t port = 0;
    std::uint32_t msl_ms = 0, fin_ms = 0, stale_ms = 0, weight_bound = 0;
    std::uint64_t pkts = 0, new_conns = 0, no_node = 0;
    std::vector<node_view> nodes;  ///< draining nodes last
    CG_FIELDS(s.proto, s.port, s.msl_ms, s.fin_ms, s.stale_ms, s.weight_bound, s.pkts, s.new_conns, s.no_node,
              s.nodes)
};
struct cluster_view {
    std::string name;
    ipv4_addr vip = 0;
    std::vector<service_view> ports;
    CG_FIELDS(s.name, s.vip, s.ports)
};
struct tables_rep {
    std::vector<cluster_view> clusters;
    std::vector<node_view> orphans;  ///< draining nodes whose cluster port is gone
    std::vector<spare_rule> spares;  ///< the spares table as it runs
    CG_FIELDS(s.clusters, s.orphans, s.spares)
};
struct stats_rep {
    std::uint64_t uptime_ms = 0;
    std::vector<port_view> ports;
    std::vector<lcore_view> lcores;
    std::vector<named_count> drops;        ///< per reason, every lcore
    std::vector<named_count> connections;  ///< connection events, every lcore
    std::vector<named_count> control;      ///< control-plane counters
    CG_FIELDS(s.uptime_ms, s.ports, s.lcores, s.drops, s.connections, s.control)
};
struct conn_view {
    flow_key flow;
    ipv4_addr node = 0;
    std::uint8_t state = 0;  ///< 1 ACTIVE, 2 FIN
    std::uint32_t idle_ms = 0;
    std::uint16_t worker = 0;
    CG_FIELDS(s.flow, s.node, s.state, s.idle_ms, s.worker)
};
struct conns_rep {
    std::vector<conn_view> conns;
    std::uint64_t next_cursor = 0;  ///< 0: no more
    std::uint64_t total = 0;        ///< entries in all tables when the page was taken
    CG_FIELDS(s.conns, s.next_cursor, s.total)
};
/// One connection the mirror parser follows.
struct mirror_conn_view {
    ipv4_addr client = 0, server = 0;
    std::uint16_t client_port = 0, server_port = 0;
    std::string state;                 ///< the follower's: syn_sent, established, closing, ...
    std::string client_half, server_half;  ///< what each side sent: none, open, fin, reset
    std::string protocol;              ///< what the server port speaks: nfs, smb, tcp, ...
    std::string reason;                ///< complete, or why not
    std::uint32_t pending = 0;         ///< unanswered requests
    std::string oldest;                ///< the oldest unanswered request ("nfs3 READ"); empty: none
    std::uint64_t held_bytes = 0;
    std::uint32_t idle_ms = 0;
    std::uint16_t lcore = 0;           ///< the parser lcore's index in mirror_parser.lcores
    CG_FIELDS(s.client, s.server, s.client_port, s.server_port, s.state, s.client_half, s.server_half, s.protocol,
              s.reason, s.pending, s.oldest, s.held_bytes, s.idle_ms, s.lcore)
};
/// What the mirror shows of one node (requirements 6.3): how long since a
/// frame from it, and for how long its clients have been retransmitting to
/// it since (their own stacks saying that it no longer acknowledges).
struct mirror_node_view {
    mac_addr mac;       ///< the node as the copies name it
    ipv4_addr node = 0; ///< the node of the tables with that MAC; 0: none known
    std::optional<std::uint32_t> heard_ms;    ///< since its last frame; none: never heard
    std::optional<std::uint32_t> waiting_ms;  ///< since the first retransmission after it; none: nobody waits
    std::uint32_t retransmits = 0;            ///< clients' retransmissions to it since it was last heard
    CG_FIELDS(s.mac, s.node, s.heard_ms, s.waiting_ms, s.retransmits)
};
/// Counters are "group.name": frames.followed, dropped.bad_ip_header,
/// released.fin, tcp.out_of_window, framer.client.resyncs, rpc.bad_value,
/// smb2.ok, span.ring_full, ... summed over the parser lcores.
struct mirror_rep {
    std::uint16_t lcores = 0;           ///< parser lcores (0: no mirror parser configured)
    std::uint64_t connections = 0;      ///< followed now
    std::uint64_t capacity = 0;         ///< at most, all lcores
    std::vector<named_count> counters;
    std::vector<mirror_conn_view> conns;
    std::vector<mirror_node_view> nodes;  ///< every node the parsers saw, by MAC
    CG_FIELDS(s.lcores, s.connections, s.capacity, s.counters, s.conns, s.nodes)
};
/// One connection a spare could carry on: its TCP_REPAIR values and the
/// unanswered requests to replay.
struct restore_plan_view {
    tcp_repair_params params;
    std::vector<std::uint8_t> replay;
    std::uint8_t requests = 0;  ///< unanswered requests in the replay
    std::uint16_t lcore = 0;
    CG_FIELDS(s.params, s.replay, s.requests, s.lcore)
};
/// `verdicts`: restorable, incomplete, not_established, ... (the plan's
/// verdicts, restore_verdict_names) and incomplete.<reason>; every
/// connection of the node in the page's slots counted once. The plans are
/// most recently used first within the page.
struct restore_plans_rep {
    ipv4_addr node = 0;
    mac_addr mac;
    std::uint16_t lcore = 0;
    std::uint16_t lcores = 0;       ///< parser lcores there are: ask lcore 0 .. lcores-1
    std::uint32_t next_cursor = 0;  ///< where the next page of this lcore starts
    bool done = false;              ///< this lcore's table has no more
    std::uint32_t conns = 0;        ///< the node's connections in the page's slots
    std::vector<named_count> verdicts;
    std::vector<restore_plan_view> plans;
    CG_FIELDS(s.node, s.mac, s.lcore, s.lcores, s.next_cursor, s.done, s.conns, s.verdicts, s.plans)
};
struct dump_conns_rep {
    std::uint16_t worker = 0;
    std::uint16_t workers = 0;      ///< tables there are: ask worker 0 .. workers-1
    std::uint32_t next_cursor = 0;  ///< where the next page of this worker starts
    bool done = false;              ///< this worker's table has no more
    std::uint32_t table_size = 0;   ///< entries in this worker's table when the page was taken
    std::vector<conn_record> conns; ///< entries whose node is gone are left out
    CG_FIELDS(s.worker, s.workers, s.next_cursor, s.done, s.table_size, s.conns)
};
/// What a bulk insert did with its records: each counted once (a record
/// copied to every worker counts by its first copy).
struct insert_conns_rep {
    std::uint32_t inserted = 0;  ///< new entries
    std::uint32_t replaced = 0;  ///< existing entries given the record's node and state
    std::uint32_t kept = 0;      ///< existing entries left alone
    std::uint32_t no_service = 0, no_node = 0;  ///< the flow's cluster port, or the node in it, is not in the tables
    std::uint32_t full = 0;      ///< the table was full
    std::uint32_t bad = 0;       ///< a state other than 1 or 2
    CG_FIELDS(s.inserted, s.replaced, s.kept, s.no_service, s.no_node, s.full, s.bad)
    /// The counts of several inserts, summed.
    insert_conns_rep& operator+=(const insert_conns_rep& o) {
        inserted += o.inserted, replaced += o.replaced, kept += o.kept;
        no_service += o.no_service, no_node += o.no_node, full += o.full, bad += o.bad;
        return *this;
    }
};
struct simulate_rep {
    std::string verdict;  ///< "existing", "new", or the drop reason
    ipv4_addr node = 0;
    std::uint16_t worker = 0;
    std::uint8_t state = 0;
    std::string detail;
    CG_FIELDS(s.verdict, s.node, s.worker, s.state, s.detail)
};

struct named_text {
    std::string name, value;
    CG_FIELDS(s.name, s.value)
};
struct manager_metric {
    std::string name;
    std::string kind;  ///< "level" or "per-weight"
    double importance = 0;
    CG_FIELDS(s.name, s.kind, s.importance)
};
struct manager_node {
    ipv4_addr node = 0;
    std::string mode;    ///< adaptive, quiesced, fixed
    std::string blocks;  ///< "-" or probe,stale,rule
    double weight = 0;   ///< the manager's real-valued weight
    std::uint32_t sent = 0, dataplane = 0;
    std::vector<std::optional<double>> metrics;  ///< in the order of manager_rep::metrics
    double base = 0;     ///< its weight when the load is balanced (docs/weights.md)
    CG_FIELDS(s.node, s.mode, s.blocks, s.weight, s.sent, s.dataplane, s.metrics, s.base)
};
struct manager_service {
    service_key svc;
    std::vector<manager_node> nodes;
    CG_FIELDS(s.svc, s.nodes)
};
struct manager_rep {
    std::vector<named_text> params;       ///< every settable parameter and its value
    std::vector<manager_metric> metrics;
    std::vector<manager_service> services;
    std::vector<named_count> counters;    ///< pushes, restarts, probes, agent refusals...
    CG_FIELDS(s.params, s.metrics, s.services, s.counters)
};

/// This gateway's place in the pair and what it last heard from its peer.
struct ha_rep {
    std::string role;         ///< starting, backup, taking_over, active
    std::uint64_t epoch = 0;
    std::string health;       ///< of this gateway's gatewayd: up, hung, down
    std::string health_why;
    std::string why;          ///< the latest change of role, in words
    ipv4_addr address = 0, peer = 0;
    bool peer_alive = false;
    std::string peer_role, peer_health;  ///< empty: never heard
    std::uint64_t peer_epoch = 0, peer_conns = 0, peer_heard_ms = 0;
    std::string heal;  ///< auto-heal from the pool: the latest, in words
    std::vector<named_count> counters;
    CG_FIELDS(s.role, s.epoch, s.health, s.health_why, s.why, s.address, s.peer, s.peer_alive, s.peer_role,
              s.peer_health, s.peer_epoch, s.peer_conns, s.peer_heard_ms, s.heal, s.counters)
};

/// One rung of the escalation ladder.
struct escalation_rung {
    std::string name;    ///< PH0.5 ... PH3.0, auto-heal
    std::string action;  ///< what it does
    bool implemented = false;  ///< false: decided and shown, but `instead` is carried out
    std::uint32_t limit = 0;   ///< recoveries allowed within the window (auto-heal: none, 0)
    std::uint64_t window_ms = 0;
    std::uint32_t used = 0;    ///< recoveries at this rung that count now
    std::uint64_t total = 0;   ///< failures it was decided for, ever
    std::string instead;       ///< the rung carried out for it (its own name when implemented)
    CG_FIELDS(s.name, s.action, s.implemented, s.limit, s.window_ms, s.used, s.total, s.instead)
};
/// One recovery of the ladder's history.
struct escalation_recovery {
    std::uint64_t at_ms = 0;  ///< wall clock, ms since the epoch
    std::string failure;      ///< died, hung, exited, start_failed, instance_dead
    std::string detail;       ///< "killed by signal 9 (Killed)"
    std::string decided, applied;  ///< rung names: the ladder's, and what controld did
    std::string outcome;      ///< pending, up, held, failed_again
    std::uint64_t took_ms = 0;  ///< from the failure until up
    CG_FIELDS(s.at_ms, s.failure, s.detail, s.decided, s.applied, s.outcome, s.took_ms)
};
/// One backup of the configuration file, as controld's backup directory holds it.
struct config_backup_view {
    std::uint64_t seq = 0, saved_ms = 0, bytes = 0;  ///< saved_ms: wall clock, ms since the epoch
    std::string problem;  ///< why it cannot be used; empty: good
    CG_FIELDS(s.seq, s.saved_ms, s.bytes, s.problem)
};
/// One failed node's connections and what became of them.
struct node_restore_view {
    std::uint64_t at_ms = 0;  ///< wall clock, when it ended
    ipv4_addr node = 0, spare = 0;
    std::uint32_t followed = 0, planned = 0, restored = 0, not_restored = 0, moved = 0;
    std::vector<named_count> not_restorable;  ///< the plans' verdicts other than restorable
    std::vector<std::string> failures;        ///< the spare's reasons for those not restored
    std::string error;
    std::uint32_t took_ms = 0, plans_ms = 0, spare_ms = 0;
    /// With state backups: what the spare started from ("the state taken at
    /// ..., restored in 35 ms", or why none), and that state's age when the
    /// node failed.
    std::string state;
    std::optional<std::uint64_t> state_age_ms;
    std::uint32_t state_ms = 0;  ///< the spare's restore of the state, transfer included
    CG_FIELDS(s.at_ms, s.node, s.spare, s.followed, s.planned, s.restored, s.not_restored, s.moved,
              s.not_restorable, s.failures, s.error, s.took_ms, s.plans_ms, s.spare_ms, s.state, s.state_age_ms,
              s.state_ms)
};
/// One working node's state backups (state_rep).
struct node_state_view {
    ipv4_addr node = 0, spare = 0;
    std::uint64_t tries = 0, saved = 0, failed = 0;
    std::string last_error;       ///< the latest try's; empty when it succeeded
    std::uint32_t last_took_ms = 0;
    std::vector<config_backup_view> backups;  ///< newest first; saved_ms: when the node's state was taken
    CG_FIELDS(s.node, s.spare, s.tries, s.saved, s.failed, s.last_error, s.last_took_ms, s.backups)
};
struct state_rep {
    bool enabled = false;
    std::string why_not;  ///< when not enabled
    std::string dir;
    std::uint32_t keep = 0;
    std::uint64_t every_ms = 0, now_ms = 0;  ///< now_ms: controld's wall clock, for the ages
    std::vector<node_state_view> nodes;
    CG_FIELDS(s.enabled, s.why_not, s.dir, s.keep, s.every_ms, s.now_ms, s.nodes)
};
struct restore_rep {
    bool enabled = false;  ///< alive monitoring, agents.shadow_port and a mirror parser
    std::string why_not;   ///< when not enabled
    std::vector<node_restore_view> last;  ///< oldest first
    CG_FIELDS(s.enabled, s.why_not, s.last)
};
/// The restart escalation ladder of this gateway (requirements 8.2).
struct escalation_rep {
    std::string reached;             ///< the rung the ladder stands at: the next failure starts there
    std::string next_rung, next_why;  ///< what the next death of gatewayd would get, and why
    std::string store;               ///< the file of the counts
    std::string loaded_from;         ///< where the counts came from when controld started
    std::vector<std::string> store_problems;  ///< copies found bad at start; the latest save's error
    std::uint64_t healthy_after_ms = 0;
    std::optional<std::uint64_t> up_ms;  ///< how long gatewayd has been up (counts clear at healthy_after)
    std::vector<escalation_rung> rungs;
    std::vector<escalation_recovery> history;  ///< oldest first
    std::vector<named_count> counters;
    std::string config;  ///< the configuration file controld runs from, and where it came from
    std::string backups_dir;
    std::uint64_t backup_every_ms = 0;  ///< 0: no backups
    std::uint32_t backups_kept = 0;
    std::vector<config_backup_view> backups;  ///< newest first
    CG_FIELDS(s.reached, s.next_rung, s.next_why, s.store, s.loaded_from, s.store_problems, s.healthy_after_ms,
              s.up_ms, s.rungs, s.history, s.counters, s.config, s.backups_dir, s.backup_every_ms, s.backups_kept,
              s.backups)
};

using request = std::variant<hello_req, show_tables_req, add_cluster_req, del_cluster_req, add_port_req,
                             del_port_req, add_node_req, del_node_req, set_node_req, show_stats_req,
                             show_conns_req, simulate_req, reload_req, manager_show_req, manager_set_req,
                             manager_node_req, dump_conns_req, insert_conns_req, set_role_req, ha_show_req,
                             ha_switchover_req, escalation_show_req, fail_node_req, show_mirror_req,
                             set_spares_req, restore_plans_req, restore_show_req, state_show_req>;
using reply = std::variant<ok_rep, error_rep, hello_rep, tables_rep, stats_rep, conns_rep, simulate_rep, manager_rep,
                           dump_conns_rep, insert_conns_rep, ha_rep, escalation_rep, mirror_rep, restore_plans_rep,
                           restore_rep, state_rep>;

// ---- wire type ids ------------------------------------------------------

/// A message's wire type (common/msg_type.hpp): its id (requests below
/// reply_type_base, replies from it) and its name, for logs and errors.
using common::msg_type;

/// The type table, the one place where ids are given. A message without an
/// entry has {0, ""}, which ctl_msg.cpp refuses at compile time.
template <class M>
inline constexpr msg_type type_of{};

template <> inline constexpr msg_type type_of<hello_req>{1, "hello"};
template <> inline constexpr msg_type type_of<show_tables_req>{2, "show_tables"};
template <> inline constexpr msg_type type_of<add_cluster_req>{3, "add_cluster"};
template <> inline constexpr msg_type type_of<del_cluster_req>{4, "del_cluster"};
template <> inline constexpr msg_type type_of<add_port_req>{5, "add_port"};
template <> inline constexpr msg_type type_of<del_port_req>{6, "del_port"};
template <> inline constexpr msg_type type_of<add_node_req>{7, "add_node"};
template <> inline constexpr msg_type type_of<del_node_req>{8, "del_node"};
template <> inline constexpr msg_type type_of<set_node_req>{9, "set_node"};
template <> inline constexpr msg_type type_of<show_stats_req>{10, "show_stats"};
template <> inline constexpr msg_type type_of<show_conns_req>{11, "show_conns"};
template <> inline constexpr msg_type type_of<simulate_req>{12, "simulate"};
template <> inline constexpr msg_type type_of<reload_req>{13, "reload"};
template <> inline constexpr msg_type type_of<manager_show_req>{14, "manager_show"};
template <> inline constexpr msg_type type_of<manager_set_req>{15, "manager_set"};
template <> inline constexpr msg_type type_of<manager_node_req>{16, "manager_node"};
template <> inline constexpr msg_type type_of<dump_conns_req>{17, "dump_conns"};
template <> inline constexpr msg_type type_of<insert_conns_req>{18, "insert_conns"};
template <> inline constexpr msg_type type_of<set_role_req>{19, "set_role"};
template <> inline constexpr msg_type type_of<ha_show_req>{20, "ha_show"};
template <> inline constexpr msg_type type_of<ha_switchover_req>{21, "ha_switchover"};
template <> inline constexpr msg_type type_of<escalation_show_req>{22, "escalation_show"};
template <> inline constexpr msg_type type_of<show_mirror_req>{23, "show_mirror"};
template <> inline constexpr msg_type type_of<fail_node_req>{24, "fail_node"};
template <> inline constexpr msg_type type_of<set_spares_req>{25, "set_spares"};
template <> inline constexpr msg_type type_of<restore_plans_req>{26, "restore_plans"};
template <> inline constexpr msg_type type_of<restore_show_req>{27, "restore_show"};
template <> inline constexpr msg_type type_of<state_show_req>{28, "state_show"};

template <> inline constexpr msg_type type_of<ok_rep>{0x8000, "ok"};
template <> inline constexpr msg_type type_of<error_rep>{0x8001, "error"};
template <> inline constexpr msg_type type_of<hello_rep>{0x8002, "hello_reply"};
template <> inline constexpr msg_type type_of<tables_rep>{0x8003, "tables"};
template <> inline constexpr msg_type type_of<stats_rep>{0x8004, "stats"};
template <> inline constexpr msg_type type_of<conns_rep>{0x8005, "conns"};
template <> inline constexpr msg_type type_of<simulate_rep>{0x8006, "simulate_reply"};
template <> inline constexpr msg_type type_of<manager_rep>{0x8007, "manager"};
template <> inline constexpr msg_type type_of<dump_conns_rep>{0x8008, "dump_conns_reply"};
template <> inline constexpr msg_type type_of<insert_conns_rep>{0x8009, "insert_conns_reply"};
template <> inline constexpr msg_type type_of<ha_rep>{0x800a, "ha"};
template <> inline constexpr msg_type type_of<escalation_rep>{0x800b, "escalation"};
template <> inline constexpr msg_type type_of<mirror_rep>{0x800c, "mirror"};
template <> inline constexpr msg_type type_of<restore_plans_rep>{0x800d, "restore_plans_reply"};
template <> inline constexpr msg_type type_of<restore_rep>{0x800e, "restore"};
template <> inline constexpr msg_type type_of<state_rep>{0x800f, "state"};

/// The entries of every alternative of `request` or `reply`, in variant order.
template <class V>
constexpr auto type_table() {
    return common::type_table<V>([]<class M>(std::type_identity<M>) { return type_of<M>; });
}

using common::type_flaw;

/// The first flaw of the request and reply tables, or nullopt: an entry
/// without an id or a name, a request id at or above reply_type_base, a
/// reply id below it, two entries (of either table) with the same id or
/// the same name.
constexpr std::optional<type_flaw> find_flaw(std::span<const msg_type> requests, std::span<const msg_type> replies) {
    const common::type_group groups[] = {
        {requests, 1, reply_type_base - 1, "a request id in the reply range"},
        {replies, reply_type_base, 0xffff, "a reply id in the request range"},
    };
    return common::find_flaw(groups);
}

/// The wire type id of a message.
std::uint16_t type_id(const request& r);
std::uint16_t type_id(const reply& r);

struct frame_header {
    std::uint32_t magic = frame_magic;
    std::uint16_t version = protocol_version;
    std::uint16_t type = 0;
    std::uint32_t length = 0;
    std::uint32_t seq = 0;
};

/// Encodes a whole frame (header + payload).
std::vector<std::uint8_t> encode_request(const request& r, std::uint32_t seq);
std::vector<std::uint8_t> encode_reply(const reply& r, std::uint32_t seq);

/// Reads a header from exactly header_size bytes. Returns an error message
/// for a wrong magic, version or length, else nullopt.
std::optional<std::string> decode_header(std::span<const std::uint8_t> bytes, frame_header& out);

/// Decodes a payload of the given type id. Never throws, never allocates
/// more than the payload can describe; for an id not in the type table, or
/// any malformation, returns an error message in the error alternative.
std::variant<request, std::string> decode_request(std::uint16_t type, std::span<const std::uint8_t> payload);
std::variant<reply, std::string> decode_reply(std::uint16_t type, std::span<const std::uint8_t> payload);

/// Name of a message type id, for logs and errors ("type N" for an id not
/// in the table).
std::string type_name(std::uint16_t type);

}  // namespace cg::common::api
