"""What is measured, in which order. Every scenario is bounded in time and
stops what it started, also on failure; results go to args.scen, which the
report reads (and raw/state.pickle keeps for --report-only)."""
import json
import re

import parser_rate  # test/bench, beside this package: the mirror parser on one lcore, fed by the pcap PMD
import restoration  # test/bench, beside this package: a failed node's connections restored on its spare
import takeover  # test/bench, beside this package: the gateway pair's takeover
import takeover_flows  # test/bench, beside this package: the pair's takeover of a million cg-pktgen flows
import tcp_compare  # test/bench, beside this package: real TCP through namespaces

from . import conn_file
from .duts import Gatewayd, Testpmd
from .figures import fmt_count
from .pktgen import run_gen, run_loopback
from .procs import log, sh
from .topology import FULL_SLOTS_CONNS, NODES, VIP


def plan(quick):
    if quick:
        return dict(flows=[1000, 100_000, 1_000_000], window=1.2, repeats=2, lat_window=1.2, nearfull=False,
                    macswap_flows=[1000], profile=1.0, fill_flows=[1_000_000], profile_fill=[])
    return dict(flows=[1000, 100_000, 1_000_000, 10_000_000], window=4, repeats=3, lat_window=3, nearfull=True,
                macswap_flows=[1000, 1_000_000], profile=3.0, fill_flows=[1_000_000, 10_000_000],
                profile_fill=[10_000_000])


def scenarios(args):
    P = plan(args.quick)
    S = args.scen = {"est": {}, "io": {}, "macswap": {}, "fill": {}, "churn": {}, "lat": {}, "mem": {}, "check": None,
                         "mirror": {}}
    for flows in P["flows"]:
        established(args, P, S, flows)
        if flows in P["macswap_flows"]:
            macswap(args, P, S, flows)
    # The generator's own ceiling: a net_ring port whose TX ring is its RX
    # ring, no DUT. Far above the DUTs' rates, so it does not set them.
    S["loopback"] = run_loopback(args, P["window"])
    churn(args, P, S)
    mirror_cost(args, P, S)
    table_memory(args, S)
    mirror_parser(args, S)
    real_tcp(args, S)
    bulk_requests(args, P, S)
    pair_takeover(args, S)
    flows_takeover(args, S)
    node_restoration(args, S)


def gen_timeout(flows, window):
    return 60 + window + flows / 100_000  # warm-up at 100k SYN/s at worst


def turn(args, dut, name, extra, window, profile_s=0):
    """One run against a paused DUT, which is paused again after it."""
    dut.resume()
    try:
        return run_gen(args, dut, name, extra, gen_timeout(0, window), profile_s=profile_s)
    finally:
        dut.pause()


def established(args, P, S, flows):
    """Established flows, per table size: a fresh gatewayd sized for the flows;
    the first run opens every flow in one measured SYN flood (the SYN path
    into an empty table), then data over all of them (assume-open). testpmd
    io stays up beside it on its own socket; the two take turns (the other
    one paused), so that each gatewayd run has a reference run next to it."""
    w = P["window"]
    tag = fmt_count(flows)
    gw = tp = None
    try:
        gw = Gatewayd(args, args.raw, tag, flows).start()
        S["mem"][flows] = {"hugetlb_kib": gw.hugetlb_kib}
        fill = run_gen(args, gw, f"fill-{tag}", ["--flows", flows, "--no-warmup", "--mix", "1:0:0:0",
                                                 "--count", flows, "--duration", 120, "--settle", 0.05],
                       gen_timeout(flows, 0), profile_s=P["profile"] if flows in P["profile_fill"] else 0)
        if flows in P["fill_flows"]:
            S["fill"][flows] = fill
        gw.pause()
        tp = Testpmd(args, args.raw, f"io-{tag}", "io").start()
        tp.pause()
        est, io = [], []
        for i in range(P["repeats"]):
            prof = P["profile"] if (flows == 1_000_000 and i == P["repeats"] - 1) else 0
            est.append(turn(args, gw, f"est-{tag}-{i}", ["--flows", flows, "--assume-open", "--duration", w], w, prof))
            io.append(turn(args, tp, f"io-{tag}-{i}", ["--flows", flows, "--assume-open", "--duration", w], w))
        S["est"][flows], S["io"][flows] = est, io
        if flows == max(P["flows"]):
            # Same table, 1k active flows: table size or working set?
            S["small_ws"] = (flows, turn(args, gw, f"est-{tag}-table-1k-flows",
                                         ["--flows", 1000, "--assume-open", "--duration", w], w))
        if flows == 1_000_000:
            latency(args, P, S, gw, tp, flows, max(r["rx_pps"] for r in est))
    finally:
        for d in (gw, tp):
            if d:
                d.stop()


