"""Failures that established connections must not notice (docs/operations.md,
"Connections that outlive gatewayd").

    kill9_conns     kill -9 of gatewayd under controld with many keep-alive
                    connections to nginx on the nodes: every connection
                    carries on, on the same socket, without a reset
    kill9_lost      the same while a node is dead (its link down): the other
                    nodes' connections carry on; the dead node's clients get
                    a reset at their next segment, not a hang
"""

import json
import os
import select
import signal
import subprocess
import sys
import time

from topology import CLUSTER_IP, wait_for

from scenarios.helpers import check

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOLDER = os.path.join(HERE, "conn_holder.py")
PORT = 8081  # nginx's, beside the node servers' port 80


class Holder:
    """conn_holder.py in the client namespace: many connections, one process."""

    def __init__(self, topo, address, port):
        self.port = port  # the cluster port its connections go to
        self.p = topo.spawn(topo.client, [sys.executable, HOLDER, address, str(port)], name="holder",
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        self._read(10)

    def _read(self, timeout):
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        if not ready:
            raise AssertionError(f"conn_holder said nothing in {timeout}s")
        line = self.p.stdout.readline()
        if not line:
            raise AssertionError("conn_holder ended")
        out = json.loads(line)
        if "error" in out:
            raise AssertionError(f"conn_holder: {out['error']}")
        return out

    def call(self, command, timeout=120):
        self.start(command)
        return self._read(timeout)

    def start(self, command):
        """Sends `command` without waiting: result() reads its answer."""
        self.p.stdin.write((command + "\n").encode())
        self.p.stdin.flush()

    def result(self, timeout=120):
        return self._read(timeout)


def open_held(topo, port, count, opening_timeout=120):
    """`count` keep-alive connections from the client to the cluster's
    `port`, one round of requests answered on each; returns the Holder and
    what open said."""
    h = Holder(topo, CLUSTER_IP, port)
    opened = h.call(f"open {count}", timeout=opening_timeout)
    check(opened["opened"] == count, f"opened {opened['opened']} of {count}: {opened['errors'][:3]}")
    h.call("send")
    before = h.call("collect 20")
    check(before["ok"] == count, f"before the failure, a round of requests: {before}")
    return h, opened


def hold_connections(L, count, port=PORT, serving=None):
    """nginx on every node behind cluster port `port` (sized for `serving`
    connections in all, default `count`), and `count` keep-alive connections
    to it from the client; returns the Holder and what open said. The
    port's nodes are the lab's working ones; gatewayd adds their spares."""
    topo = L.topo
    working = getattr(L, "working", topo.nodes)
    topo.start_nginx(port=port, connections=max(8192, (serving or count) // len(topo.nodes) + 1024))
    for gw in getattr(L, "gws", [L.gw]):  # a pair: both gateways
        gw.mctl("add", "port", CLUSTER_IP, "tcp", str(port), "stale", "10m")
        for n in working:
            gw.mctl("add", "node", CLUSTER_IP, "tcp", str(port), L.ip(n))
        wait_for(lambda: len(gw.clusters().get(("tcp", port), {}).get("nodes", {})) == len(topo.nodes), 5,
                 f"port {port} with every node (and spare)")
    return open_held(topo, port, count, opening_timeout=max(120, count // 200))


def kill_gatewayd(L, h, in_flight=True):
    """kill -9 of the gatewayd under controld, a request sent on every held
    connection at once (unless not `in_flight`), and the wait for
    controld's restore into the new one. Returns (controld's counters, seconds from the kill to the restore);
    restore_nodes_failed is this restore's alone."""
    gw = L.gw
    old = gw.gatewayd_pid()
    check(old, "no gatewayd under controld")
    before = gw.manager()["counters"]
    restores = before.get("restores", 0)
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()
    if in_flight:
        sent = h.call("send")  # in flight while no gateway forwards
        check(sent["failed"] == 0, f"requests sent during the outage: {sent}")

    def restored():
        c = gw.manager()["counters"]
        return c if c.get("restores", 0) > restores and gw.gatewayd_pid() not in (None, old) else None
    c = wait_for(restored, 20, "controld restored the connections into a new gatewayd", interval=0.1)
    took = time.monotonic() - t0
    c["restore_nodes_failed"] -= before.get("restore_nodes_failed", 0)
    c["restored_connections"] -= before.get("restored_connections", 0)
    return c, took


class ResetCapture:
    """tcpdump on the client's interface, keeping every TCP segment with RST
    set, either way (or what `expression` selects): what the client's stack
    would have seen as a reset."""

    def __init__(self, topo, expression="tcp[tcpflags] & tcp-rst != 0", name="rst-capture"):
        self.topo, self.path = topo, os.path.join(topo.dir, f"{name}.pcap")
        self.p = topo.spawn(topo.client, ["tcpdump", "-i", "eth0", "-n", "-U", "--immediate-mode", "-s", "128", "-B", "16384",
                                          "-w", self.path, expression],
                            name=name)
        wait_for(lambda: "listening on" in open(self.p.log).read(), 10, "tcpdump listening")

    def expect_none(self):
        """Stops the capture; fails if a reset passed the client's link."""
        resets = self.stop()
        check(not resets, f"{len(resets)} RST segments on the client's link: {resets[:3]}")

    def stop(self, *options):
        """The segments captured, one line each (tcpdump's, with `options`)."""
        # tcpdump may still be reading what the client's stack already saw:
        # stop it once its file has stopped growing.
        size = -1
        while size != os.path.getsize(self.path):
            size = os.path.getsize(self.path)
            time.sleep(0.2)
        self.topo.stop(self.p)
        return self.lines(*options)

    def lines(self, *options):
        """The segments captured so far (tcpdump writes each at once), while
        it goes on capturing."""
        r = self.topo.exec(self.topo.client, "tcpdump", "-n", *options, "-r", self.path, check=False)
        return [l for l in r.stdout.splitlines() if l.strip()]


def reset_delays(lines, port):
    """From tcpdump -tt lines of one cluster port's segments on the client's
    link: for each connection that got a RST from `port`, the ms from the
    client's last data segment before it (the copy the gateway answered:
    after a lost copy, the retransmission) to the RST; and how many of those
    data segments were retransmissions of one already sent."""
    last, sent, delays, resent = {}, {}, [], 0
    for line in lines:
        f = line.split()
        if len(f) < 7 or f[1] != "IP":
            continue
        t, src, dst = float(f[0]), f[2], f[4].rstrip(":")
        if dst.endswith(f".{port}") and " length 0" not in line and "seq " in line:
            seq = line.split("seq ", 1)[1].split(",", 1)[0]
            resent += sent.get(src) == seq
            last[src], sent[src] = t, seq
        elif src.endswith(f".{port}") and "Flags [R" in line and dst in last:
            delays.append((t - last.pop(dst)) * 1000)
    return delays, resent


def dead_node_round(h, capture, opened, dead):
    """A request on every held connection while node `dead` is gone: each
    of its clients must be reset, every other answered. Stops `capture`
    (started before the failure). Returns (what collect said, reset_delays'
    delays and retransmissions, the captured lines, the send loop's seconds)."""
    sending = h.call("send")["seconds"]
    after = h.call("collect 10")
    segments = capture.stop("-tt")
    delays, resent = reset_delays(segments, PORT)
    by, lost = after["by_node"], opened["by_node"][dead]
    check(by.get(dead) == {"reset": lost}, f"{dead}'s {lost} clients reset: {by}")
    check(all(by[n] == {"ok": opened["by_node"][n]} for n in by if n != dead), f"the others carried on: {by}")
    return after, delays, resent, segments, sending


def carried_on(after, count):
    return after["ok"] == count and after["reset"] == 0 and after["closed"] == 0 and after["wrong_node"] == 0


def sc_restore_kill9(L, step, count=10000):
    h, opened = hold_connections(L, count)
    step(f"{count} keep-alive connections to nginx in {opened['seconds']}s: {opened['by_node']}")
    capture = ResetCapture(L.topo)
    c, took = kill_gatewayd(L, h)
    step(f"gatewayd killed; restore done {took:.2f}s later: {c['restored_connections']} connections put back "
         f"in {c['last_restore_ms']} ms, {c['restore_nodes_failed']} nodes failed")
    after = h.call("collect 30")
    check(carried_on(after, count), f"after the restart: {after}")
    step(f"the requests sent during the outage: {after['ok']} of {count} answered by their own node on the same "
         f"socket, slowest {after['slowest_ms']} ms; reset {after['reset']}, closed {after['closed']}")
    h.call("send")
    again = h.call("collect 20")
    check(again["ok"] == count, f"a round after the restart: {again}")
    capture.expect_none()
    drops = L.gw.drops()
    return (f"kill -9 of gatewayd with {count} connections: {after['ok']}/{count} carried on (same socket, same "
            f"node, no RST in the capture), restore {c['last_restore_ms']} ms after the new gatewayd answered, "
            f"{took:.2f}s from the kill; slowest in-flight request {after['slowest_ms']} ms; "
            f"standby drops {drops.get('standby', 0)}")


def sc_kill9_lost(L, step, count=600):
    h, opened = hold_connections(L, count)
    dead = "n3"
    lost = opened["by_node"][dead]
    step(f"{count} connections: {opened['by_node']}")
    L.topo.exec(L.topo.ns(dead), "ip", "link", "set", "eth0", "down")  # the node dies: nothing in, nothing out
    c, took = kill_gatewayd(L, h, in_flight=False)
    step(f"{dead} down, gatewayd killed; restore {took:.2f}s later: {c['restored_connections']} put back, "
         f"{c['restore_nodes_failed']} node presumed down")
    check(c["restore_nodes_failed"] == 1, f"one node presumed down: {c}")
    check(c["restored_connections"] == count - lost, f"the live nodes' {count - lost} put back: {c}")
    capture = ResetCapture(L.topo, f"tcp port {PORT}", name="segments")
    after, delays, resent, segments, sending = dead_node_round(h, capture, opened, dead)
    sent = L.gw.stats()["control"].get("tcp_resets_sent")
    slowest = f".{after['slowest_reset_port']}"  # the client's port, in tcpdump's lines
    # The holder sees a reset when it reads, after its loop of sends: its
    # figure holds that loop's time; the link's is the gateway's own.
    seen = (f"slowest {after['slowest_reset_ms']} ms from the client's send (its loop of {count} sends took "
            f"{sending * 1000:.0f} ms); on the link, {len(delays)} RSTs, "
            f"slowest {max(delays, default=0):.1f} ms after the segment it answers; {resent} segments "
            f"retransmitted; gatewayd sent {sent} resets")
    why = f"{seen}; drops {L.gw.drops()}; the slowest's segments: {[l for l in segments if slowest in l][-6:]}"
    # The gateway answers each segment it gets within 100 ms; a copy lost on
    # the way in (a loaded machine) costs the client one retransmission
    # timeout (200 ms at least), and no more.
    check(len(delays) == lost and max(delays) < 100, f"a RST within 100 ms of each segment: {why}")
    check(after["slowest_reset_ms"] < 1000, f"each client reset within one retransmission timeout: {why}")
    check(sent is not None and sent >= lost, f"gatewayd counted {sent} resets sent, {lost} expected at least")
    return (f"{dead} dead and gatewayd killed: {count - lost} connections of the live nodes carried on; "
            f"{dead}'s {lost} clients reset at their next segment: {seen}; restore {took:.2f}s after the kill "
            f"(the dead node's deadline)")
