#!/usr/bin/env python3
"""The system suite: gatewayd on net_af_packet in network namespaces, real
Linux TCP/UDP stacks on a client and three nodes (TESTING.md, test/system).

    python3 test/system/run.py --build build --results FILE [scenario ...]

Each scenario gets a fresh topology and gatewayd (conf/gateway.yaml, with a
name and control socket of its own), so that one scenario's counters, weights
and connections can never explain another's result. Prints PASS/FAIL per
scenario with the reason, appends one line "system <passed> <failed>" to
FILE (scripts/test sums those lines) and exits non-zero if any failed. No
root or no hugepages is a failure of every scenario, never a skip.
"""

import argparse
import hashlib
import hmac
import subprocess
import socket
import json
import os
import random
import re
import signal
import struct
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import topology  # noqa: E402
from gateway import (PROMPT, CommandError, counts, lab, preflight, spread_rows, sweep_stale,  # noqa: E402
                     wait_for)
from manager_lab import MGMT_IP, mlab, percentile  # noqa: E402
from topology import CLIENT_IP, CLUSTER_IP, GATEWAY_IP, Topology  # noqa: E402

SCENARIO_LIMIT_S = 90        # a scenario that runs longer than this has hung


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def seconds(text):
    """A console duration ("6s", "2h15m", "250ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+)(ms|us|h|m|s)", text)
    check(parts and "".join(n + u for n, u in parts) == text, f"cannot read duration {text!r}")
    return sum(int(n) * units[u] for n, u in parts)


def settle(read, expected, timeout=5):
    """Polls read() until it returns `expected` or `timeout` passes; returns
    its last value, for an exact comparison by the caller. Counters are
    read while the worker may still be counting the last packets."""
    try:
        return wait_for(lambda: (v := read()) == expected and (v,), timeout, "settle")[0]
    except AssertionError:
        return read()


class Steps:
    """What a scenario did so far, printed when it fails."""

    def __init__(self):
        self.lines = []
        self.t0 = time.monotonic()

    def __call__(self, text):
        self.lines.append(f"{time.monotonic() - self.t0:6.2f}s  {text}")


# ---- scenarios ---------------------------------------------------------------
#
# Each takes (lab, step) and returns a one-line summary, or raises
# AssertionError with what a user would see as wrong.

def delta_by_node(L, proto, port, before):
    """New connections per node since `before` (the gateway's counters)."""
    after = L.new_by_node(proto, port)
    return {n: after[n] - before.get(n, 0) for n in after}


def sc_spread(L, step):
    weights = L.weights("tcp", 80)
    check(weights == {"n1": 3, "n2": 2, "n3": 1}, f"weights in the demo config: {weights}, expected 3:2:1")
    before = L.new_by_node("tcp", 80)
    nodes, errors = L.http_new(600, timeout=60)
    step(f"600 new connections: {counts(nodes)}, {len(errors)} errors")
    check(not errors, f"{len(errors)} of 600 requests failed, first: {errors[:3]}")
    seen = counts(nodes)
    _, failures = spread_rows(seen, weights)
    check(not failures, "spread off by more than 5%: " + "; ".join(failures))
    delta = settle(lambda: delta_by_node(L, "tcp", 80, before), seen)
    check(delta == seen, f"gateway's new connections per node {delta} != the client's {seen}")
    return "client and gateway: " + ", ".join(f"{n} {seen[n]}" for n in sorted(seen))


def sc_long_lived(L, step):
    first = L.client.call("keep_open", id="k", address=CLUSTER_IP)
    x = first["node"]
    x_ip = L.topo.node_ips[x]
    step(f"keep-alive connection (client port {first['local_port']}) on {x}")
    out = L.gw.ctl("set", "weight", CLUSTER_IP, "tcp", "80", x_ip, "0")
    step(f"set weight {x} 0: {out.strip()}")
    check(L.weights("tcp", 80)[x] == 0, f"show clusters does not show weight 0 for {x}")
    new_x_before = L.new_by_node("tcp", 80)[x]

    nodes, errors = L.http_new(30)
    step(f"30 new connections: {counts(nodes)}")
    check(not errors, f"new connections failed after the weight change: {errors[:3]}")
    check(len(nodes) == 30 and x not in nodes, f"new connections went to {x} (weight 0): {counts(nodes)}")
    check(L.new_by_node("tcp", 80)[x] == new_x_before, f"the gateway counted new connections on {x}")

    answers = []
    for _ in range(3):  # interleaved with more new connections: the entry must not be disturbed
        answers += L.client.call("keep_get", id="k", count=3)["nodes"]
        more, errors = L.http_new(5)
        check(not errors and x not in more, f"new connections after the change: {more} {errors[:3]}")
    step(f"9 requests on the kept connection: {counts(answers)}")
    check(answers == [x] * 9, f"the long-lived connection answered from {counts(answers)}, expected only {x}")
    L.client.call("keep_close", id="k")
    return f"kept connection stayed on {x} (9 requests); 45 new connections avoided it"


# Malformed frames: (what, drop reason, builder(i) -> frame bytes).
def ip_checksum(header):
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(payload, proto=6, ihl=5, frag=0, total=None, src=CLIENT_IP, dst=CLUSTER_IP):
    total = 20 + len(payload) if total is None else total
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0x1234, frag, 64, proto, 0,
                              bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))))
    h[10:12] = struct.pack("!H", ip_checksum(bytes(h)))
    return bytes(h) + payload


