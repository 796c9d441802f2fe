"""The gateway pair (docs/operations.md, "Gateway pair"): two gateways in
front of the same nodes, a active and b its backup, with many keep-alive
connections to nginx on the nodes.

    pair_kill     both processes of the active gateway killed: b takes over,
                  every established connection carries on (same socket, same
                  node, no RST in a capture), new connections succeed,
                  UDP flows to the nodes' connected sockets keep their node
    pair_freeze   the active's gatewayd frozen (SIGSTOP) while its controld
                  lives: b takes over; the old one, resumed, is the backup,
                  forwards nothing and answers no ARP for the cluster address
    pair_fence    the active's controld killed, its gatewayd left running:
                  b takes over and the orphan fences itself (standby at
                  once, by its parent's death), forwards nothing, answers
                  no ARP for the cluster address; connections carried on
    pair_switch   `ha switchover` and back: no connection lost, each side
                  comes back as the backup
    pair_forged   replayed, changed and foreign heartbeats: refused, counted,
                  no takeover
    pair_unheard  the mirror on and every agent silent: the backup's hot table
                  carries on, and no reset window opens on a guess
    pair_mirror   the mirror on and one node's agent silent: the backup's hot
                  table keeps that node's connections through the takeover,
                  and UDP flows (unconnected sockets on the nodes) their node
"""

import os
import signal
import sys
import time

from manager_lab import PAIR_PORT
from node_server import UDP_PORT, UDP_SESSION_PORT
from topology import CLIENT_IP, CLUSTER_IP, wait_for

from scenarios.helpers import check
from scenarios.recovery import PORT, Holder, ResetCapture, carried_on, hold_connections


class NewConns:
    """A stream of new connections from the client, one every 20 ms, each a
    curl with a 2 s deadline: (start time, ok) per attempt."""

    def __init__(self, topo):
        self.topo, self.path = topo, os.path.join(topo.dir, "new-conns.txt")
        loop = (f"while :; do t=$(date +%s.%N); if curl -s -m 2 -o /dev/null http://{CLUSTER_IP}:{PORT}/; "
                f"then echo \"$t ok\"; else echo \"$t fail\"; fi >> {self.path}; sleep 0.02; done")
        self.p = topo.spawn(topo.client, ["sh", "-c", loop], name="new-conns")

    def stop(self):
        self.topo.stop(self.p)
        out = []
        with open(self.path) as f:
            for line in f:
                t, _, what = line.partition(" ")
                out.append((float(t), what.strip() == "ok"))
        return out


def settled(L):
    a, b = L.a.ha(), L.b.ha()
    return {"a": a["role"], "b": b["role"], "epoch": (a["epoch"], b["epoch"])}


def wait_roles(L, active, backup, timeout=15):
    """Until `active` (a Managed) is active with its gatewayd active, and
    `backup` its backup with its gatewayd standby; returns the seconds it took."""
    t0 = time.monotonic()

    def ok():
        return (active.ha()["role"] == "active" and backup.ha()["role"] == "backup"
                and "role      active" in active.ctl("show", "info")
                and "role      standby" in backup.ctl("show", "info"))
    wait_for(ok, timeout, f"{active.side} active, {backup.side} its backup", interval=0.05)
    return time.monotonic() - t0


def fwd_packets(gw):
    """Packets gatewayd's lcores forwarded, summed (`show stats`)."""
    return sum(int(r["fwd"]) for r in gw.stats()["lcores"])


def gw0_mac(topo, ns):
    return topo.mac(ns, "gw0")


def client_sees(topo):
    """The MAC the client's ARP cache holds for the cluster address."""
    r = topo.exec(topo.client, "ip", "neigh", "show", CLUSTER_IP, check=False)
    words = r.stdout.split()
    return words[words.index("lladdr") + 1].lower() if "lladdr" in words else None