def latency(args, P, S, gw, tp, flows, top):
    """Latency at 50 % and 90 % of gatewayd's best rate, the same absolute
    rates for both DUTs, with gatewayd's loop-time histogram around each run."""
    S["lat"]["max_pps"] = top
    lw = P["lat_window"]
    for frac in (0.5, 0.9):
        rate = ["--flows", flows, "--assume-open", "--rate", int(top * frac), "--duration", lw]
        before = gw.loop_times_paused()
        S["lat"][("gw", frac)] = turn(args, gw, f"lat-gw-{int(frac * 100)}", rate, lw)
        after = gw.loop_times_paused()
        # The worker's own loop durations over the window (and the settle around it).
        S["lat"][("gw_loops", frac)] = {k: after[k] - before.get(k, 0) for k in after}
        S["lat"][("io", frac)] = turn(args, tp, f"lat-io-{int(frac * 100)}", rate, lw)


def macswap(args, P, S, flows):
    """testpmd macswap: the ceiling of a forwarder that, like gatewayd, rewrites the MACs of every frame."""
    w = P["window"]
    tag = fmt_count(flows)
    tp = Testpmd(args, args.raw, f"macswap-{tag}", "macswap").start()
    try:
        S["macswap"][flows] = [run_gen(args, tp, f"macswap-{tag}",
                                       ["--flows", flows, "--assume-open", "--duration", w], gen_timeout(0, w))]
    finally:
        tp.stop()


def churn(args, P, S):
    """New connections at a steady table size: SYN/RST pairs (each SYN a new
    connection, each RST ends the oldest), 100k connections in a 1M table,
    and 95 % of the most a 2 Mi-slot table may hold (slot load 71 %)."""
    w = P["window"]
    runs = [("100k-of-1M", 1_000_000, 100_000)]
    if P["nearfull"]:
        runs.append(("nearfull", FULL_SLOTS_CONNS, int(FULL_SLOTS_CONNS * 0.95)))
    for tag, conns, flows in runs:
        gw = Gatewayd(args, args.raw, f"churn-{tag}", conns).start()
        S["mem"].setdefault(conns, {"hugetlb_kib": gw.hugetlb_kib})
        try:
            S["churn"][tag] = run_gen(args, gw, f"churn-{tag}", ["--flows", flows, "--mix", "1:0:0:1", "--duration", w],
                                      gen_timeout(flows, w))
            S["churn"][tag]["table"] = conns
            if tag == "100k-of-1M":
                # Correctness under a mixed stream with malformed frames: the
                # same gateway, 100k flows, SYN:data:FIN:RST 1:8:0.5:0.5, 1 % malformed.
                # At 1 Mpps: FIN entries stay fin_timeout (3 x msl = 90 s) in the table; faster, they fill it.
                S["check"] = run_gen(args, gw, "check-mix", ["--flows", flows, "--mix", "1:8:0.5:0.5", "--malformed",
                                                            0.01, "--rate", 1_000_000, "--duration", w],
                                     gen_timeout(flows, w))
        finally:
            gw.stop()


