"""The gateway pair's takeover with a million cg-pktgen flows, in the memif
topology: gatewayd a (active) and b (standby) joined by a memif mirror
link (mode state_changes), cg-pktgen with one port to each (`--device` to
a, `--backup-device` to b; both gateways answer to the same MAC, as a
VRRP-style virtual MAC would). The generator opens every flow through a,
whose mirror gives b its table; during the measurement the bench kills a
(kill -9), sets b active as soon as a is gone (what b's controld does once
its dead time has passed: that detection is timed by takeover.py, not
here), and the generator moves its traffic to b when its link to a goes
down, as a switch does after the backup's gratuitous ARP.

Reported: b's table before the kill (entries followed from the mirror),
the time from the kill to b active and to the generator's move, the
packets lost (and the outage they make at the offered rate), b's drops
(standby: before it was active; no_connection: flows it did not know),
and the generator's own check that every packet came back from its
flow's original node (node_mismatch, rx_unknown_node).

Used by scripts/bench (scenario "takeover of a million flows"); runnable alone:
    python3 test/bench/takeover_flows.py --build build [--flows 1000000] [--rate 500000]
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from benchlib.duts import tables_and_cluster  # noqa: E402
from benchlib.procs import remove_runtime  # noqa: E402
from benchlib.topology import GW_MAC, NODES, VIP  # noqa: E402

GEN_PREFIX = "cg-tkf-gen"
TRIES = 3


class GeneratorCrash(RuntimeError):
    """cg-pktgen died of a signal. Seen here: SIGSEGV inside librte_net_memif
    (DPDK 22.11) when the memif's control thread tears down the link to the
    killed gateway while the generator's worker is in a burst on it; a run
    it happens in is run again, and the count is reported."""
GEN_MAC = "02:00:00:00:00:10"


def memif(n, role, sock, mac):
    return f"net_memif{n},role={role},socket={sock},socket-abstract=no,mac={mac}"


def gw_config(d, side, conns):
    """a: lan and the mirror link's server end; b: lan and its client end, polling with pauses (it shares a's CPU)."""
    peer_role, peer_mac, sleep = ("server", "02:00:00:00:00:0a", "0") if side == "a" else ("client", "02:00:00:00:00:0b", "20us")
    path = os.path.join(d, f"gw-{side}.yaml")
    with open(path, "w") as f:
        f.write(f"""gateway:
  name: tkf{side}
  control_socket: {d}/{side}.sock
  idle_sleep: {sleep}
eal:
  args: ["--in-memory"]
lcores:
  main: 0
  workers: [1]
ports:
  - name: lan
    device: "{memif(0, 'server', f'{d}/{side}.memif', GW_MAC)}"
  - name: peer
    device: "{memif(1, peer_role, f'{d}/mirror.memif', peer_mac)}"
