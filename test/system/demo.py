#!/usr/bin/env python3
"""clustergate demo: one gatewayd in front of three real HTTP servers, then
the same under controld, whose manager moves the weights.

    python3 test/system/demo.py --build build [--requests 600] [--no-manager]

Builds a small network in namespaces (a client, the gateway, nodes n1..n3,
all on one bridge; 198.18.0.0/15 only), starts gatewayd with
conf/gateway.yaml (under a name of its own, so it never collides with
another gateway), sends real HTTP requests from the client to the cluster
address, prints how they spread over the nodes next to the weights and what
the gateway counted, and removes everything it made. Exits non-zero if a
request failed or a node's share is more than 5% off its weight.

The second part (conf/managed.yaml) runs controld, which starts gatewayd,
probes the nodes and takes reports from a nodeagent on each: n2 is made 40
ms slow on purpose, and the demo prints its weight falling period by period
and where the traffic goes, then n2 recovers and its weight comes back.

The third part holds 2,000 keep-alive connections to nginx on the nodes and
kills gatewayd with kill -9, a request in flight on each: controld starts a
new one, puts back the connections the nodes hold, and every connection
carries on.

The fourth part is the gateway pair: gateways a (active) and b (its
backup), 2,000 keep-alive connections and a 24 MB download through a, then
both of a's processes killed: b takes over, and the demo prints the
takeover time, how many connections carried on, and the download's
checksum against the file's.

The fifth part is a node's failure: n4 the spare of n3, n3's port copied
to the gateway's SPAN port for the mirror parser, wrk at full speed on 20
keep-alive connections to nginx on n3, then n3 cut off without warning:
its connections are carried on by n4 (TCP_REPAIR from what the parser
followed), and wrk sees no error.
scripts/demo installs, builds and sets up hugepages first.
"""

import argparse
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import topology  # noqa: E402
from gateway import PROGRAMS, counts, format_rows, lab, preflight, spread_rows, sweep_stale  # noqa: E402
from manager_lab import mlab, pair_lab, percentile  # noqa: E402
from scenarios.pair import kill_active  # noqa: E402
from scenarios.recovery import PORT, carried_on, hold_connections, kill_gatewayd  # noqa: E402
from scenarios.restore_http import LOAD_BENCH, sc_http_restore_load  # noqa: E402
from topology import CLIENT_IP, CLUSTER_IP, Topology  # noqa: E402


def say(text=""):
    print(text, flush=True)


def demo(build, requests):
    say(f"clustergate demo: client {CLIENT_IP} -> cluster {CLUSTER_IP}:80 -> gatewayd -> nodes n1, n2, n3")
    say("  the nodes answer the client directly (direct server return); the gateway only picks the node")
    t0 = time.monotonic()
    with lab("demo", build, log=lambda m: say("  " + m)) as L:
        say(f"  ready in {time.monotonic() - t0:.1f}s: node servers up, node MACs learned by ARP")
        say()
        weights = L.weights("tcp", 80)
        say(f"{requests} HTTP requests (GET /, each on a new TCP connection) to {CLUSTER_IP}:80 ...")
        t1 = time.monotonic()
        nodes, errors = L.http_new(requests, timeout=120)
        say(f"  {len(nodes)} answered in {time.monotonic() - t1:.1f}s, {len(errors)} failed")
        for e in errors[:3]:
            say(f"  failed: {e}")
        seen = counts(nodes)
        gw_new = L.new_by_node("tcp", 80)
        rows, failures = spread_rows(seen, weights)
        say()
        table = [(f"{n} {L.topo.node_ips[n]}", w, got, f"{share:.1%}", f"{want:.1%}", gw_new.get(n, 0))
                 for n, w, got, share, want in rows]
        say(format_rows(("node", "weight", "connections seen by the client", "share", "expected share",
                         "gateway's count"), table))
        say()
        say("gwctl show clusters:")
        say(indent(L.gw.ctl("show", "clusters")))
        say("gwctl show stats:")
        say(indent(L.gw.ctl("show", "stats")))
    say("cleaned up: gatewayd stopped; namespaces, processes and hugepage files removed")
    if errors or failures:
        for f in failures:
            say(f"FAIL: spread off by more than 5%: {f}")
        if errors:
            say(f"FAIL: {len(errors)} of {requests} requests failed")
        return 1
    say(f"OK: every node got its weight's share of the {requests} connections, within 5%")
    return 0


