// cg-pktgen: a TCP flow generator for benchmarking gatewayd (and the
// reference points beside it) on one machine. One process, two lcores on
// one CPU: the worker transmits and receives, the main lcore reports.
//
//   cg-pktgen --device net_memif0,role=client,socket=/run/clustergate/bench.memif,socket-abstract=no
//             --flows 1M --duration 5 --node 02:00:00:00:01:01=3 --node 02:00:00:00:01:02=1
//
// Prints a summary, then one JSON line (also to --json FILE) for scripts/bench.
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>

#include "dataplane/router/conn_table.hpp"
#include "node_spread.hpp"
#include "pktgen_options.hpp"
#include "traffic_engine.hpp"

using namespace cg;
using namespace cg::bench;

namespace {

std::atomic<bool> g_stop{false};

void on_signal(int) { g_stop.store(true); }

std::vector<std::string> eal_args(const pktgen_config& c) {
    std::vector<std::string> a{"cg-pktgen", "--lcores", fmt::format("0@{},1@{}", c.cpu, c.cpu), "--main-lcore", "0",
                               "--file-prefix", c.prefix, "--no-pci", "--vdev", c.device};
    if (!c.backup_device.empty()) a.insert(a.end(), {"--vdev", c.backup_device});
    // --in-memory: no hugepage files to clean up, even after a crash. EAL
    // refuses it together with --no-huge (which maps anonymous memory anyway).
    a.emplace_back(c.huge ? "--in-memory" : "--no-huge");
    // A zero-copy memif client shares its mbuf memory with the server, which
    // the PMD supports only with one file per memory segment list.
    if (c.device.find("zero-copy=yes") != std::string::npos) a.emplace_back("--single-file-segments");
    if (c.memory_mb) a.insert(a.end(), {"-m", std::to_string(c.memory_mb)});
    a.insert(a.end(), c.eal_extra.begin(), c.eal_extra.end());
    return a;
}

struct setup_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};

std::uint16_t start_port(const pktgen_config& c, const std::string& device, rte_mempool* pool) {
    const std::string name = device.substr(0, device.find(','));
    std::uint16_t port = 0;
    if (rte_eth_dev_get_port_by_name(name.c_str(), &port) != 0)
        throw setup_error(fmt::format("no ethdev named {} (from {})", name, device));
    rte_eth_conf conf{};
    if (const int rc = rte_eth_dev_configure(port, 1, 1, &conf); rc < 0)
        throw setup_error(fmt::format("configuring {}: {}", name, rte_strerror(-rc)));
    std::uint16_t rxd = 1024, txd = 1024;
    rte_eth_dev_adjust_nb_rx_tx_desc(port, &rxd, &txd);
    const int socket = rte_eth_dev_socket_id(port);
    if (const int rc = rte_eth_rx_queue_setup(port, 0, rxd, socket, nullptr, pool); rc < 0)
        throw setup_error(fmt::format("RX queue of {}: {}", name, rte_strerror(-rc)));
    if (const int rc = rte_eth_tx_queue_setup(port, 0, txd, socket, nullptr); rc < 0)
        throw setup_error(fmt::format("TX queue of {}: {}", name, rte_strerror(-rc)));

    // A memif client fails to start while its server is not listening yet,
    // and a server that was not started yet when we connected drops us:
    // start, wait a second for the link, stop and try again until the deadline.
    using clock = std::chrono::steady_clock;
    const clock::time_point deadline =
        clock::now() + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(c.connect_timeout_s));
    for (;;) {
        const int rc = rte_eth_dev_start(port);
        if (rc == 0) {
            const clock::time_point give_up = std::min(deadline, clock::now() + clock::duration(std::chrono::seconds(1)));
            rte_eth_link link{};
            while (rte_eth_link_get_nowait(port, &link), link.link_status != RTE_ETH_LINK_UP &&
                                                             clock::now() < give_up && !g_stop)
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            if (link.link_status == RTE_ETH_LINK_UP) break;
            rte_eth_dev_stop(port);
        }
        if (clock::now() > deadline || g_stop)
            throw setup_error(fmt::format("{}: no link after {} s ({}; is the peer up?)", name, c.connect_timeout_s,
                                          rc < 0 ? rte_strerror(-rc) : "started, link down"));
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return port;
}

int launch_engine(void* arg) {
    static_cast<traffic_engine*>(arg)->run(g_stop);
    return 0;
}

std::uint64_t sum(const type_counts& c, bool with_malformed = false) {
    std::uint64_t s = 0;
    for (std::size_t i = 0; i < pkt_type_count; ++i)
        if (with_malformed || i != static_cast<std::size_t>(pkt_type::malformed)) s += c[i];
    return s;
}