def tcp(flags, sport):
    # Checksum left 0: every frame below is dropped before anyone checks it.
    return struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 5 << 4, flags, 65535, 0, 0)


def malformed_kinds():
    rnd = random.Random(7)  # fixed seed: a failure replays the same bytes

    def junk(i):
        # Random bytes zero-padded to a minimum frame; the first nibble (the
        # IP version) is never 4, so the reason is always bad_ip_header.
        head = bytes([rnd.randrange(0, 0x40)]) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(3, 20)))
        return 0x0800, head + bytes(46 - len(head))

    return [
        ("truncated (IP total length 1500, 40 bytes sent)", "truncated",
         lambda i: (0x0800, ipv4(tcp(0x02, 40000 + i), total=1500))),
        ("bad IHL (3)", "bad_ip_header", lambda i: (0x0800, ipv4(tcp(0x02, 40000 + i), ihl=3))),
        # DPDK's af_packet PMD joins a fanout group with
        # PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles (or holds for
        # good) an untagged fragment before gatewayd could see it. Inside two
        # VLAN tags the kernel does not recognise it as IPv4 and hands it on
        # as sent; two tags are legal for the gateway, the fragment is not.
        ("IP fragment (MF, in 802.1ad + 802.1Q tags)", "ip_fragment",
         lambda i: (0x88A8, struct.pack("!HHH", 10, 0x8100, 20) + struct.pack("!H", 0x0800)
                    + ipv4(tcp(0x02, 40000 + i), frag=0x2000))),
        ("SYN+FIN", "bad_tcp_flags", lambda i: (0x0800, ipv4(tcp(0x03, 40000 + i)))),
        ("no TCP flags", "bad_tcp_flags", lambda i: (0x0800, ipv4(tcp(0x00, 40000 + i)))),
        ("IPv6", "not_ipv4", lambda i: (0x86DD, struct.pack("!IHBB", 0x60000000, 20, 6, 64)
                                         + bytes(32) + tcp(0x02, 40000 + i))),
        ("3 VLAN tags", "bad_l2", lambda i: (0x8100, struct.pack("!HHHHH", 10, 0x8100, 20, 0x8100, 30)
                                               + struct.pack("!H", 0x0800) + ipv4(tcp(0x02, 40000 + i)))),
        ("zero-padded junk", "bad_ip_header", junk),
    ]


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(":"))


def sc_malformed(L, step, per_kind=50):
    gw_mac = L.gw.info()["ports"][0]["mac"]
    cl_mac = L.topo.mac(L.topo.client, "eth0")
    header = mac_bytes(gw_mac) + mac_bytes(cl_mac)
    base = L.gw.drops()
    expected = {}
    for what, reason, build in malformed_kinds():
        frames = []
        for i in range(per_kind):
            ethertype, payload = build(i)
            frames.append((header + struct.pack("!H", ethertype) + payload).hex())
        L.client.call("raw", iface="eth0", frames=frames)
        expected[reason] = expected.get(reason, 0) + per_kind

        # One kind at a time: a miscount names the kind that caused it.
        def delta():
            now = L.gw.drops()
            return {r: now[r] - base[r] for r in expected}
        got = settle(delta, expected)
        step(f"{per_kind} x {what}: drops {got}")
        check(got == expected, f"after {per_kind} x {what}: drop counters grew by {got}, expected {expected}")
        check(L.gw.running(), f"gatewayd exited after {what}")

    nodes, errors = L.http_new(50)
    step(f"50 requests after the burst: {counts(nodes)}, {len(errors)} errors")
    check(not errors and len(nodes) == 50, f"requests after the malformed burst failed: {errors[:3]}")
    sent = per_kind * len(malformed_kinds())
    grown = ", ".join(f"{r} +{n}" for r, n in expected.items())
    return f"{sent} bad frames counted exactly ({grown}); gatewayd alive, 50/50 requests ok"


