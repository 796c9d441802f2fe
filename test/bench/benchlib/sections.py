"""REPORT.md's sections, one a scenario: each takes the results (args.scen)
and `add`, which appends a line of markdown."""
import os

from .analysis import LONG_LOOP_LABELS
from .figures import fmt_count, med
from .perf import perf_hot_insn, perf_lines, perf_top
from .topology import GEN_CPU


def established(S, pngs, add):
    add("## Established-flow forwarding vs connections in the table\n")
    if pngs.get("est"):
        add(f"![established]({pngs['est']})\n")
    add("| flows | DUT | received Mpps | offered Mpps | loss % | DUT CPU % | gen CPU % | DUT RX ring full % | Mpps per DUT CPU-s | ratio to io (raw / per CPU-s) | p50 / p99 us |")
    add("|---|---|---|---|---|---|---|---|---|---|---|")
    for flows in sorted(S["est"]):
        io_raw = med([r["rx_pps"] for r in S["io"][flows]])
        io_cpu = med([r["rx_pps_per_dut_cpu"] for r in S["io"][flows]])
        rows = [("gatewayd", S["est"][flows]), ("testpmd io", S["io"][flows])]
        if flows in S["macswap"]:
            rows.append(("testpmd macswap", S["macswap"][flows]))
        for dut, runs in rows:
            for r in runs:
                add(f"| {fmt_count(flows)} | {dut} | {r['rx_pps'] / 1e6:.3f} | {r['tx_pps'] / 1e6:.3f} | {r['loss_pct']:.3f} | "
                    f"{100 * r['dut_share']:.0f} | {100 * r['gen_cpu_share']:.0f} | {r['tx_partial_pct']:.0f} | "
                    f"{r['rx_pps_per_dut_cpu'] / 1e6:.2f} | {r['rx_pps'] / io_raw:.2f} / {r['rx_pps_per_dut_cpu'] / io_cpu:.2f} | "
                    f"{r['latency_ns']['p50'] / 1e3:.1f} / {r['latency_ns']['p99'] / 1e3:.1f} |")
    add("")
    lb = S.get("loopback")
    if lb:
        add(f"The generator alone (net_ring loopback, no DUT, 1M flows): {lb['rx_pps'] / 1e6:.2f} Mpps sent and as many received "
            f"with {100 * lb['gen_cpu_share']:.0f} % of CPU {GEN_CPU}, "
            f"{lb['rx_pps'] / lb['gen_cpu_share'] / 1e6 if lb['gen_cpu_share'] > 0 else 0:.1f} Mpps per CPU-second: well "
            "above every DUT figure, so the DUT sets the rates above (the 'DUT RX ring full' column says the same: the "
            "share of the generator's transmit calls that found the DUT's ring full).\n")
    if S.get("small_ws"):
        fl, r = S["small_ws"]
        big = S["est"][fl]
        add(f"Table size or working set? The {fmt_count(fl)}-connection gatewayd with only 1k flows active: "
            f"{r['rx_pps'] / 1e6:.3f} Mpps ({r['rx_pps_per_dut_cpu'] / 1e6:.2f} per DUT CPU-s), against "
            f"{med([x['rx_pps'] for x in big]) / 1e6:.3f} Mpps ({med([x['rx_pps_per_dut_cpu'] for x in big]) / 1e6:.2f} per CPU-s) "
            f"with all {fmt_count(fl)} flows active and {med([x['rx_pps'] for x in S['est'][min(S['est'])]]) / 1e6:.3f} Mpps "
            f"in a 1k table.\n")
    add("Checks on every gatewayd run: " + ", ".join(
        f"{fmt_count(fl)}: {sum(r['node_mismatch'] for r in runs)} packets to another node than their connection's, "
        f"{sum(r['rx_unknown_node'] for r in runs)} to unknown MACs" for fl, runs in sorted(S["est"].items())) + ".\n")