def weights_line(L):
    rows = L.gw.manager()["nodes"]
    return "  ".join(f"{n} {rows[L.topo.node_ips[n]]['data plane']:>3} ({rows[L.topo.node_ips[n]]['answer_time']} ms)"
                     for n in L.topo.nodes)


def traffic(L, seconds):
    reqs = L.client.call("http_timed", timeout=seconds + 20, address=CLUSTER_IP, seconds=seconds)["requests"]
    ok = [r[2] for r in reqs if not r[3]]
    spread = counts(r[1] for r in reqs if r[1])
    return (f"{len(reqs)} requests, {len(reqs) - len(ok)} failed; "
            + ", ".join(f"{n} {spread.get(n, 0)}" for n in L.topo.nodes)
            + (f"; p50 {percentile(ok, 50):.1f} ms, p99 {percentile(ok, 99):.1f} ms" if ok else ""))


def demo_manager(build):
    say("the closed loop: controld (conf/managed.yaml) starts gatewayd, probes each node every 300 ms,")
    say("  takes nodeagent reports, and moves the weights every 500 ms (docs/weights.md)")
    with mlab("demo_mgr", build, log=lambda m: say("  " + m)) as L:
        L.gw.mctl("manager", "set", "importance.conns", "0")  # one-at-a-time requests: connection counts are noise
        say(f"  weights (probe answer time): {weights_line(L)}")
        say(f"  3 s of requests: {traffic(L, 3)}")
        say()
        failures = []
        for title, delay, ok, want in (("n2 made 40 ms slow on purpose:", 40, lambda w: w <= 2, "at most 2"),
                                       ("n2 fast again:", 0, lambda w: w >= 50, "at least 50")):
            say(title)
            L.topo.slow_down("n2", delay)
            for i in range(4):  # the weights, period by period
                time.sleep(0.5)
                say(f"  +{(i + 1) * 0.5:.1f}s  {weights_line(L)}")
            w = int(L.gw.manager()["nodes"][L.topo.node_ips["n2"]]["data plane"])
            if not ok(w):
                failures.append(f"{title} n2's weight is {w} after 2 s, expected {want}")
            say(f"  3 s of requests: {traffic(L, 3)}")
            say()
        say("gwctl -s <controld's socket> manager show:")
        say(indent(L.gw.mctl("manager", "show")))
    say("cleaned up: controld and gatewayd stopped; agents, namespaces and hugepage files removed")
    for f in failures:
        say(f"FAIL: {f}")
    if not failures:
        say("OK: the slow node's weight fell within a period or two and came back when it was fast again")
    return 1 if failures else 0


def demo_restart(build, count):
    say(f"connections that outlive gatewayd: {count} keep-alive connections to nginx on the nodes, then kill -9 of")
    say("  gatewayd under controld, with a request in flight on every connection")
    with mlab("demo_rst", build, log=lambda m: say("  " + m)) as L:
        h, opened = hold_connections(L, count)
        say(f"  {opened['opened']} connections open: {opened['by_node']}")
        c, took = kill_gatewayd(L, h)
        say(f"  gatewayd killed; {took:.2f} s later controld had started a new one and put back "
            f"{c['restored_connections']} connections from the nodes' shadow tables ({c['last_restore_ms']} ms)")
        after = h.call("collect 30")
        say(f"  {after['ok']} of {count} connections carried on: each request answered by its own node on the same "
            f"socket (slowest {after['slowest_ms']} ms); reset {after['reset']}, closed {after['closed']}, "
            f"no answer {after['timeout']}")
        ok = carried_on(after, count)
    say("cleaned up: controld and gatewayd stopped; agents, nginx, namespaces and hugepage files removed")
    if not ok:
        say(f"FAIL: {after}")
    return 0 if ok else 1