def ping(L, address, count=5):
    """Pings from the client; (sent, received)."""
    r = L.topo.exec(L.topo.client, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1",
                    "-w", str(count + 2), address, check=False, timeout=count + 5)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    check(m, f"ping {address}: {r.stdout.strip()} {r.stderr.strip()}")
    return int(m.group(1)), int(m.group(2))


def sc_arp_icmp(L, step):
    gw_mac = L.gw.info()["ports"][0]["mac"].lower()
    check(gw_mac == L.topo.mac(L.topo.gw, "gw0"), f"show info says MAC {gw_mac}, gw0 has another")
    # A fresh ARP exchange, so the entry below is this test's.
    L.topo.ip(L.topo.client, "neigh", "flush", "dev", "eth0")
    replies_before = L.gw.stats()["control"]["icmp_replies"]
    for address in (CLUSTER_IP, GATEWAY_IP):
        sent, got = ping(L, address)
        step(f"ping {address}: {sent} sent, {got} answered")
        check(sent == 5 and got == 5, f"ping {address}: {got} of {sent} answered")
    replies = L.gw.stats()["control"]["icmp_replies"] - replies_before
    check(replies == 10, f"the gateway counted {replies} ICMP replies, the client got 10")
    for address in (CLUSTER_IP, GATEWAY_IP):
        entries = [e for e in L.topo.neigh(L.topo.client) if e.get("dst") == address]
        step(f"client ARP for {address}: {entries}")
        check(entries and entries[0].get("lladdr", "").lower() == gw_mac,
              f"client's ARP entry for {address} is {entries}, expected the gateway's MAC {gw_mac}")
    return f"10/10 pings answered; {CLUSTER_IP} and {GATEWAY_IP} -> {gw_mac}"


def sc_udp(L, step):
    before = L.new_by_node("udp", 5353)
    rep = L.client.call("udp", timeout=30, address=CLUSTER_IP, flows=60, per_flow=3)
    answers = rep["answers"]
    check(len(set(rep["ports"])) == 60, "the client's 60 flows did not get 60 source ports")
    lost = sum(a.count(None) for a in answers)
    check(lost == 0, f"{lost} of 180 datagrams got no answer")
    first = counts(a[0] for a in answers)
    step(f"first datagram of each of 60 flows: {first}")
    _, failures = spread_rows(first, L.weights("udp", 5353))
    check(not failures, "UDP spread off by more than 5%: " + "; ".join(failures))
    split = [a for a in answers if len(set(a)) != 1]
    check(not split, f"{len(split)} flows were answered by several nodes, e.g. {split[:3]}")
    delta = settle(lambda: delta_by_node(L, "udp", 5353, before), first)
    check(delta == first, f"gateway's new UDP flows per node {delta} != the client's {first}")
    return f"60 flows: {', '.join(f'{n} {c}' for n, c in sorted(first.items()))}; each flow's 3 datagrams on one node"


def sc_console(L, step):
    gw = L.gw

    def at_prompt():
        line, x = gw.cursor_line()
        return line.rstrip() == PROMPT.rstrip() and x == len(PROMPT)

    def after_last(command):
        """The pane's text after the last time `command` was typed."""
        text = gw.pane()
        i = text.rfind(PROMPT + command)
        return text[i + len(PROMPT + command):] if i >= 0 else ""

    wait_for(at_prompt, 10, "the console shows its prompt")
    gw.type("show clusters", enter=True)
    wait_for(lambda: all(ip in after_last("show clusters") for ip in L.topo.node_ips.values()) and at_prompt(),
             5, "show clusters lists the three nodes, then the prompt")
    step("show clusters: nodes listed")

    gw.type("sh")
    gw.key("Tab")
    wait_for(lambda: gw.cursor_line() == (PROMPT + "show", len(PROMPT + "show ")), 5,
             "'sh' + Tab completes to 'show ' (cursor after the blank)")
    gw.type("info", enter=True)
    wait_for(lambda: "software" in after_last("show info") and at_prompt(), 5, "the completed command runs")
    step("sh<Tab> -> 'show ', + info ran")

    gw.type("show bogus", enter=True)
    wait_for(lambda: "error:" in after_last("show bogus") and at_prompt(), 5,
             "a bad command says error: and the prompt comes back")
    step("bad command: " + after_last("show bogus").strip().splitlines()[0])
    check(gw.running(), "gatewayd exited after a bad command")

    pid = gw.pid
    gw.type("quit", enter=True)
    wait_for(lambda: not gw.running(), 15, f"gatewayd (pid {pid}) exits after quit")
    # tmux learns of the exit a moment after the PID is gone.
    rc = wait_for(lambda: (s := gw.exit_status()) is not None and (s,), 5, "tmux reports the exit status")[0]
    step(f"quit: pid {pid} gone, exit status {rc}")
    check(rc == 0, f"gatewayd exited with status {rc} after quit")
    return f"prompt, show clusters, completion, error + prompt, quit (pid {pid} gone, status 0)"