mirror: {{port: peer, mode: state_changes, refresh: 1s}}
{tables_and_cluster(conns)}""")
    return path


def gwctl(build, sock, *words, timeout=20):
    r = subprocess.run([os.path.join(build, "control", "gwctl", "gwctl"), "-s", sock, *words], capture_output=True,
                       text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"gwctl {' '.join(words)}: {r.stdout.strip()} {r.stderr.strip()}")
    return r.stdout


def worker_row(build, sock):
    """rx, fwd, tx, drops, conns of worker 0 (gwctl show lcores)."""
    m = re.search(r"^\s*\d+\s+worker 0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", gwctl(build, sock, "show", "lcores"), re.M)
    return dict(zip(("rx", "fwd", "tx", "drops", "conns"), map(int, m.groups()))) if m else {}


def nonzero_drops(build, sock):
    out = {}
    for line in gwctl(build, sock, "show", "drops").splitlines():
        m = re.match(r"\s*([a-z0-9_]+)\s+(\d+)\s*$", line)
        if m and m.group(1) not in ("name", "total") and int(m.group(2)):
            out[m.group(1)] = int(m.group(2))
    return out


def wait_for(cond, timeout_s, what):
    end = time.time() + timeout_s
    while not cond():
        if time.time() > end:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


def measure(build, flows, rate, log=print, kill_after=2.0, duration=6.0):
    d = tempfile.mkdtemp(prefix="cg-tkf-")  # configs, sockets and logs; kept when a run fails
    gatewayd = os.path.join(build, "dataplane", "gatewayd")
    procs, done = [], False
    try:
        conns = flows + flows // 10
        a = subprocess.Popen([gatewayd, "-c", gw_config(d, "a", conns)], stdout=open(f"{d}/a.log", "w"),
                             stderr=subprocess.STDOUT)
        procs.append(a)
        gwctl(build, f"{d}/a.sock", "--wait", "30", "show", "info", timeout=40)
        b = subprocess.Popen([gatewayd, "-c", gw_config(d, "b", conns), "--role", "standby"],
                             stdout=open(f"{d}/b.log", "w"), stderr=subprocess.STDOUT)
        procs.append(b)
        gwctl(build, f"{d}/b.sock", "--wait", "30", "show", "info", timeout=40)
        cmd = [os.path.join(build, "test", "bench", "cg-pktgen"), "--device", memif(0, "client", f"{d}/a.memif", GEN_MAC),
               "--backup-device", memif(1, "client", f"{d}/b.memif", GEN_MAC), "--file-prefix", GEN_PREFIX, "--cpu", "0",
               "--dst-mac", GW_MAC, "--vip", VIP, "--dport", "80", "--flows", str(flows), "--rate", str(rate),
               "--warmup-rate", "200000", "--settle", "1.5", "--duration", str(duration), "--json", f"{d}/gen.json"]
        for _ip, mac, w in NODES:
            cmd += ["--node", f"{mac}={w}"]
        genlog = f"{d}/gen.log"
        gen = subprocess.Popen(cmd, stdout=open(genlog, "w"), stderr=subprocess.STDOUT)
        procs.append(gen)
        wait_for(lambda: "phase measure" in open(genlog).read() or gen.poll() is not None, 60 + flows / 50_000,
                 "the generator's measurement")
        if gen.poll() is not None:
            raise RuntimeError(f"cg-pktgen ended before its measurement; see {genlog}")
        time.sleep(kill_after)
        before = worker_row(build, f"{d}/b.sock")
        followed = before.get("conns", 0)
        t_kill = time.monotonic()
        a.kill()
        a.wait()
        gwctl(build, f"{d}/b.sock", "set", "role", "active")
        active_ms = (time.monotonic() - t_kill) * 1000
        first_ms = None
        while first_ms is None and time.monotonic() - t_kill < 5:
            if worker_row(build, f"{d}/b.sock").get("fwd", 0) > before.get("fwd", 0):
                first_ms = (time.monotonic() - t_kill) * 1000
        gen.wait(60 + duration)
        if gen.returncode < 0:
            raise GeneratorCrash(f"cg-pktgen died of signal {-gen.returncode} after the kill; see {genlog}")
        r = json.load(open(f"{d}/gen.json"))
        moved = re.search(r"traffic moved to .* at ([\d.]+) s", open(genlog).read())
        after = worker_row(build, f"{d}/b.sock")
        out = {"flows": flows, "rate": rate, "followed_before_kill": followed, "active_ms": round(active_ms, 1),
               "first_frame_ms_polled": round(first_ms, 1) if first_ms is not None else None,
               "moved": bool(moved), "offered": r["offered"], "received": r["received"], "lost": r["lost"],
               "outage_ms": round(r["lost"] / rate * 1000, 1), "node_mismatch": r["node_mismatch"],
               "rx_unknown_node": r["rx_unknown_node"], "consistent": r["consistent"],
               "b_drops": nonzero_drops(build, f"{d}/b.sock"), "b_conns_after": after.get("conns", 0)}
        log(f"takeover of {flows} flows: {out}")
        done = True
        return out
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGINT if p is procs[-1] else signal.SIGTERM)
                try:
                    p.wait(15)
                except subprocess.TimeoutExpired:
                    p.kill()
        for prefix in ("cg-tkfa", "cg-tkfb", GEN_PREFIX):
            remove_runtime(prefix)
        if done:
            shutil.rmtree(d, ignore_errors=True)


def measure_retried(build, flows, rate, log=print):
    """measure(), run again (at most TRIES in all) when the generator crashed; says how often it did."""
    crashes = []
    for _ in range(TRIES):
        try:
            out = measure(build, flows, rate, log)
            out["generator_crashes"] = len(crashes)
            return out
        except GeneratorCrash as e:
            crashes.append(str(e))
            log(f"takeover of {flows} flows: {e}; again")
    raise RuntimeError(f"the generator crashed in each of {TRIES} runs: {crashes[-1]}")


def run(build, quick=False, log=print, flows=None, rate=500_000):
    try:
        return measure_retried(build, flows or (100_000 if quick else 1_000_000), rate, log)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--rate", type=int, default=500_000, help="packets per second offered")
    a = ap.parse_args()
    print(json.dumps(measure_retried(os.path.abspath(a.build), a.flows, a.rate, log=lambda m: print(m, flush=True))))


if __name__ == "__main__":
    main()
