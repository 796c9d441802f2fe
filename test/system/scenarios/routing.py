"""Where connections go: the spread by weight, a long-lived connection across
a weight change, UDP flows, and a node drained by `del node`."""

import time

from gateway import counts, spread_rows, wait_for
from topology import CLUSTER_IP

from .helpers import check, seconds, settle


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
