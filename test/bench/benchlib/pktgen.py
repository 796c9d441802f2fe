"""Runs cg-pktgen (test/bench), against a DUT over memif or alone on a
net_ring loopback, on CPU 0; every run's JSON result goes to args.results."""
import json
import os
import signal
import subprocess
import time

from .perf import profile
from .procs import log, remove_runtime, spawn, started, stop
from .topology import GEN_CPU, GEN_PREFIX, GW_MAC, NODES, VIP, client_dev


def gen_cmd(args, dut, name, extra):
    out = os.path.join(args.raw, f"gen-{name}.json")
    cmd = [args.pktgen, "--device", client_dev(dut.memif), "--file-prefix", GEN_PREFIX, "--cpu", str(GEN_CPU),
           "--dst-mac", GW_MAC, "--vip", VIP, "--dport", "80", "--cpu-probe", dut.probe(),
           "--cpu-probe", f"/proc/{dut.p.pid}/task/{dut.p.pid}/schedstat", "--json", out, "-q"]
    if dut.kind == "gatewayd":
        for _ip, mac, w in NODES:
            cmd += ["--node", f"{mac}={w}"]
    return cmd + [str(x) for x in extra], out


def start_gen(args, name, cmd):
    """Starts cg-pktgen with its command line at the top of raw/gen-<name>.log."""
    logf = os.path.join(args.raw, f"gen-{name}.log")
    with open(logf, "w") as lf:
        lf.write(" ".join(cmd) + "\n")
    return spawn(cmd, logf, "a"), logf


def end_gen(p, timeout_s, late=None):
    """Waits for cg-pktgen; past `timeout_s` stops it (saying `late`, if given) and removes its runtime files."""
    try:
        p.wait(timeout_s)
    except subprocess.TimeoutExpired:
        if late:
            log(late)
        stop(p, signal.SIGINT, 10)
    if p in started:
        started.remove(p)
    remove_runtime(GEN_PREFIX)


def read_result(out):
    """The generator's JSON line, or None when it wrote none."""
    if not os.path.exists(out):
        return None
    with open(out) as f:
        return json.load(f)


def run_gen(args, dut, name, extra, timeout_s, profile_s=0):
    """Runs cg-pktgen against `dut`; returns its JSON result with the DUT's counter deltas."""
    cmd, out = gen_cmd(args, dut, name, extra)
    before = dut.counters()
    t0 = time.time()
    p, logf = start_gen(args, name, cmd)
    perf = None
    if profile_s:
        perf = profile(args, dut, name, profile_s, p)
    end_gen(p, timeout_s, f"{name}: generator still running after {timeout_s} s: stopping it (the window is cut short)")
    if perf:
        stop(perf, signal.SIGINT, 20)
    r = read_result(out)
    if r is None:
        raise RuntimeError(f"{name}: the generator wrote no result (exit {p.returncode}); see {logf}")
    after = dut.counters()
    r["dut_delta"] = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    r["wall_s"] = time.time() - t0
    r["name"], r["dut"], r["cmd"] = name, dut.kind + ("" if dut.kind == "gatewayd" else " " + dut.mode), cmd
    probes = r.get("cpu_probes") or [{}]
    r["dut_share"] = probes[0].get("share", -1)
    r["dut_main_share"] = probes[1].get("share", -1) if len(probes) > 1 else -1  # its main lcore, on the generator's CPU
    dut_cpu_s = probes[0].get("cpu_ns", -1) / 1e9
    r["rx_pps_per_dut_cpu"] = r["received"] / dut_cpu_s if dut_cpu_s > 0 else 0
    r["syn_back_per_dut_cpu"] = r["rx_window"]["syn"] / dut_cpu_s if dut_cpu_s > 0 else 0
    args.results.append(r)
    log(f"{name}: {r['rx_pps'] / 1e6:.3f} Mpps back, loss {r['loss_pct']:.3f} %, SYNs back {r['syn_back_per_s'] / 1e6:.3f} M/s, "
        f"p50 {r['latency_ns']['p50'] / 1e3:.1f} us p99 {r['latency_ns']['p99'] / 1e3:.1f} us, "
        f"DUT CPU {100 * r['dut_share']:.0f} %, gen CPU {100 * r['gen_cpu_share']:.0f} %")
    return r


def run_loopback(args, window):
    """cg-pktgen alone on a net_ring loopback port (its own ceiling on CPU 0)."""
    out = os.path.join(args.raw, "gen-loopback.json")
    cmd = [args.pktgen, "--device", "net_ring0", "--file-prefix", GEN_PREFIX, "--cpu", str(GEN_CPU), "--flows",
           "1000000", "--assume-open", "--duration", str(window), "--json", out, "-q"]
    p, logf = start_gen(args, "loopback", cmd)
    end_gen(p, 60 + window)
    r = read_result(out)
    if r is None:
        log(f"loopback: no result; see {logf}")
        return None
    r["cmd"] = cmd
    log(f"loopback: the generator alone moves {r['rx_pps'] / 1e6:.3f} Mpps (TX and RX), CPU {100 * r['gen_cpu_share']:.0f} %")
    return r