std::string json_counts(const type_counts& c) {
    std::string s = "{";
    for (std::size_t i = 0; i < pkt_type_count; ++i)
        s += fmt::format("{}\"{}\":{}", i ? "," : "", pkt_type_names[i], c[i]);
    return s + "}";
}

/// Prints the summary and returns the JSON line; `passed` says whether the
/// run met --max-loss and the node checks; `moved_at_s`: when the traffic moved to the backup port (-1: never).
std::string report(const pktgen_config& c, const results& r, const rte_eth_stats& ps, double moved_at_s,
                   bool& passed) {
    const double hz = static_cast<double>(r.tsc_hz);
    const double win = static_cast<double>(r.window_cycles) / hz;
    const double warm = static_cast<double>(r.warmup_cycles) / hz;
    const std::uint64_t tx_valid = sum(r.tx_window), rx_valid = sum(r.rx_window);
    const std::uint64_t tx_all = sum(r.tx_window, true);
    const std::uint64_t unsent = std::min(r.unsent, tx_valid);
    const std::uint64_t offered = tx_valid - unsent;
    const std::uint64_t lost = offered > rx_valid ? offered - rx_valid : 0;
    const double loss_pct = offered ? 100.0 * static_cast<double>(lost) / static_cast<double>(offered) : 0;
    const double tx_pps = win > 0 ? static_cast<double>(tx_all) / win : 0;
    const double rx_pps = win > 0 ? static_cast<double>(r.rx_arrived_in_window) / win : 0;
    const double cps = win > 0 ? static_cast<double>(r.rx_window[0]) / win : 0;
    const double tx_cps = win > 0 ? static_cast<double>(r.tx_window[0]) / win : 0;
    const auto ns = [&](std::uint64_t cyc) { return static_cast<double>(cyc) * 1e9 / hz; };
    const double p50 = ns(r.latency.percentile(0.5)), p90 = ns(r.latency.percentile(0.9)),
                 p99 = ns(r.latency.percentile(0.99)), p999 = ns(r.latency.percentile(0.999)),
                 lmax = ns(r.latency.max()), lmin = ns(r.latency.min());

    std::vector<std::uint32_t> weights;
    for (const auto& n : c.nodes) weights.push_back(n.weight);
    const spread_result spread = judge_spread(weights, r.node_new);
    const bool nodes_checked = !c.nodes.empty();
    const bool consistent = r.node_mismatch == 0 && r.rx_unknown_node == 0 && spread.zero_weight_hits == 0;
    const double partial_pct =
        r.tx_calls ? 100.0 * static_cast<double>(r.tx_partial) / static_cast<double>(r.tx_calls) : 0;

    std::string h;
    h += fmt::format("cg-pktgen: {} flows, {} B frames, burst {}, rate {}, {}\n", c.flows, c.size, c.burst,
                     c.rate > 0 ? fmt::format("{:.0f} pps", c.rate) : "max",
                     c.cps > 0 ? fmt::format("{:.0f} new connections/s", c.cps)
                               : fmt::format("mix SYN:data:FIN:RST {}", format_mix(c.traffic_mix)));
    if (c.warmup)
        h += fmt::format("  warm-up   {} SYNs sent, {} came back, in {:.3f} s ({:.3f} Mpps)\n", r.tx_warmup[0],
                         r.rx_warmup[0], warm, warm > 0 ? static_cast<double>(r.tx_warmup[0]) / warm / 1e6 : 0);
    h += fmt::format("  window    {:.3f} s\n", win);
    h += fmt::format("  offered   {:.3f} Mpps ({} packets, {} of them malformed)\n", tx_pps / 1e6, tx_all,
                     r.tx_window[4]);
    h += fmt::format("  forwarded {:.3f} Mpps ({} packets of the window came back)\n", rx_pps / 1e6, rx_valid);
    h += fmt::format("  loss      {} ({:.4f} %), malformed not counted; {} never sent\n", lost, loss_pct, unsent);
    h += fmt::format("  SYNs      {:.0f} sent/s, {:.0f} came back/s\n", tx_cps, cps);
    h += fmt::format("  latency   p50 {:.2f} us  p90 {:.2f} us  p99 {:.2f} us  p99.9 {:.2f} us  max {:.2f} us  min {:.2f} us "
                     "({} samples)\n",
                     p50 / 1e3, p90 / 1e3, p99 / 1e3, p999 / 1e3, lmax / 1e3, lmin / 1e3, r.latency.count());
    h += fmt::format("  TX        {} calls, {:.1f} % not taken whole (backpressure); {} mbuf allocation failures\n",
                     r.tx_calls, partial_pct, r.alloc_fail);
    h += fmt::format("  port      ipackets {} opackets {} imissed {} ierrors {} oerrors {} rx_nombuf {}\n", ps.ipackets,
                     ps.opackets, ps.imissed, ps.ierrors, ps.oerrors, ps.rx_nombuf);
    h += fmt::format("  received  {} foreign, {} malformed frames came back, {} sent before the window; "
                     "{} sent after it (its last burst), {} of them back, not counted\n",
                     r.rx_foreign, r.rx_malformed, r.rx_late, r.tx_after, r.rx_after);
    if (nodes_checked) {
        h += fmt::format("  nodes     consistency {}: {} packets to another node than their connection's, {} to an "
                         "unknown MAC\n",
                         consistent ? "OK" : "FAILED", r.node_mismatch, r.rx_unknown_node);
        h += fmt::format("  spread    {} new connections, max deviation from the weights {:.3f} %\n", spread.total,
                         spread.max_abs_dev_pct);
        for (std::size_t i = 0; i < c.nodes.size(); ++i)
            h += fmt::format("    {} weight {:>3}: {:>10} new ({:6.2f} %, expected {:6.2f} %, {:+.3f} %), {} packets\n",
                             common::format_mac(c.nodes[i].mac), c.nodes[i].weight, r.node_new[i],
                             spread.nodes[i].observed_pct, spread.nodes[i].expected_pct, spread.nodes[i].dev_pct,
                             r.node_pkts[i]);
    } else {
        h += "  nodes     not checked (no --node given)\n";
    }
    std::fputs(h.c_str(), stdout);

    const double gen_share = win > 0 ? static_cast<double>(r.gen_cpu_ns) / 1e9 / win : 0;
    std::string probes_json = "[";
    for (std::size_t i = 0; i < r.probe_cpu_ns.size(); ++i) {
        const double share = win > 0 && r.probe_cpu_ns[i] >= 0 ? static_cast<double>(r.probe_cpu_ns[i]) / 1e9 / win : -1;
        probes_json += fmt::format("{}{{\"path\":\"{}\",\"cpu_ns\":{},\"share\":{:.4f}}}", i ? "," : "",
                                   c.cpu_probes[i], r.probe_cpu_ns[i], share);
        std::fputs(fmt::format("  CPU       {} got {:.1f} % of a CPU in the window\n", c.cpu_probes[i], 100 * share).c_str(),
                   stdout);
    }
    probes_json += "]";
    std::fputs(fmt::format("  CPU       the generator's worker got {:.1f} % of a CPU in the window\n", 100 * gen_share).c_str(),
               stdout);
    passed = rx_valid > 0 && (!nodes_checked || consistent) && r.rx_malformed == 0 &&
             (c.max_loss_pct < 0 || loss_pct <= c.max_loss_pct);
    std::string nodes_json = "[";
    for (std::size_t i = 0; i < c.nodes.size(); ++i)
        nodes_json += fmt::format("{}{{\"mac\":\"{}\",\"weight\":{},\"new\":{},\"pkts\":{},\"share_pct\":{:.4f},"
                                  "\"expected_pct\":{:.4f},\"dev_pct\":{:.4f}}}",
                                  i ? "," : "", common::format_mac(c.nodes[i].mac), c.nodes[i].weight, r.node_new[i],
                                  r.node_pkts[i], spread.nodes[i].observed_pct, spread.nodes[i].expected_pct,
                                  spread.nodes[i].dev_pct);
    nodes_json += "]";
    return fmt::format(
        "{{\"tool\":\"cg-pktgen\",\"flows\":{},\"size\":{},\"burst\":{},\"rate_target\":{:.0f},\"cps_target\":{:.0f},"
        "\"mix\":\"{}\",\"malformed_fraction\":{},\"window_s\":{:.6f},\"warmup_s\":{:.6f},"
        "\"warmup_syn_sent\":{},\"warmup_syn_back\":{},\"tx_pps\":{:.1f},\"rx_pps\":{:.1f},\"tx_window\":{},"
        "\"rx_window\":{},\"offered\":{},\"received\":{},\"lost\":{},\"loss_pct\":{:.6f},\"unsent\":{},"
        "\"syn_tx_per_s\":{:.1f},\"syn_back_per_s\":{:.1f},"
        "\"latency_ns\":{{\"p50\":{:.1f},\"p90\":{:.1f},\"p99\":{:.1f},\"p999\":{:.1f},\"max\":{:.1f},\"min\":{:.1f},"
        "\"samples\":{}}},\"tx_calls\":{},\"tx_partial_pct\":{:.3f},\"alloc_fail\":{},\"rx_foreign\":{},"
        "\"rx_malformed\":{},\"rx_late\":{},\"abandoned\":{},\"nodes_checked\":{},\"node_mismatch\":{},"
        "\"rx_unknown_node\":{},\"zero_weight_hits\":{},\"consistent\":{},\"new_conns\":{},\"spread_max_dev_pct\":{:.4f},"
        "\"nodes\":{},\"port\":{{\"ipackets\":{},\"opackets\":{},\"imissed\":{},\"ierrors\":{},\"oerrors\":{},"
        "\"rx_nombuf\":{}}},\"tsc_hz\":{},\"gen_cpu_share\":{:.4f},\"cpu_probes\":{},\"moved_to_backup_s\":{}}}",
        c.flows, c.size, c.burst, c.rate, c.cps, format_mix(c.traffic_mix), c.malformed, win, warm, r.tx_warmup[0],
        r.rx_warmup[0], tx_pps, rx_pps, json_counts(r.tx_window), json_counts(r.rx_window), offered, rx_valid, lost,
        loss_pct, unsent, tx_cps, cps, p50, p90, p99, p999, lmax, lmin, r.latency.count(), r.tx_calls, partial_pct,
        r.alloc_fail, r.rx_foreign, r.rx_malformed, r.rx_late, r.abandoned, nodes_checked, r.node_mismatch,
        r.rx_unknown_node, spread.zero_weight_hits, nodes_checked ? (consistent ? "true" : "false") : "null",
        spread.total, spread.max_abs_dev_pct, nodes_json, ps.ipackets, ps.opackets, ps.imissed, ps.ierrors,
        ps.oerrors, ps.rx_nombuf, r.tsc_hz, gen_share, probes_json,
        moved_at_s < 0 ? std::string("null") : fmt::format("{:.3f}", moved_at_s));
}