def sc_drain(L, step):
    first = L.client.call("keep_open", id="k", address=CLUSTER_IP)
    x = first["node"]
    x_ip = L.topo.node_ips[x]
    step(f"keep-alive connection on {x}")
    out = L.gw.ctl("del", "node", CLUSTER_IP, "tcp", "80", x_ip)
    step(f"del node {x}: {out.strip()}")

    def x_row():
        return L.gw.clusters()[("tcp", 80)]["nodes"].get(x_ip)
    row = x_row()
    check(row and row["state"] == "draining", f"after del node, show clusters shows {x} as {row}")
    check(row["active"] == "1", f"the draining node shows {row['active']} active connections, expected 1")

    answers = L.client.call("keep_get", id="k", count=5)["nodes"]
    check(answers == [x] * 5, f"the draining node's connection answered from {counts(answers)}")
    nodes, errors = L.http_new(30)
    step(f"30 new connections: {counts(nodes)}")
    check(not errors and len(nodes) == 30, f"new connections failed while {x} drains: {errors[:3]}")
    check(x not in nodes, f"new connections went to the draining {x}: {counts(nodes)}")
    answers = L.client.call("keep_get", id="k", count=2)["nodes"]
    check(answers == [x] * 2, f"after new connections, the kept connection answered from {counts(answers)}")
    row = x_row()
    check(row and row["state"] == "draining", f"{x} left before its connection closed: {row}")

    fin = seconds(L.gw.clusters()[("tcp", 80)]["fin"])
    L.client.call("keep_close", id="k")
    closed = time.monotonic()
    limit = fin + 4  # the entry goes FIN_TIME_OUT after the last packet, then the slot is released
    wait_for(lambda: x_row() is None, limit, f"{x} leaves show clusters within fin {fin:g}s + 4s")
    gone = time.monotonic() - closed
    step(f"{x} gone {gone:.1f}s after the close (fin timeout {fin:g}s)")
    check(gone >= fin - 0.5, f"{x} left {gone:.1f}s after the close, before the FIN timeout ({fin:g}s)")
    return f"{x} drained: kept connection served, 30 new avoided it, gone {gone:.1f}s after close (fin {fin:g}s)"


# name -> (function, lab options)
def telemetry(gateway_name, *commands):
    """Asks DPDK's telemetry socket of a gateway (EAL file prefix
    cg-<gateway.name>), as dpdk-telemetry.py does; {command: reply}."""
    path = f"/var/run/dpdk/cg-{gateway_name}/dpdk_telemetry.v2"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(path)
        json.loads(s.recv(1 << 16))  # greeting: version, pid, max_output_len
        out = {}
        for c in commands:
            s.send(c.encode())
            out.update(json.loads(s.recv(1 << 20)))
        return out