def new_connections(S, P, pngs, add):
    add("## New connections per second (SYN path: WRR + table insert), 1 worker\n")
    if pngs.get("cps"):
        add(f"![new connections]({pngs['cps']})\n")
    add("| scenario | table (max entries / slots) | new connections/s | per DUT CPU-s | DUT CPU % | gen CPU % | ratio to io pps (1k flows) | SYN loss % | spread max deviation % |")
    add("|---|---|---|---|---|---|---|---|---|")
    io1k = med([r["rx_pps"] for r in S["io"][min(S["io"])]]) if S["io"] else 0
    for label, r, conns in ([(f"SYN flood into an empty table, {fmt_count(f)} SYNs", r, f) for f, r in sorted(S["fill"].items())] +
                            [(f"SYN/RST pairs, {t}", r, r["table"]) for t, r in S["churn"].items()]):
        slots = S["mem"].get(conns, {}).get("slots", 0)
        syn_tx, syn_rx = r["tx_window"]["syn"], r["rx_window"]["syn"]
        add(f"| {label} | {fmt_count(conns)} / {slots} | {r['syn_back_per_s'] / 1e6:.3f} M | {r['syn_back_per_dut_cpu'] / 1e6:.3f} M | "
            f"{100 * r['dut_share']:.0f} | {100 * r['gen_cpu_share']:.0f} | "
            f"{r['syn_back_per_s'] / io1k if io1k else 0:.2f} | {100 * (syn_tx - syn_rx) / syn_tx if syn_tx else 0:.3f} | "
            f"{r['spread_max_dev_pct']:.3f} |")
    if not P["nearfull"]:
        add("\n(`--quick` leaves out the near-full table; `scripts/bench` runs it.)")
    add("")


def mirror(S, add):
    runs = S.get("mirror") or {}
    if "off" not in runs:
        return
    add("## The mirror's cost on the active (1 worker, 1k established flows)\n")
    add("Copies go to a net_null port (`mirror` in docs/config.md): the cost measured is the decision, the clone "
        "and the queueing, not a second NIC's.\n")
    add("| mirror | Mpps (median) | per DUT CPU-s | ratio to no mirror | ratio per DUT CPU-s | runs (Mpps) |")
    add("|---|---|---|---|---|---|")
    base = med([r["rx_pps"] for r in runs["off"]])
    base_cpu = med([r["rx_pps_per_dut_cpu"] for r in runs["off"]])
    for mode, rs in runs.items():
        pps, cpu = med([r["rx_pps"] for r in rs]), med([r["rx_pps_per_dut_cpu"] for r in rs])
        each = ", ".join(f"{r['rx_pps'] / 1e6:.2f}" for r in rs)
        add(f"| {mode} | {pps / 1e6:.3f} | {cpu / 1e6:.3f} | {pps / base if base else 0:.2f} | "
            f"{cpu / base_cpu if base_cpu else 0:.2f} | {each} |")
    add("")


def memory(S, add):
    add("## Memory per connection\n")
    add("| connections (tables.connections) | slots | table bytes | bytes per connection | gatewayd hugepage memory (smaps) |")
    add("|---|---|---|---|---|")
    base = S["mem"].get(1000, {}).get("hugetlb_kib")
    for conns in sorted(S["mem"]):
        m = S["mem"][conns]
        hp = m.get("hugetlb_kib")
        hp_s = f"{hp / 1024:.0f} MiB" if hp else "not started in this run"
        if hp and base and conns != 1000:
            hp_s += f" ({(hp - base) * 1024 / conns:.1f} B per connection above the 1k-connection gatewayd)"
        add(f"| {conns:,} | {m['slots']:,} | {m['bytes'] / 2**20:.1f} MiB | {m['bytes_per_connection']:.1f} | {hp_s} |")
    add("\nSlots are 32 bytes (`conn_entry`), a power of two at least 4/3 of the configured connections "
        "(`conn_table::slots_for`), so bytes per connection lie between 42.7 and 85.3 depending on where the size falls.\n")