int run(const pktgen_config& c) {
    rte_mempool* pool = rte_pktmbuf_pool_create("cg_pktgen_mbufs", c.mbufs, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                                static_cast<int>(rte_socket_id()));
    if (!pool) throw setup_error(fmt::format("cannot create {} mbufs: {}", c.mbufs, rte_strerror(rte_errno)));
    auto* slots = static_cast<flow_slot*>(
        rte_zmalloc_socket("cg_pktgen_flows", std::size_t{c.flows} * sizeof(flow_slot), 64, static_cast<int>(rte_socket_id())));
    if (!slots)
        throw setup_error(fmt::format("cannot allocate {} MiB for {} flows", (std::size_t{c.flows} * sizeof(flow_slot)) >> 20,
                                      c.flows));
    const std::uint16_t port = start_port(c, c.device, pool);
    const std::optional<std::uint16_t> backup =
        c.backup_device.empty() ? std::nullopt : std::optional(start_port(c, c.backup_device, pool));

    frame_params fp;
    fp.dst_mac = c.dst_mac;
    if (c.src_mac) {
        fp.src_mac = *c.src_mac;
    } else {
        rte_ether_addr mac{};
        rte_eth_macaddr_get(port, &mac);
        std::copy(mac.addr_bytes, mac.addr_bytes + 6, fp.src_mac.b.begin());
    }
    fp.vip = c.vip;
    fp.dport = c.dport;
    fp.size = c.size;
    rte_eth_stats_reset(port);
    if (backup) rte_eth_stats_reset(*backup);

    auto engine = std::make_unique<traffic_engine>(c, port, pool, std::span(slots, c.flows), fp);
    const unsigned lcore = rte_get_next_lcore(-1, 1, 0);
    if (lcore >= RTE_MAX_LCORE) throw setup_error("no worker lcore (EAL --lcores)");
    if (rte_eal_remote_launch(launch_engine, engine.get(), lcore) != 0) throw setup_error("cannot launch the worker");

    // Progress, once a second, until the engine is done.
    live_counters& live = engine->live();
    std::uint64_t last_tx = 0, last_rx = 0;
    auto last = std::chrono::steady_clock::now();
    const auto t0 = last;
    std::uint64_t shown_phase = ~std::uint64_t{0};
    double moved_at_s = -1;  ///< when the traffic moved to the backup port
    while (rte_eal_get_lcore_state(lcore) != WAIT) {
        // Its CPU is the worker's: woken every 10 ms, or every 1 ms to see a link go down.
        std::this_thread::sleep_for(std::chrono::milliseconds(backup ? 1 : 10));
        if (backup && moved_at_s < 0) {
            rte_eth_link link{};
            if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status != RTE_ETH_LINK_UP) {
                engine->move_to(*backup);
                moved_at_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                fmt::print(stderr, "cg-pktgen: link down on {}: traffic moved to {} at {:.3f} s\n",
                           c.device.substr(0, c.device.find(',')),
                           c.backup_device.substr(0, c.backup_device.find(',')), moved_at_s);
            }
        }
        // Phase changes always go to stderr (scripts wait for "phase measure").
        if (const std::uint64_t ph = live.phase.read(); ph != shown_phase) {
            shown_phase = ph;
            fmt::print(stderr, "cg-pktgen: phase {}\n", phase_names[ph]);
        }
        const auto now = std::chrono::steady_clock::now();
        const double dt = std::chrono::duration<double>(now - last).count();
        if (dt < 1.0) continue;
        const std::uint64_t tx = live.tx.read(), rx = live.rx.read();
        if (c.progress)
            fmt::print(stderr, "[{:6.1f} s] {:<8} tx {:8.3f} Mpps  rx {:8.3f} Mpps  open {}\n",
                       std::chrono::duration<double>(now - t0).count(), phase_names[live.phase.read()],
                       static_cast<double>(tx - last_tx) / dt / 1e6, static_cast<double>(rx - last_rx) / dt / 1e6,
                       live.open.read());
        last_tx = tx;
        last_rx = rx;
        last = now;
    }
    rte_eal_wait_lcore(lcore);

    rte_eth_stats ps{};
    rte_eth_stats_get(port, &ps);
    if (backup) {  // both ports' counters, summed
        rte_eth_stats bs{};
        rte_eth_stats_get(*backup, &bs);
        ps.ipackets += bs.ipackets, ps.opackets += bs.opackets, ps.ibytes += bs.ibytes, ps.obytes += bs.obytes;
        ps.imissed += bs.imissed, ps.ierrors += bs.ierrors, ps.oerrors += bs.oerrors, ps.rx_nombuf += bs.rx_nombuf;
    }
    bool passed = false;
    const std::string json = report(c, engine->result(), ps, moved_at_s, passed);
    fmt::print("{}\n", json);
    std::fflush(stdout);
    if (!c.json_path.empty()) {
        if (std::FILE* f = std::fopen(c.json_path.c_str(), "w")) {
            fmt::print(f, "{}\n", json);
            std::fclose(f);
        } else {
            fmt::print(stderr, "cg-pktgen: cannot write {}\n", c.json_path);
        }
    }
    for (const std::optional<std::uint16_t> p : {std::optional(port), backup})
        if (p) rte_eth_dev_stop(*p), rte_eth_dev_close(*p);
    engine.reset();
    rte_free(slots);
    rte_mempool_free(pool);
    if (c.max_loss_pct >= 0 && !passed) {
        fmt::print(stderr, "cg-pktgen: FAILED: loss above {} %, nothing received, or a node check failed\n",
                   c.max_loss_pct);
        return 3;
    }
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    const parse_outcome po = parse_pktgen_args(argc, argv);
    if (po.table_bytes_for) {
        const std::uint32_t n = *po.table_bytes_for;
        const std::uint32_t slots = dp::conn_table::slots_for(n);
        const std::uint64_t bytes = std::uint64_t{slots} * sizeof(dp::conn_entry);
        fmt::print("{{\"connections\":{},\"slots\":{},\"slot_bytes\":{},\"bytes\":{},\"bytes_per_connection\":{:.2f}}}\n",
                   n, slots, sizeof(dp::conn_entry), bytes, n ? static_cast<double>(bytes) / n : 0.0);
        return 0;
    }
    if (!po.cfg) return po.exit_code;
    const pktgen_config& c = *po.cfg;

    std::vector<std::string> args = eal_args(c);
    std::vector<char*> argv_eal;
    for (auto& a : args) argv_eal.push_back(a.data());
    if (rte_eal_init(static_cast<int>(argv_eal.size()), argv_eal.data()) < 0) {
        fmt::print(stderr, "cg-pktgen: EAL initialisation failed: {}\n", rte_strerror(rte_errno));
        return 1;
    }
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    int rc = 1;
    try {
        rc = run(c);
    } catch (const std::exception& e) {
        fmt::print(stderr, "cg-pktgen: {}\n", e.what());
    }
    // EAL leaves its runtime directory (our own prefix) behind: remove it.
    const std::string runtime_dir = rte_eal_get_runtime_dir();
    rte_eal_cleanup();
    std::error_code ec;
    if (!runtime_dir.empty() && runtime_dir.ends_with("/" + c.prefix)) std::filesystem::remove_all(runtime_dir, ec);
    return rc;
}