def mirror_cost(args, P, S):
    """The active's cost of the mirror (requirements 3.2): established flows without
    it, with state_changes and with every_frame (copies to a net_null port,
    which frees them), a fresh gatewayd each, the same flows and window."""
    w, flows = P["window"], 1000
    for mode in (None, "state_changes", "every_frame"):
        tag = f"mirror-{mode or 'off'}"
        gw = Gatewayd(args, args.raw, tag, flows, mirror=mode).start()
        try:
            run_gen(args, gw, f"fill-{tag}", ["--flows", flows, "--no-warmup", "--mix", "1:0:0:0", "--count", flows,
                                              "--duration", 120, "--settle", 0.05], gen_timeout(flows, 0))
            S["mirror"][mode or "off"] = [
                run_gen(args, gw, f"est-{tag}-{i}", ["--flows", flows, "--assume-open", "--duration", w],
                        gen_timeout(0, w)) for i in range(P["repeats"])]
        finally:
            gw.stop()


def table_memory(args, S):
    """Table memory as gatewayd sizes it (conn_table::slots_for x 32 bytes)."""
    for conns in list(S["mem"]) + [10_000_000]:
        r = sh([args.pktgen, "--table-bytes", str(conns)], timeout=30)
        S["mem"].setdefault(conns, {}).update(json.loads(r.stdout))


def namespaced(args, S, key, module, what):
    """One of the measurements of a module beside this package (a module with run(build, quick, log)) into S[key]; a failure is
    reported as not measured, with the reason, and the rest of the report stands."""
    try:
        S[key] = module.run(args.build, quick=args.quick, log=lambda m: log(m))
    except Exception as e:
        S[key] = {"error": f"{type(e).__name__}: {e}"}
        log(f"{what} failed: {e}")


def mirror_parser(args, S):
    """The mirror parser's rate on one lcore over the fixture captures, against testpmd rxonly on the same input."""
    namespaced(args, S, "parser", parser_rate, "mirror parser measurement")


def real_tcp(args, S):
    """Real TCP through namespaces: gatewayd vs HAProxy vs kernel forwarding."""
    namespaced(args, S, "tcp", tcp_compare, "tcp comparison")


def bulk_requests(args, P, S):
    """The bulk requests of a restart or a takeover on one worker: a million
    entries into an empty table (`load connections`: inserts of 65,536 over
    the control socket, the worker taking them between its polls), then
    all of them out again (`save connections`: dumps), a fresh gatewayd a run."""
    n = 1_000_000
    path = f"{args.raw}/bulk-1M.cgct"
    conn_file.write(path, n, VIP, 80, [ip for ip, _mac, _w in NODES])
    S["bulk"] = runs = []
    try:
        for i in range(P["repeats"]):
            runs.append(bulk_run(args, path, n, i))
            log(f"bulk: {runs[-1]}")
    except Exception as e:  # the report says what was measured; the rest of the run stands
        log(f"bulk requests failed: {e}")


def bulk_run(args, path, n, i):
    """One fresh gatewayd: the file loaded into it, then saved out of it."""
    gw = Gatewayd(args, args.raw, f"bulk-{i}", n + n // 10).start()
    try:
        load = gw.gwctl("load", "connections", path, timeout=60).stdout
        save = gw.gwctl("save", "connections", f"{args.raw}/bulk-out.cgct", timeout=60).stdout
    finally:
        gw.stop()
    m_load = re.search(r"in ([\d.]+) ms .*: (\d+) inserted", load)
    m_save = re.search(r"^saved (\d+) .*the dumps took ([\d.]+) ms", save, re.M)
    if not (m_load and m_save):
        raise RuntimeError(f"bulk requests: unexpected answers: {load!r} {save!r}")
    return {"entries": n, "insert_ms": float(m_load.group(1)), "inserted": int(m_load.group(2)),
            "dumped": int(m_save.group(1)), "dump_ms": float(m_save.group(2))}


def pair_takeover(args, S):
    """The gateway pair's takeover with real TCP connections, and keepalived's VRRP as the reference."""
    namespaced(args, S, "takeover", takeover, "takeover measurement")


def flows_takeover(args, S):
    """The pair's takeover of a million cg-pktgen flows over memif (100,000 in --quick)."""
    namespaced(args, S, "takeover_flows", takeover_flows, "takeover of cg-pktgen flows")


def node_restoration(args, S):
    """A failed node's connections restored on its spare, against the same failure with restoration off."""
    namespaced(args, S, "restoration", restoration, "restoration measurement")