class UdpFlows:
    """`flows` UDP flows from the client to cluster port `port` (each its
    own socket and source port), through both gateways' port tables; the
    node that answered each flow first."""

    def __init__(self, L, port, flows=60):
        self.L, self.id, self.port = L, f"udp{port}", port
        for gw in L.gws:
            gw.mctl("add", "port", CLUSTER_IP, "udp", str(port), "stale", "10m")
            for n in L.topo.nodes:
                gw.mctl("add", "node", CLUSTER_IP, "udp", str(port), L.ip(n))
        self.first = L.client.call("udp_hold", id=self.id, address=CLUSTER_IP, port=port, flows=flows)["nodes"]
        check(None not in self.first, f"UDP flows to {port} unanswered before the failure: {self.first}")

    def expect_kept(self):
        """Each flow again (a datagram lost in the takeover is tried again,
        up to 3 times): each must be answered by its first node. The flows
        speak in the reverse order: a gateway that had lost them would
        schedule them afresh, and round robin in the same order would give
        each its old node by chance."""
        now = self.L.client.call("udp_ask", id=self.id, tries=3, reverse=True)["nodes"]
        moved = [(a, b) for a, b in zip(self.first, now) if a != b]
        check(not moved, f"{len(moved)} of {len(now)} UDP flows to {self.port} changed node: {moved[:3]}")


def kill_active(L, h):
    """kill -9 of both processes of gateway a (the active), a request sent
    on every connection `h` holds at once, and the wait until b forwards.
    Returns (seconds from the kill to b active, the kill's wall-clock time)."""
    return kill_instance(L.a, L.b, h)


def kill_instance(dead, survivor, h):
    """kill -9 of both processes of gateway `dead` (the active: its whole
    instance), a request sent on every connection `h` holds at once, and the
    wait until `survivor` forwards. Returns (seconds from the kill to the
    survivor active, the kill's wall-clock time)."""
    os.kill(dead.gatewayd_pid(), signal.SIGKILL)
    os.kill(dead.pid, signal.SIGKILL)
    t0 = time.monotonic()
    t_kill = time.time()
    dead.stop()  # reaps both: nothing of that gateway is left
    return sent_until_active(survivor, h, t0), t_kill


def sent_until_active(survivor, h, t0):
    """A request on every connection `h` holds, in flight while nobody
    forwards, and the wait until `survivor` is active with its gatewayd
    active; returns the seconds since `t0`."""
    sent = h.call("send")
    check(sent["failed"] == 0, f"requests sent during the takeover: {sent}")
    wait_for(lambda: survivor.ha()["role"] == "active" and "role      active" in survivor.ctl("show", "info"), 15,
             f"{survivor.side} active", interval=0.02)
    return time.monotonic() - t0


def sc_pair_kill(L, step, count=10000):
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    step(f"{count} keep-alive connections through a in {opened['seconds']}s: {opened['by_node']}")
    check(client_sees(topo) == gw0_mac(topo, a.ns), "the client sends to a")
    # Mirror off: the nodes' answers are all b has, and they name a UDP flow
    # only where the node's socket is connected to the client (5354).
    udp = UdpFlows(L, UDP_SESSION_PORT)
    capture = ResetCapture(topo)
    stream = NewConns(topo)
    time.sleep(0.5)
    before = b.ha()
    took, t_kill = kill_active(L, h)
    after = h.call("collect 30")
    time.sleep(1.0)
    attempts = stream.stop()
    ha = b.ha()
    check(carried_on(after, count), f"after the takeover: {after}")
    check(ha["epoch"] == before["epoch"] + 1, f"b took over at the next epoch: {before['epoch']} -> {ha['epoch']}")
    check(ha["counters"]["takeovers"] == 1, f"one takeover: {ha['counters']}")
    check(client_sees(topo) == gw0_mac(topo, b.ns), "the client sends to b after its gratuitous ARP")
    udp.expect_kept()
    t_active = t_kill + took
    late = [ok for t, ok in attempts if t > t_active]
    early = [ok for t, ok in attempts if t <= t_kill]
    check(late and all(late), f"new connections after the takeover: {late.count(True)} of {len(late)} ok")
    check(all(early), f"new connections before the kill: {early.count(True)} of {len(early)} ok")
    capture.expect_none()
    h.call("send")
    again = h.call("collect 20")
    check(again["ok"] == count, f"a round after the takeover: {again}")
    during = [ok for t, ok in attempts if t_kill < t <= t_active]
    return (f"a killed (controld and gatewayd) with {count} connections: b active {took * 1000:.0f} ms later "
            f"(takeover {ha['counters']['last_takeover_ms']} ms of it, epoch {ha['epoch']}); {after['ok']}/{count} "
            f"carried on (same socket, same node, no RST in the capture), slowest in-flight request "
            f"{after['slowest_ms']} ms; new connections: {len(late)}/{len(late)} after, {during.count(True)}/"
            f"{len(during)} started during the takeover; {len(udp.first)} UDP flows kept their node")