def latency(S, pngs, add):
    add("## Latency at 50 % and 90 % of the maximum rate (1M flows)\n")
    if "max_pps" in S["lat"]:
        add(f"Maximum rate: the best gatewayd run at 1M flows, {S['lat']['max_pps'] / 1e6:.3f} Mpps. Both DUTs get the same "
            "absolute rates. Added latency = gatewayd minus testpmd io.\n")
        if pngs.get("lat"):
            add(f"![latency]({pngs['lat']})\n")
        add("| rate | DUT | offered Mpps | received Mpps | p50 us | p90 us | p99 us | p99.9 us | max us | DUT CPU % | gen CPU % | DUT main thread CPU % (on the generator's CPU) |")
        add("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for frac in (0.5, 0.9):
            for d in ("gw", "io"):
                r = S["lat"].get((d, frac))
                if not r:
                    continue
                ln = r["latency_ns"]
                add(f"| {int(frac * 100)} % | {'gatewayd' if d == 'gw' else 'testpmd io'} | {r['tx_pps'] / 1e6:.3f} | {r['rx_pps'] / 1e6:.3f} | "
                    f"{ln['p50'] / 1e3:.1f} | {ln['p90'] / 1e3:.1f} | {ln['p99'] / 1e3:.1f} | {ln['p999'] / 1e3:.1f} | "
                    f"{ln['max'] / 1e3:.0f} | {100 * r['dut_share']:.0f} | {100 * r['gen_cpu_share']:.0f} | "
                    f"{100 * r.get('dut_main_share', -1):.2f} |")
            g, i = S["lat"].get(("gw", frac)), S["lat"].get(("io", frac))
            if g and i:
                gl, il = g["latency_ns"], i["latency_ns"]
                add(f"| {int(frac * 100)} % | **added** (ratio) | | | {(gl['p50'] - il['p50']) / 1e3:+.1f} ({gl['p50'] / il['p50']:.2f}) | "
                    f"{(gl['p90'] - il['p90']) / 1e3:+.1f} ({gl['p90'] / il['p90']:.2f}) | "
                    f"{(gl['p99'] - il['p99']) / 1e3:+.1f} ({gl['p99'] / il['p99']:.2f}) | | | | | |")
        add("")
        loops = {frac: S["lat"].get(("gw_loops", frac)) for frac in (0.5, 0.9)}
        labels = [k for k in ("<1us", "1-2us", "2-4us", "4-8us", "8-16us", "16-32us") + LONG_LOOP_LABELS
                  if any(l and l.get(k) for l in loops.values())]
        if labels:
            add("gatewayd's worker during those runs: busy poll iterations by how long they took "
                "(`gwctl show lcores`, read before and after each run):\n")
            add("| rate | " + " | ".join(labels) + " |")
            add("|---|" + "---|" * len(labels))
            for frac, l in loops.items():
                if l:
                    add(f"| {int(frac * 100)} % | " + " | ".join(f"{l.get(k, 0):,}" for k in labels) + " |")
            add("")


def correctness(S, add):
    c = S.get("check")
    if c:
        add("## Correctness under a mixed stream\n")
        dd = c.get("dut_delta", {})
        mal_drops = sum(dd.get("drop_" + k, 0) for k in ("truncated", "bad_ip_header", "ip_fragment", "bad_tcp_flags",
                                                         "bad_l4_header"))
        add(f"100k flows in a 1M table, SYN:data:FIN:RST = 1:8:0.5:0.5, 1 % malformed frames (five kinds), "
            f"{c['tx_pps'] / 1e6:.2f} Mpps offered for {c['window_s']:.1f} s: "
            f"{c['tx_window']['malformed']} malformed sent, gatewayd dropped {mal_drops} as malformed, "
            f"{c['rx_malformed']} came back; {c['new_conns']} new connections, spread max deviation "
            f"{c['spread_max_dev_pct']:.3f} % from the 3:2:1 weights; {c['node_mismatch']} packets to another node "
            f"than their connection's; loss {c['loss_pct']:.3f} % (gatewayd drops in the run: "
            + ", ".join(f"{k[5:]} {v}" for k, v in sorted(dd.items()) if k.startswith("drop_") and v) + ").\n")
        add("| node | weight | new connections | share | expected | deviation |")
        add("|---|---|---|---|---|---|")
        for n in c["nodes"]:
            add(f"| {n['mac']} | {n['weight']} | {n['new']} | {n['share_pct']:.3f} % | {n['expected_pct']:.3f} % | {n['dev_pct']:+.3f} % |")
        add("")


def profiles(args, add):
    if args.profiles:
        add("## Where the worker's time goes\n")
        for name, data in args.profiles:
            if not os.path.exists(data):
                continue
            rows, samples = perf_top(data)
            add(f"`perf record -e cpu-clock -t <worker tid>` during `{name}` ({samples} samples; no hardware counters in "
                f"this VM, so no cycles/IPC/cache-miss events):\n")
            add("| % of samples | object | symbol |")
            add("|---|---|---|")
            for pct, dso, sym in rows:
                add(f"| {pct:.1f} | {dso} | `{sym}` |")
            add("")
            top = next((sym for _pct, dso, sym in rows if dso == "gatewayd"), None)
            if top:
                lines = perf_lines(data, top)
                if lines:
                    add(f"Inside `{top}`, by source line (`perf annotate -l`; a sample lands on the instruction after "
                        "the one that stalled):\n")
                    for pct, where, text in lines:
                        add(f"- {pct:.1f} % at `{where}`" + (f": `{text}`" if text else ""))
                    add("")
                hot = perf_hot_insn(data, top, args.gatewayd)
                if hot:
                    pct, insn, prev, src = hot
                    add(f"Hottest instruction: {pct:.1f} % of the symbol's samples on `{insn}`, right after `{prev}` "
                        f"({src}).\n")


def measured(t, add):
    """Whether a scenario's results are there; if not, says why."""
    if not t:
        add("Not run.\n")
    elif "error" in t:
        add(f"Not measured: {t['error']}\n")
    return bool(t) and "error" not in t


def mirror_parser(t, add):
    """The mirror parser on one lcore (test/bench/parser_rate.py)."""
    add("## Mirror parser: one lcore following copied traffic\n")
    if not measured(t, add):
        return
    add("gatewayd with one SPAN port and the mirror parser on its worker's lcore (CPU 1), which also reads the port; "
        "the port is DPDK's pcap PMD replaying a committed fixture capture (test/fixtures/mirror) from memory in a "
        f"loop (`infinite_rx=1`), {t['window_s']:.0f} s measured per capture. Each capture holds whole connections, "
        "so every pass is followed afresh from its SYN; a pass must give the messages of one offline pass "
        "(cg-mirror-read, the same parser) and no parse error. Reference: `dpdk-testpmd --forward-mode=rxonly` on "
        "the same PMD, capture and CPU, right after; the PMD's copy of each frame out of its store is in both.\n")
    add("| capture | frames/s | Gbit/s | messages/s | testpmd rxonly frames/s | ratio | messages a pass "
        "(offline) | other counters that moved |")
    add("|---|---|---|---|---|---|---|---|")
    for r in t.get("runs", []):
        if "error" in r:
            add(f"| {r['capture']} | not measured: {r['error'][:200]} | | | | | | |")
            continue
        others = ", ".join(f"{k} {v:,}" for k, v in r["others"].items()) or "none"
        add(f"| {r['capture']} | {r['pps'] / 1e6:.2f} M | {r['gbps']:.1f} | {r['messages_per_s'] / 1e6:.2f} M | "
            f"{r['rxonly_pps'] / 1e6:.2f} M | **{r['ratio']:.2f}** | {r['messages_seen_per_pass']:.1f} "
            f"({r['messages_per_pass']}) | {others} |")
    add("")
    by = {r["capture"]: r for r in t.get("runs", []) if "error" not in r}
    small = [f"{n} {by[n]['ratio']:.2f}" for n in ("nfs4", "http") if n in by]
    if "nfs3" in by or small:
        add("Against the targets: "
            + (f"NFS at {by['nfs3']['gbps']:.1f} Gbit/s (nfs3, READ-heavy by bytes) against at least 10 Gbit/s; "
               if "nfs3" in by else "")
            + (f"small messages at {', '.join(small)} of rxonly's frame rate against at least 0.5." if small else "")
            + "\n")
    add("What the captures are: " + "; ".join(f"{r['capture']}: {r['what']}" for r in t.get("runs", [])) + ". "
        "`frames.no_connection` is a connection's last ACK, after its FIN both ways released it.\n")
    mem = next((r for r in t.get("runs", []) if r.get("conn_bytes")), None)
    if mem:
        add(f"Memory, as gatewayd sizes it at start: {mem['conn_bytes']:,} bytes per followed connection (its slot, "
            f"reassembly and message storage, its share of the index), made at start for every connection of "
            f"`mirror_parser.connections`; a pending request's bytes are held in chunks of {mem['chunk_bytes']:,} "
            f"bytes (`mirror_parser.request_chunks` of them per lcore), so a request takes its size rounded up to "
            f"that.\n")


def tcp(t, add):
    """Real TCP through network namespaces (test/bench/tcp_compare.py)."""
    add("## Real TCP through network namespaces: gatewayd vs HAProxy vs kernel forwarding\n")
    if not measured(t, add):
        return
    st = t["setup"]
    add(f"The same client ({st['client']}) runs `wrk -t1 -c{st['connections']} -d{st['seconds']}s --latency -H "
        "'Connection: close'` (a new TCP connection per HTTP request) against three nginx nodes (one worker each, "
        "weights 3:2:1) through each balancer in turn, all in network namespaces on one bridge, "
        f"{st['repeats']} run(s) each, alternating:\n")
    add(f"- **gatewayd** ({st['targets']['gatewayd']}): the demo configuration (one worker, `idle_sleep` 50 us, "
        "node MACs by ARP) on `net_af_packet`; direct server return: replies go from the nodes to the client.")
    add(f"- **HAProxy** 2.6 ({st['targets']['haproxy']}): TCP mode, roundrobin, one thread; a full proxy: it "
        "terminates the client's connection and opens one to the node, and both directions pass through it.")
    add(f"- **kernel forwarding** ({st['targets']['kernel']}): a Linux router namespace with a weighted ECMP route "
        "to the three nodes and L4 hashing (`fib_multipath_hash_policy=1`): plain IP forwarding, stateless, "
        "direct server return like gatewayd.\n")
    add("Everything shares the machine's 2 CPUs (client, nodes, balancer), so besides requests per second the "
        "table gives the machine's whole CPU time per request (/proc/stat): the cost of the path through each "
        "balancer, all else equal.\n")
    names = ("gatewayd", "haproxy", "kernel")
    runs = {n: t.get(n, []) for n in names}
    if not all(runs.values()):
        add("Some balancer has no run.\n")
        return
    mrps = {n: med([r["rps"] for r in runs[n]]) for n in names}
    add("| balancer | req/s (median; runs) | vs kernel | vs HAProxy | p50 ms | p99 ms | errors | machine CPU-us per request |")
    add("|---|---|---|---|---|---|---|---|")
    for n in names:
        rs = runs[n]
        p50 = med([r["p50_us"] for r in rs if r["p50_us"] is not None]) / 1e3
        p99 = med([r["p99_us"] for r in rs if r["p99_us"] is not None]) / 1e3
        each = ", ".join(f"{r['rps']:,.0f}" for r in rs)
        add(f"| {n} | {mrps[n]:,.0f} ({each}) | {mrps[n] / mrps['kernel']:.2f} | "
            f"{mrps[n] / mrps['haproxy']:.2f} | {p50:.2f} | {p99:.2f} | {sum(r['errors'] for r in rs)} | "
            f"{med([r['cpu_us_per_request'] for r in rs]):.1f} |")
    add("")
    sp = t.get("spread", {})
    if sp:
        add("Spread of 60 new connections (curl) before the load, by node: " +
            "; ".join(f"{n} {dict(sorted(sp[n].items()))}" for n in names if n in sp) +
            ". gatewayd and HAProxy follow the weights exactly (round robin); the kernel's ECMP hash follows "
            "them on average only.\n")


def bulk(runs, add):
    """The bulk requests on one worker (scenarios.bulk_requests), under the takeover's table."""
    if not runs:
        return
    med_ins = med([r["entries"] / r["insert_ms"] / 1e3 for r in runs])
    med_dump = med([r["dumped"] / r["dump_ms"] / 1e3 for r in runs])
    met = med_ins >= 2 and all(r["inserted"] == r["entries"] for r in runs)
    add("Bulk requests on one worker (the restart's and the takeover's insert of the nodes' tables), a million "
        "entries over gatewayd's control socket (`load connections`, then `save connections`; a fresh gatewayd "
        f"a run): insert {med_ins:.2f} M entries/s (median; runs: "
        + "; ".join(f"{r['insert_ms']:.0f} ms ({r['inserted']:,} inserted)" for r in runs)
        + f"), dump {med_dump:.2f} M entries/s (runs: " + ", ".join(f"{r['dump_ms']:.0f} ms" for r in runs)
        + f"). Target: at least 2 M entries/s per worker, every entry inserted: {'met' if met else 'not met'}.\n")


def takeover_flows(t, add):
    """The pair's takeover of cg-pktgen flows in the memif topology (test/bench/takeover_flows.py)."""
    if not t:
        return
    add("### The takeover of cg-pktgen flows (memif)\n")
    if "error" in t:
        add(f"Not measured: {t['error']}\n")
        return
    add("gatewayd a (active) and b (standby) joined by a memif mirror link (state_changes), cg-pktgen with one port "
        "to each, the same gateway MAC on both; the generator opens every flow through a, then sends at "
        f"{t['rate'] / 1e6:.2f} Mpps; `kill -9` of a, b set active by the bench as soon as a is gone (the pair's "
        "detection is the dead time, timed above), and the generator moves its traffic to b when its link to a "
        "goes down (a switch after the gratuitous ARP).\n")
    add("| flows | b's table at the kill | kill to b active ms | to b's first frame ms (polled) | packets lost | "
        "outage at the offered rate ms | b's drops | every packet from its flow's node |")
    add("|---|---|---|---|---|---|---|---|")
    drops = ", ".join(f"{k} {v:,}" for k, v in t["b_drops"].items()) or "none"
    add(f"| {t['flows']:,} | {t['followed_before_kill']:,} | {t['active_ms']} | {t['first_frame_ms_polled']} | "
        f"{t['lost']:,} of {t['offered']:,} | {t['outage_ms']} | {drops} | "
        f"{'yes' if t['consistent'] else 'no'} ({t['node_mismatch']} to another node, {t['rx_unknown_node']} unknown) |")
    add("")


def takeover(t, b, add):
    """The gateway pair's takeover (test/bench/takeover.py) and the bulk requests behind it."""
    add("## Takeover: the backup gateway carries the connections on\n")
    if not measured(t, add):
        bulk(b, add)
        return
    add("Two gateways in network namespaces, each a controld and a gatewayd (`net_af_packet`, one worker), "
        "paired with heartbeats every 10 ms and a 100 ms dead time; N keep-alive HTTP connections from one client "
        "to nginx on three nodes through gateway a; then `kill -9` of both of a's processes, with a request sent "
        "on every connection at once. Times from the kill: b decides to take over (a silent for the dead time), "
        "b's gatewayd is active (the nodes' connections fetched and bulk-inserted), b forwards its first frame, "
        "and the last in-flight request is answered (which the clients' TCP retransmission timers set as much "
        "as the gateway: a segment lost before b was active waits for its next retransmission).\n")
    add("| connections | mirror | detected ms | decision to active ms (the nodes' answers) | active ms | "
        "first frame ms | all answered ms | carried on | reset |")
    add("|---|---|---|---|---|---|---|---|---|")
    for r in t.get("pair", []):
        if "error" in r:
            add(f"| {r['connections']:,} | {r.get('mirror', 'off')} | not measured: {r['error']} | | | | | | |")
            continue
        add(f"| {r['connections']:,} | {r.get('mirror', 'off')} | {r['detected_ms']} | {r['takeover_ms']} "
            f"({r.get('query_ms')}) | {r['active_ms']} | "
            f"{r['first_frame_ms']} | {r['all_answered_ms']:.0f} | {r['kept']:,} | {r['reset']} |")
    add("")
    for r in t.get("pair", []):
        if r.get("flaps_before"):
            add(f"- {r['connections']:,} connections: the pair changed roles {r['flaps_before']} time(s) before the "
                "kill, while the machine was opening the connections (a heartbeat or a health answer later than "
                "the dead time): the figures of that row are not a clean takeover.")
    bulk(b, add)
    v = t.get("vrrp")
    if v and "error" not in v:
        add(f"Reference, same topology: keepalived's VRRP (version 3, adverts every {v['advert_s'] * 1000:.0f} ms) "
            "moving the cluster address between two HAProxy namespaces (TCP mode, a full proxy), "
            f"{v['connections']:,} keep-alive connections, `kill -9` of the master's keepalived and HAProxy: the "
            f"address moved after {v['address_moved_ms']} ms and a new connection succeeded after "
            f"{v['new_connection_ms']} ms, but {v['kept']:,} of {v['connections']:,} established connections "
            f"carried on ({v['reset']:,} reset, {v['closed']:,} closed, {v['timeout']:,} without an answer): "
            "their state was in the dead proxy.\n")
    elif v:
        add(f"Reference (keepalived VRRP): not measured: {v['error']}\n")


def restoration(t, add):
    """A failed node's connections restored on its spare (test/bench/restoration.py)."""
    add("## Restoration: a failed node's connections carried on by its spare\n")
    if not measured(t, add):
        return
    add("controld and gatewayd (`net_af_packet`, one worker; the mirror parser on the worker's lcore, reading a "
        "SPAN port that tc mirred fills with both directions of node n3's link), n4 the spare of n3, the agents' "
        "alive monitoring at 100 ms, an ONC RPC service on n3 and n4. N connections to n3, each with a call in "
        "flight (n3's service frozen: its kernel acknowledges, nobody answers); then n3's link cut and its service "
        "killed. restore: controld's plans from gatewayd plus the spare's repairs (TCP_REPAIR, the calls "
        "replayed into its service); per second: restored connections over the spare's part; the client's stall: "
        "from the cut to each client's answer (restoration on) or to its reset (restoration off: the spare's agent "
        "restores onto no service, so the fail mark resets every connection). The 100 ms of alive monitoring "
        "are in every stall.\n")
    add("| connections | restoration | restored | restore ms (plans + spare) | restored / s | "
        "client stall p50 ms | p99 ms | last ms | errors |")
    add("|---|---|---|---|---|---|---|---|---|")
    for r in t.get("runs", []):
        mode = "on" if r["restore"] else "off (reset)"
        if "error" in r:
            add(f"| {r['connections']:,} | {mode} | not measured: {r['error'][:200]} | | | | | | |")
            continue
        stall = r["answer_ms"] if r["restore"] else r["error_ms"]
        add(f"| {r['connections']:,} | {mode} | {r['restored']:,} | {r['restore_ms']} ({r['plans_ms']} + "
            f"{r['spare_ms']}) | {r['per_s'] or '-'} | {stall['p50']} | {stall['p99']} | {stall['max']} | "
            f"{r['errors']:,} |")
    add("")