def sc_tools(L, step):
    """DPDK's own tools on a running gateway: our counters on the telemetry
    socket, and a capture of its port with dpdk-dumpcap while traffic flows."""
    nodes, errors = L.http_new(30)
    check(not errors, f"{len(errors)} of 30 requests failed, first: {errors[:3]}")
    t = telemetry(L.gw.name, "/clustergate/info", "/clustergate/connections", "/clustergate/nodes")
    check(t["/clustergate/info"]["gateway"] == L.gw.name, f"telemetry names another gateway: {t['/clustergate/info']}")
    created = t["/clustergate/connections"]["created"]
    check(created >= 30, f"telemetry says {created} connections were created, the client made 30")
    per_node = {}
    for key, value in t["/clustergate/nodes"].items():
        cluster, proto, port, node, counter = key.split("/")
        if (proto, port, counter) == ("tcp", "80", "new"):
            per_node[L.node_by_ip[node.replace("_", ".")]] = value
    check(per_node == counts(nodes), f"telemetry's new connections per node {per_node} != the client's {counts(nodes)}")
    step(f"telemetry: created {created}, per node {per_node}")

    capture = os.path.join(L.topo.dir, "port.pcapng")
    dumpcap = subprocess.Popen(["dpdk-dumpcap", f"--file-prefix=cg-{L.gw.name}", "-i", "net_af_packet0", "-c", "20",
                                "-w", capture], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while dumpcap.poll() is None and time.monotonic() < deadline:
            L.http_new(5)  # traffic for it to see, until it has its 20 packets
        out = dumpcap.communicate(timeout=5)[0]
    finally:
        if dumpcap.poll() is None:
            dumpcap.kill()
            dumpcap.wait()
    check(dumpcap.returncode == 0, f"dpdk-dumpcap exited {dumpcap.returncode}: {out[-300:]}")
    # It rewrites its count in place with backspaces ("0 \b\b4 \b\b20") and
    # stops after the burst that reaches -c: the last count is at least 20.
    line = re.search(r"Packets captured:([^\n]*)", out)
    captured = int(re.findall(r"\d+", line.group(1))[-1]) if line and re.search(r"\d", line.group(1)) else 0
    check(captured >= 20, f"dpdk-dumpcap did not report 20 packets: {out[-300:]}")
    check(os.path.getsize(capture) > 20 * 54, f"{capture} is too small for 20 packets")
    return f"telemetry: {created} connections, per node {per_node}; dumpcap captured {captured} packets of the port"


# ---- controld: the manager's closed loop (SPEC 4) -------------------------------
#
# These run on mlab(): controld starts gatewayd (conf/managed.yaml: three nodes
# at weight 100, period 500 ms, HTTP probes every 300 ms with a 200 ms
# timeout) and a nodeagent reports from each node.

PERIOD_S = 0.5


def manager_row(L, node):
    return L.gw.manager()["nodes"][L.ip(node)]


def dataplane_weight(L, node):
    return int(manager_row(L, node)["data plane"])


def latency_summary(reqs):
    ok = [r[2] for r in reqs if not r[3]]
    return {"n": len(reqs), "errors": sum(1 for r in reqs if r[3]), "p50": percentile(ok, 50), "p99": percentile(ok, 99)}


def sc_mgr_adaptive(L, step):
    gw, slow = L.gw, "n2"
    # Active-connection counts of a one-at-a-time client are noise: this run
    # weighs the probes' answer times alone (a run-time change, SPEC 4.5).
    gw.mctl("manager", "set", "importance.conns", "0")
    for n in L.topo.nodes:
        gw.mctl("manager", "node", L.ip(n), "fix", "100")
    L.topo.slow_down(slow, 40)
    step(f"{slow} answers 40 ms late; every weight fixed at 100")
    static = L.client.call("http_timed", timeout=40, address=CLUSTER_IP, seconds=5)["requests"]
    s = latency_summary(static)
    share_static = sum(1 for r in static if r[1] == slow) / max(1, len(static))
    step(f"static: {s}, {share_static:.0%} to {slow}")
    check(dataplane_weight(L, slow) == 100, "the fixed weight moved")

    t0 = time.monotonic()
    for n in L.topo.nodes:
        gw.mctl("manager", "node", L.ip(n), "adapt")
    wait_for(lambda: dataplane_weight(L, slow) <= 2, 10, f"{slow}'s weight falls", interval=0.05)
    took = time.monotonic() - t0
    fell_to = dataplane_weight(L, slow)
    step(f"adaptive: {slow} at weight {fell_to} after {took:.2f}s; {gw.manager()['nodes']}")
    adaptive = L.client.call("http_timed", timeout=40, address=CLUSTER_IP, seconds=5)["requests"]
    a = latency_summary(adaptive)
    share_adaptive = sum(1 for r in adaptive if r[1] == slow) / max(1, len(adaptive))
    step(f"adaptive: {a}, {share_adaptive:.1%} to {slow}")
    check(s["errors"] == 0 and a["errors"] == 0, f"requests failed: static {s['errors']}, adaptive {a['errors']}")
    check(took <= 6 * PERIOD_S, f"{slow}'s weight took {took:.1f}s (more than 6 periods) to fall")
    check(a["p99"] < s["p99"], f"p99 with adaptive weights {a['p99']:.1f} ms is not below static {s['p99']:.1f} ms")
    return (f"{slow} +40 ms: weight 100 -> {fell_to} in {took:.2f}s ({took / PERIOD_S:.1f} periods); "
            f"p99 static {s['p99']:.1f} ms ({s['n']} requests, {share_static:.0%} to {slow}) vs adaptive "
            f"{a['p99']:.1f} ms ({a['n']} requests, {share_adaptive:.1%} to {slow}); p50 {s['p50']:.1f} vs {a['p50']:.1f} ms")


def sc_mgr_probe(L, step):
    gw, victim = L.gw, "n3"
    wait_for(lambda: manager_row(L, victim)["answer_time"] != "-", 5, "probes measured every node")
    t_stop = time.time()
    L.topo.stop_node_server(victim)
    step(f"{victim}'s server stopped")
    reqs = L.client.call("http_timed", timeout=20, address=CLUSTER_IP, seconds=3, pause=0.005)["requests"]
    refused = [r for r in reqs if r[3]]
    last = max((r[0] for r in refused), default=t_stop)
    gap = last - t_stop
    after = [r for r in reqs if r[0] > last]
    step(f"{len(reqs)} requests: {len(refused)} refused, the last {gap * 1000:.0f} ms after the stop; "
         f"{len(after)} after it: {counts(r[1] for r in after)}")
    row = manager_row(L, victim)
    check("probe" in row["blocked"] and row["data plane"] == "0", f"{victim} not blocked by its probe: {row}")
    check(len(after) >= 50 and all(r[1] and r[1] != victim and not r[3] for r in after),
          f"requests after the block went wrong: {counts(r[1] for r in after)}")
    # The next probe (within 300 ms) is refused at once, or times out 200 ms
    # later; the weight goes out with it. A second of slack for a 2-core
    # machine that runs all of this at once.
    check(gap <= 0.3 + 0.2 + 1.0, f"new connections reached {victim} for {gap:.2f}s after its server stopped")

    t_back = time.time()
    L.topo.start_node_servers(nodes=[victim])
    wait_for(lambda: dataplane_weight(L, victim) > 0, 5, f"{victim} takes connections again")
    back = time.time() - t_back
    nodes, errors = L.http_new(60)
    check(not errors and victim in nodes, f"{victim} got none of 60 new connections after it came back: "
                                          f"{counts(nodes)} {errors[:2]}")
    return (f"{victim} stopped: its last new connection {gap * 1000:.0f} ms later (probe every 300 ms, timeout "
            f"200 ms; {len(refused)} refused meanwhile); weight back {back:.2f}s after it answered again")


def sc_mgr_restart(L, step):
    gw = L.gw
    gw.mctl("add", "port", CLUSTER_IP, "tcp", "8080")
    gw.mctl("add", "node", CLUSTER_IP, "tcp", "8080", L.ip("n1"), "weight", "5")
    gw.mctl("manager", "node", L.ip("n3"), "fix", "7")
    wait_for(lambda: L.weights("tcp", 80)["n3"] == 7, 5, "n3 fixed at 7 in the data plane")
    step(f"run-time state: port 8080 with n1, n3 fixed at 7: {L.weights('tcp', 80)}")
    old = gw.gatewayd_pid()
    check(old, "no gatewayd under controld")
    t0 = time.monotonic()
    os.kill(old, signal.SIGKILL)

    def restored():
        pid = gw.gatewayd_pid()
        if not pid or pid == old:
            return None
        c = gw.clusters()
        return (("tcp", 8080) in c and L.ip("n1") in c[("tcp", 8080)]["nodes"]
                and L.weights("tcp", 80)["n3"] == 7 and pid)
    new = wait_for(restored, 20, "gatewayd restarted with its tables", interval=0.1)
    took = time.monotonic() - t0
    step(f"gatewayd {old} killed; {new} has the tables after {took:.2f}s")
    gw.wait_ready()
    nodes, errors = L.http_new(30)
    check(not errors and len(nodes) == 30, f"requests after the restart: {counts(nodes)} {errors[:2]}")
    c = gw.manager()["counters"]
    check(c["gateway_deaths"] == 1 and c["resyncs"] == 1, f"controld's counters: {c}")
    # The endpoint shows the tables controld read last: within a period or two of the restart.
    want = f'clustergate_node_weight{{cluster="{CLUSTER_IP}",port="tcp/80",node="{L.ip("n3")}"}} 7'
    seen = {}

    # Every family of common/view_fields.hpp reaches Prometheus: nodes, ports, lcores.
    families = ("clustergate_node_active_connections{", "clustergate_port_rx_packets_total{port=\"lan\"}",
                "clustergate_lcore_rx_packets_total{lcore=")

    def prom_has_weight():
        seen["prom"] = gw.prometheus()
        return want in seen["prom"] and all(f in seen["prom"] for f in families)
    try:
        wait_for(prom_has_weight, 3, "Prometheus shows n3's weight 7 and every counter family", interval=0.1)
    except topology.WaitTimeout:
        missing = [f for f in (want,) + families if f not in seen.get("prom", "")]
        check(False, f"Prometheus text lacks {missing} after 3 s: {seen.get('prom', '')[:400]}")
    prom = seen["prom"]
    check('clustergate_controld{counter="gateway_deaths"} 1' in prom, "Prometheus text lacks the death")
    return (f"kill -9 of gatewayd: pid {new} took over with its tables in {took:.2f}s (port 8080 and its node, "
            f"n3 fixed at 7); 30/30 requests; Prometheus shows weights and the restart")


def agent_datagram(key, sender, seq, body=b"", typ=1):
    """What nodeagent sends (control/proto/agent_msg.hpp), signed with `key`."""
    if not body:
        body = struct.pack("<dddd", 0.1, 0.1, 0.1, 0.1) + b"\x00"
    ms = int(time.time() * 1000)
    head = struct.pack("<IHHIQQH", 0x31414743, 1, typ, sender, seq, ms, len(body))
    return head + body + hmac.new(key, head + body, hashlib.sha256).digest()


def sc_mgr_agents(L, step):
    gw = L.gw
    gw.mctl("manager", "set", "importance.load", "0.5")  # show the agents' figure, and use it
    wait_for(lambda: all(manager_row(L, n)["load"] != "-" for n in ("n1", "n2")), 5, "agents reported")
    rows = gw.manager()["nodes"]
    step(f"reports: {rows}")
    check("rule" in rows[L.ip("n3")]["blocked"] and rows[L.ip("n3")]["data plane"] == "0",
          f"n3 is not blocked by the rule window: {rows[L.ip('n3')]}")
    check(rows[L.ip("n1")]["queue"] == "2", f"user metric 'queue' not seen: {rows[L.ip('n1')]}")

    t0 = time.monotonic()
    L.topo.stop(L.agents["n1"])
    wait_for(lambda: "stale" in manager_row(L, "n1")["blocked"] and dataplane_weight(L, "n1") == 0, 6,
             "n1 stale, and out of the data plane, once its agent stopped")
    took = time.monotonic() - t0
    nodes, errors = L.http_new(30)
    check(not errors and set(nodes) == {"n2"}, f"with n1 stale and n3 in its window: {counts(nodes)} {errors[:2]}")

    with open(gw.key_file, "rb") as f:
        key = f.read().strip()
    n2 = struct.unpack("!I", socket.inet_aton(L.ip("n2")))[0]
    client = struct.unpack("!I", socket.inet_aton(CLIENT_IP))[0]
    forged = {
        "bad_magic": b"not an agent datagram at all, just bytes" * 2,
        "bad_mac": agent_datagram(b"another key of 32 bytes, or so..", n2, 2**62),
        "unknown_peer": agent_datagram(key, client, 2**62),  # right key, not a node
    }
    before = gw.manager()["counters"]
    code = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n" + "".join(
        f"s.sendto(bytes.fromhex('{d.hex()}'),('{MGMT_IP}',9651))\n" for d in forged.values())
    L.topo.exec(L.topo.client, sys.executable, "-c", code)
    replay = agent_datagram(key, n2, 1)  # authentic, from n2 itself, but an old seq
    L.topo.exec(L.topo.ns("n2"), sys.executable, "-c",
                f"import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('{L.ip('n2')}',0))\n"
                f"s.sendto(bytes.fromhex('{replay.hex()}'),('{MGMT_IP}',9651))\n")
    refused = {}
    for why in list(forged) + ["replayed"]:
        name = f"agent_refused_{why}"
        wait_for(lambda: gw.manager()["counters"][name] > before[name], 3, f"controld counted {why}")
        refused[why] = gw.manager()["counters"][name] - before[name]
    check(gw.running() and dataplane_weight(L, "n2") > 0, "controld or n2 suffered from forged datagrams")

    L.agents["n1"] = gw.start_agents(nodes=["n1"])["n1"]
    wait_for(lambda: dataplane_weight(L, "n1") > 0, 5, "n1 back once its agent reports again")
    return (f"every agent's figures shown; n1 stale {took:.1f}s after its agent stopped (stale 2s) and back when it "
            f"reported; n3 held out by a rule window; user metric read; refused {refused}")