def sc_pair_freeze(L, step, count=2000):
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    step(f"{count} connections through a: {opened['by_node']}")
    capture = ResetCapture(topo)
    frozen = a.gatewayd_pid()
    os.kill(frozen, signal.SIGSTOP)
    t0 = time.monotonic()
    try:
        sent = h.call("send")
        check(sent["failed"] == 0, f"requests sent while a is frozen: {sent}")
        wait_for(lambda: b.ha()["role"] == "active", 15, "b took over from a's frozen gatewayd", interval=0.02)
        took = time.monotonic() - t0
        why = b.ha()["why"]
        after = h.call("collect 30")
        check(carried_on(after, count), f"after the takeover: {after}")
    finally:
        os.kill(frozen, signal.SIGCONT)
    step(f"b active {took * 1000:.0f} ms after the freeze; {after['ok']}/{count} carried on; a resumed")
    wait_roles(L, b, a)
    check(a.gatewayd_pid() == frozen, "a's gatewayd is the same process, resumed (not restarted)")
    # The resumed one forwards nothing: a round of requests all goes through b.
    fwd = fwd_packets(a)
    h.call("send")
    again = h.call("collect 20")
    check(again["ok"] == count, f"a round through b: {again}")
    check(fwd_packets(a) == fwd, f"a's gatewayd forwarded {fwd_packets(a) - fwd} packets while standby")
    # ... and answers no ARP for the cluster address: ask afresh.
    topo.exec(topo.client, "ip", "neigh", "flush", "dev", "eth0")
    h.call("send")
    third = h.call("collect 20")
    check(third["ok"] == count, f"a round after the client asked ARP again: {third}")
    check(client_sees(topo) == gw0_mac(topo, b.ns), f"the client's ARP answer is b's: {client_sees(topo)}")
    capture.expect_none()
    return (f"a's gatewayd frozen: b active {took * 1000:.0f} ms later ({why}); "
            f"{after['ok']}/{count} carried on, no RST; resumed a is the backup: standby, 0 packets forwarded, "
            f"the client's ARP answered by b")


def sc_pair_fence(L, step, count=2000):
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    step(f"{count} connections through a: {opened['by_node']}")
    capture = ResetCapture(topo)
    orphan = a.gatewayd_pid()
    os.kill(a.pid, signal.SIGKILL)  # controld alone: its gatewayd lives on
    t0 = time.monotonic()
    # The orphan fences itself: standby, forwarding nothing, answering no ARP.
    wait_for(lambda: "role      standby" in a.ctl("show", "info"), 5, "a's orphaned gatewayd standby", interval=0.005)
    fenced = time.monotonic() - t0
    a._proc.wait(timeout=5)
    took = sent_until_active(b, h, t0)
    after = h.call("collect 30")
    check(carried_on(after, count), f"after b's takeover: {after}")
    check(os.path.exists(f"/proc/{orphan}"), f"a's gatewayd {orphan} lives on")
    with open(a.log) as f:
        check("controld (gatewayd's parent) ended: standby now" in f.read(), "the orphan's log says why")
    fwd = fwd_packets(a)
    topo.exec(topo.client, "ip", "neigh", "flush", "dev", "eth0")
    h.call("send")
    again = h.call("collect 20")
    check(carried_on(again, count), f"a round through b: {again}")
    check(fwd_packets(a) == fwd, f"the orphan forwarded {fwd_packets(a) - fwd} packets while fenced")
    check(client_sees(topo) == gw0_mac(topo, b.ns), f"the client's ARP answer is b's: {client_sees(topo)}")
    # a's controld again: the orphan is replaced and a is b's backup.
    a.start()
    wait_roles(L, b, a, timeout=30)
    check(not os.path.exists(f"/proc/{orphan}") or a.gatewayd_pid() != orphan, "the orphan replaced")
    capture.expect_none()
    return (f"a's controld killed, its gatewayd left running with {count} connections: b active {took * 1000:.0f} ms "
            f"later, {after['ok']}/{count} carried on; the orphan standby {fenced * 1000:.0f} ms after the kill (its "
            f"parent's death), 0 packets forwarded after, ARP answered by b; a's controld started again: b's backup; "
            f"no RST")