def demo_pair(build, count, size=24 << 20):
    say(f"the gateway pair: a (active) and b (its backup), each a controld and a gatewayd; {count} keep-alive")
    say(f"  connections and a {size >> 20} MB download (8 MB/s) through a, then kill -9 of a's controld and gatewayd")
    with pair_lab("demo_pair", build, log=lambda m: say("  " + m)) as L:
        topo = L.topo
        h, opened = hold_connections(L, count)
        say(f"  {opened['opened']} connections open through a: {opened['by_node']}")
        want = topo.put_file("big.bin", size)
        got_path = os.path.join(topo.dir, "download.bin")
        curl = topo.spawn(topo.client, ["curl", "-f", "-s", "-S", "--max-time", "60", "-o", got_path,
                                         f"http://{CLUSTER_IP}:{PORT}/files/big.bin"], name="download")
        t_download = time.monotonic()
        time.sleep(1.0)
        took, _ = kill_active(L, h)
        ha = L.b.ha()
        say(f"  a killed; b forwards {took * 1000:.0f} ms later: {ha['why']} (the takeover itself "
            f"{ha['counters']['last_takeover_ms']} ms: the nodes' connections fetched and put into b's gatewayd)")
        after = h.call("collect 30")
        say(f"  {after['ok']} of {count} connections carried on: each request answered by its own node on the same "
            f"socket (slowest {after['slowest_ms']} ms); reset {after['reset']}, closed {after['closed']}")
        rc = curl.wait(timeout=90)
        seconds = time.monotonic() - t_download
        got = hashlib.sha256(open(got_path, "rb").read()).hexdigest() if os.path.exists(got_path) else "none"
        say(f"  the download: {seconds:.1f} s, a's death 1 s into it; curl exit {rc}, sha256 {got[:16]}... ({'right' if got == want else 'WRONG'}: "
            f"the file's is {want[:16]}...)")
        ok = carried_on(after, count) and rc == 0 and got == want
    say("cleaned up: both gateways stopped; agents, nginx, namespaces and hugepage files removed")
    if not ok:
        say(f"FAIL: connections {after}, download exit {rc}, checksum {'right' if got == want else 'wrong'}")
    return 0 if ok else 1


def demo_spare(build):
    say("a node dies under load: n3 behind a port with nginx, n4 its spare, n3's port copied to the gateway's")
    say("  SPAN port (tc mirred) for the mirror parser; wrk at full speed on 20 keep-alive connections to n3,")
    say("  then n3's link cut and its nginx killed, without warning")
    options = {k: v for k, v in LOAD_BENCH.items() if k != "bench"}
    with mlab("demo_spare", build, log=lambda m: say("  " + m), **options) as L:
        summary = sc_http_restore_load(L, lambda m: say("  " + m))
        say(f"  {summary}")
    say("cleaned up: controld, gatewayd, agents, nginx and namespaces stopped and removed")
    return 0


def indent(text):
    return "\n".join("  " + l for l in text.rstrip("\n").splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build", help="meson build directory (default: build)")
    ap.add_argument("--requests", type=int, default=600, help="HTTP requests to send (1-10000, default 600)")
    ap.add_argument("--no-manager", action="store_true", help="only the first part (gatewayd alone)")
    ap.add_argument("--programs", action="store_true",
                    help="print the meson targets the demo runs, one a line, and exit (scripts/demo builds them)")
    a = ap.parse_args()
    if a.programs:
        print("\n".join(PROGRAMS))
        return 0
    if not 1 <= a.requests <= 10000:
        ap.error("--requests: 1 to 10000")
    problems = preflight(os.path.abspath(a.build))
    if problems:
        for p in problems:
            say(f"demo: cannot run: {p}")
        return 1
    Topology.sweep_stale(log=lambda m: say("  " + m))
    sweep_stale(log=lambda m: say("  " + m))
    try:
        parts = ["spread by weight"]
        rc = demo(os.path.abspath(a.build), a.requests)
        if rc == 0 and not a.no_manager:
            say()
            parts.append("closed loop")
            rc = demo_manager(os.path.abspath(a.build))
        if rc == 0 and not a.no_manager:
            say()
            parts.append("connections outlive gatewayd")
            rc = demo_restart(os.path.abspath(a.build), 2000)
        if rc == 0 and not a.no_manager:
            say()
            parts.append("the backup takes over")
            rc = demo_pair(os.path.abspath(a.build), 2000)
        if rc == 0 and not a.no_manager:
            say()
            parts.append("a spare carries a dead node's connections on")
            rc = demo_spare(os.path.abspath(a.build))
        say()
        say(f"demo: {'OK' if rc == 0 else 'FAILED'} ({', '.join(parts)})")
        return rc
    except (KeyboardInterrupt, topology.Interrupted):
        say("demo: interrupted; everything it started was stopped and removed")
        return 130
    except (AssertionError, topology.CommandError) as e:
        say(f"demo: FAILED: {e}")
        for note in getattr(e, "__notes__", []):
            say(note)
        return 1


if __name__ == "__main__":
    sys.exit(main())