def rule_now():
    """A rule window around the present minute (local time), for n3."""
    t = time.localtime()
    start = (t.tm_hour * 60 + t.tm_min - 1) % 1440
    end = (start + 10) % 1440
    return f'  rules: [{{name: now, nodes: [198.18.0.13], from: "{start // 60:02d}:{start % 60:02d}", ' \
           f'to: "{end // 60:02d}:{end % 60:02d}"}}]'


SCENARIOS = {
    "spread": (sc_spread, {}),
    "long_lived": (sc_long_lived, {}),
    "malformed": (sc_malformed, {}),
    "arp_icmp": (sc_arp_icmp, {}),
    "udp": (sc_udp, {}),
    "console": (sc_console, {"interactive": True, "client": False}),
    "drain": (sc_drain, {}),
    "tools": (sc_tools, {}),
    "mgr_adaptive": (sc_mgr_adaptive, {"bench": "managed"}),
    "mgr_probe": (sc_mgr_probe, {"bench": "managed"}),
    "mgr_restart": (sc_mgr_restart, {"bench": "managed"}),
    "mgr_agents": (sc_mgr_agents, {"bench": "managed", "manager_lines": [
        rule_now,
        lambda: "  metrics: [{name: queue, command: 'echo 2', interval: 300ms, timeout: 200ms, importance: 0.5}]"]}),
}