def sc_pair_switch(L, step, count=2000):
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    step(f"{count} connections through a: {opened['by_node']}")
    capture = ResetCapture(topo)
    stream = NewConns(topo)  # short new connections all along: none may fail or be reset
    time.sleep(0.3)
    out = []
    for old, new in ((a, b), (b, a)):
        # Connections opened while the gateways hand over: through the old
        # one until the new one announces itself, then through the new one.
        late = Holder(topo, CLUSTER_IP, PORT)
        late.start("open 1500")
        said = old.mctl("ha", "switchover")
        check("asked the backup" in said, f"ha switchover on {old.side}: {said}")
        took = wait_roles(L, new, old)
        during = late.result(60)
        check(during["opened"] == 1500, f"opened during the switchover: {during['opened']} of 1500 {during['errors'][:3]}")
        for who, holder, n in (("held", h, count), ("opened during it", late, 1500)):
            holder.call("send")
            r = holder.call("collect 20")
            check(carried_on(r, n), f"after the switchover to {new.side}, the connections {who}: {r}")
        check(client_sees(topo) == gw0_mac(topo, new.ns), f"the client sends to {new.side}")
        out.append(f"{old.side}->{new.side} {took * 1000:.0f} ms")
        step(f"switchover {old.side} -> {new.side} in {took * 1000:.0f} ms: {count} held and 1500 opened during it "
             f"({during['seconds']}s) carried on")
        topo.stop(late.p)
        time.sleep(0.3)
    attempts = stream.stop()
    failed = [t for t, ok in attempts if not ok]
    check(attempts and not failed, f"new connections during the switchovers: {len(failed)} of {len(attempts)} failed")
    capture.expect_none()
    ca, cb = a.ha()["counters"], b.ha()["counters"]
    check(ca["switchovers"] == 1 and cb["switchovers"] == 1, f"one switchover each: a {ca}, b {cb}")
    for gw, role in ((a, "active"), (b, "backup")):  # what Prometheus sees
        text = gw.prometheus()
        want = [f'clustergate_pair_role{{role="{role}"}} 1', "clustergate_pair_peer_up 1",
                'clustergate_pair{counter="switchovers"} 1', "clustergate_pair_epoch 3"]
        missing = [w for w in want if w not in text]
        check(not missing, f"{gw.side}'s Prometheus lacks {missing}")
    return (f"ha switchover and back with {count} connections: {'; '.join(out)}; every held one and the 1500 "
            f"opened during each switchover carried on; {len(attempts)}/{len(attempts)} short new connections "
            f"meanwhile; no RST in the capture")


def heartbeat_from_capture(topo, ns, source, seconds=1.0):
    """The UDP payload of one heartbeat from `source`, as captured on `ns`'s
    mgmt0 (the heartbeats of both ways pass there)."""
    path = os.path.join(topo.dir, "heartbeat.pcap")
    topo.exec(ns, "timeout", str(seconds + 2), "tcpdump", "-i", "mgmt0", "-n", "-c", "1", "-w", path,
              f"src host {source} and udp dst port {PAIR_PORT}", check=False)
    with open(path, "rb") as f:
        data = f.read()
    check(len(data) > 24 + 16 + 42, f"a heartbeat captured on {ns}'s mgmt0 ({len(data)} bytes of pcap)")
    frame = data[24 + 16:]
    ihl = (frame[14] & 0x0F) * 4
    return frame[14 + ihl + 8:]


def send_udp(topo, ns, source, payload, to):
    """`payload` to `to` (address, port) from `source` inside `ns`."""
    code = ("import socket,sys;s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM);"
            f"s.bind(({source!r},0));s.sendto(bytes.fromhex(sys.argv[1]),({to[0]!r},{to[1]}))")
    topo.exec(ns, sys.executable, "-c", code, payload.hex())


def sc_pair_forged(L, step):
    """Forged, replayed and foreign heartbeats reach b: each is refused and
    counted, and none moves a role or an epoch."""
    a, b, topo = L.a, L.b, L.topo
    before = (a.ha(), b.ha())
    real = heartbeat_from_capture(topo, b.ns, a.mgmt_ip)  # a's, on its way to b
    flipped = bytearray(real)
    flipped[40] ^= 0x01  # in the payload: the MAC no longer matches
    to = (b.mgmt_ip, PAIR_PORT)
    for _ in range(3):
        send_udp(topo, a.ns, a.mgmt_ip, real, to)          # a copy of a's own: replayed
        send_udp(topo, a.ns, a.mgmt_ip, bytes(flipped), to)  # changed on the way
        send_udp(topo, topo.client, CLIENT_IP, real, to)    # from another address than it names
        send_udp(topo, a.ns, a.mgmt_ip, real[:30], to)      # cut short
    time.sleep(0.5)
    after_a, after_b = a.ha(), b.ha()
    c = after_b["counters"]
    want = {"heartbeats_refused_replayed": 3, "heartbeats_refused_bad_mac": 3, "heartbeats_refused_unknown_peer": 3,
            "heartbeats_refused_truncated": 3}
    got = {k: c[k] - before[1]["counters"][k] for k in want}
    check(got == want, f"b's refusals: {got}, expected {want}")
    check((after_a["role"], after_b["role"]) == ("active", "backup"), f"roles kept: a {after_a['role']}, b {after_b['role']}")
    check(after_a["epoch"] == before[0]["epoch"] and after_b["epoch"] == before[1]["epoch"], "epochs kept")
    check(c["takeovers"] == 0 and after_a["counters"]["demotions"] == 0, f"no takeover: {c}")
    check("alive" in after_b["peer"], f"b still hears a: {after_b['peer']}")
    return (f"12 forged heartbeats sent to b (replayed, changed, from the client's address, cut short): "
            f"refused and counted {got}; a still active, b its backup, epoch {after_b['epoch']}, no takeover")