# ---- running -------------------------------------------------------------------

class ScenarioTimeout(AssertionError):
    pass


def run_one(name, build, verbose):
    fn, options = SCENARIOS[name]
    step = Steps()
    log = (lambda m: print(f"   {m}", flush=True)) if verbose else (lambda m: None)

    def on_alarm(signum, frame):
        raise ScenarioTimeout(f"scenario still running after {SCENARIO_LIMIT_S}s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    t0 = time.monotonic()
    options = dict(options)
    if options.pop("bench", None) == "managed":
        bench = mlab
        options["manager_lines"] = [make() for make in options.get("manager_lines", [])]
    else:
        bench = lab
    try:
        with bench(name, build, log=log, **options) as L:
            step("gatewayd ready")
            signal.alarm(SCENARIO_LIMIT_S)
            try:
                summary = fn(L, step)
            finally:
                signal.alarm(0)
        return True, summary, [], time.monotonic() - t0, step
    except Exception as e:  # anything but an interrupt fails this scenario, not the run
        notes = list(getattr(e, "__notes__", []))
        if not isinstance(e, (AssertionError, CommandError)):  # a bug here or there: where it broke matters
            notes.insert(0, traceback.format_exc())
        return False, str(e) or type(e).__name__, notes, time.monotonic() - t0, step
    finally:
        signal.signal(signal.SIGALRM, old)


def append_result(path, passed, failed):
    with open(path, "a") as f:
        f.write(f"system {passed} {failed}\n")


def indent(text, by="      "):
    return "\n".join(by + l for l in text.splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True, help="meson build directory with gatewayd and gwctl")
    ap.add_argument("--results", required=True, help="file to append 'system <passed> <failed>' to")
    ap.add_argument("-v", "--verbose", action="store_true", help="print set-up steps as they happen")
    ap.add_argument("scenarios", nargs="*", metavar="scenario", help=f"default: all of {', '.join(SCENARIOS)}")
    a = ap.parse_args()
    build = os.path.abspath(a.build)

    unknown = [s for s in a.scenarios if s not in SCENARIOS]
    names = a.scenarios or list(SCENARIOS)
    problems = preflight(build, tools=("ip", "ethtool", "tmux", "ping"))
    problems += [f"unknown scenario {s!r} (known: {', '.join(SCENARIOS)})" for s in unknown]
    if problems:
        for p in problems:
            print(f"system: cannot run: {p}", file=sys.stderr)
        for n in names:
            print(f"FAIL {n}: not run ({problems[0]})")
        append_result(a.results, 0, len(names))
        return 1

    def on_term(signum, frame):
        raise topology.Interrupted(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)  # between scenarios too: record what ran
    passed, failed = 0, 0
    t_all = time.monotonic()
    try:
        Topology.sweep_stale()
        sweep_stale()
        for name in names:
            ok, text, notes, took, step = run_one(name, build, a.verbose)
            if ok:
                passed += 1
                print(f"PASS {name} ({took:.1f}s): {text}", flush=True)
                continue
            failed += 1
            print(f"FAIL {name} ({took:.1f}s): {text}")
            if step.lines:
                print("    steps:\n" + indent("\n".join(step.lines)))
            for note in notes:
                print(indent(note, "    "), flush=True)
    except (KeyboardInterrupt, topology.Interrupted) as e:
        why = type(e).__name__ + (f": {e}" if str(e) else "")
        print(f"system: interrupted ({why}); everything it started was stopped and removed")
    finally:
        # The line is written whatever happened; what did not run failed.
        failed = len(names) - passed
        print(f"system: {passed} passed, {failed} failed in {time.monotonic() - t_all:.0f}s", flush=True)
        append_result(a.results, passed, failed)
    return 0 if failed == 0 else 1

if __name__ == "__main__":
    sys.exit(main())