def sc_pair_unheard(L, step, count=1000):
    """The mirror on, every node's agent silent: b's hot table carries the
    connections on, and since no node can say which others are alive, b
    asks again, then opens no reset window rather than reset on a guess."""
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    wait_for(lambda: table_size(b) >= count, 10, "b's table hot from the mirror")
    for n in topo.nodes:
        topo.stop(L.agents[n])
    step(f"{count} connections through a, b follows them; every agent stopped")
    capture = ResetCapture(topo)
    took, _ = kill_active(L, h)
    after = h.call("collect 30")
    check(carried_on(after, count), f"after the takeover: {after}")
    tries = 5  # conn_restore::reconcile_tries
    line = wait_for(lambda: next((l for l in open(b.log).read().splitlines() if "reconciled the followed table" in l),
                                 None), 2 * tries + 10, "b's reconcile gives up")
    check(f"reset window NOT open: no node answered in {tries} tries" in line, f"b's reconcile: {line}")
    capture.expect_none()
    return (f"mirror on, no agent answering, a killed with {count} connections: b active {took * 1000:.0f} ms later; "
            f"{after['ok']}/{count} carried on; b asked the nodes {tries} times, then opened no reset window; no RST")


def table_size(gw):
    """Connections in gatewayd's tables (`show stats`, every lcore)."""
    return sum(int(r["conns"]) for r in gw.stats()["lcores"] if r.get("conns", "").isdigit())


def sc_pair_mirror(L, step, count=3000):
    """The mirror on (state changes), one node's agent silent: b's table is
    hot from the mirror, so when a dies the connections of the node whose
    agent does not answer carry on too (the nodes' answers alone would have
    lost them: the node is presumed down)."""
    a, b, topo = L.a, L.b, L.topo
    h, opened = hold_connections(L, count)
    hot = wait_for(lambda: n if (n := table_size(b)) >= count else None, 10, "b's table hot from the mirror")
    step(f"{count} connections through a: {opened['by_node']}; b's gatewayd follows {hot}")
    # Flows to a node's unconnected UDP socket: no node can name them, the
    # mirror can.
    udp = UdpFlows(L, UDP_PORT)
    wait_for(lambda: table_size(b) >= count + len(udp.first), 10, "b follows the UDP flows too")
    silent = "n3"
    topo.stop(L.agents[silent])
    capture = ResetCapture(topo)
    before = b.manager()["counters"]
    took, _ = kill_active(L, h)
    after = h.call("collect 30")
    c = b.manager()["counters"]
    failed = c["restore_nodes_failed"] - before.get("restore_nodes_failed", 0)
    check(failed == 1, f"{silent}'s agent silent: one node presumed down in the restore, counted {failed}")
    check(carried_on(after, count), f"after the takeover: {after}")
    udp.expect_kept()
    capture.expect_none()
    lost_without = opened["by_node"][silent]
    ha = b.ha()["counters"]
    # A hot table goes active with one local request; controld's 50 ms
    # polling timer once stood before it.
    check(ha["last_takeover_ms"] < 50, f"decision to active within 50 ms: {ha['last_takeover_ms']} ms")
    return (f"mirror on, {silent}'s agent silent, a killed with {count} connections: b active {took * 1000:.0f} ms "
            f"later (decision to active {ha['last_takeover_ms']} ms: the followed table first, the nodes after); "
            f"{after['ok']}/{count} carried on, {lost_without} of them {silent}'s, kept by the hot table; "
            f"{len(udp.first)} UDP flows (to unconnected sockets) kept their node; no RST")
