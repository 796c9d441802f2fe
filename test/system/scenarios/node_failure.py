"""A server node's failure, seen by its clients (docs/operations.md, "A node
fails").

    node_failed     a node dies (its link cut) and the operator marks it
                    failed (`set failed <node> on`): its clients, idle, get
                    a reset within 100 ms instead of waiting out their own
                    timeouts, their next connection goes to a live node, and
                    the other nodes' connections are untouched
    node_dead       the same, found by controld's alive monitoring (the
                    node's agent falls silent; agents.alive_timeout 100ms):
                    marked failed within the timeout and a little, and
                    unmarked when its link comes back
    node_spare      node_dead with a spare for the dead node (the config's
                    `spares`: n3 -> n4, a node outside the cluster): the
                    spare stands by with its MAC resolved and no traffic;
                    once n3 is marked failed its new connections go to n4
                    at n3's weight, and when n3 is back n4 keeps the
                    connections it took and takes no new ones
    alive_stall     node_dead's monitor on a machine too busy to run
                    controld: controld stopped (SIGSTOP) for four alive
                    timeouts while every node and agent lives; once it runs
                    again it reads the signs of life that waited in its
                    socket before judging, and fails no node; a node cut
                    off afterwards is still found
"""

import collections
import datetime
import os
import signal
import time

from scenarios.helpers import check
from scenarios.manager import dataplane_weight
from scenarios.recovery import PORT, ResetCapture, hold_connections, kill_gatewayd, open_held
from topology import wait_for

DEAD = "n3"


def node_states(L):
    return {a: r["state"] for a, r in L.gw.clusters()[("tcp", PORT)]["nodes"].items()}


def rst_times(lines, port):
    """The tcpdump -tt times of the RSTs from cluster port `port`, by client."""
    out = {}
    for line in lines:
        f = line.split()
        if len(f) > 4 and f[1] == "IP" and f[2].endswith(f".{port}") and "Flags [R" in line:
            out.setdefault(f[4].rstrip(":"), float(f[0]))
    return out


def fail_node(L, step, count, mark):
    """`count` keep-alive connections, idle; then DEAD's link cut and
    `mark()` (which returns the wall time the node was marked failed, and
    says how: for controld, the time of its log line). The clients send nothing: each of DEAD's must be reset
    within 100 ms of the mark (the gateway's tickle, the client's answer,
    the gateway's RST), on the client's link; the others must be untouched
    and answered on their next request; new connections must avoid DEAD.
    Returns (what was seen, in words; how many DEAD had; the held
    connections by node)."""
    h, opened = hold_connections(L, count)
    lost = opened["by_node"][DEAD]
    step(f"{count} connections: {opened['by_node']}")
    # The clients' delayed ACKs of the last answers (40 ms and more) would
    # reach the failed node's entries first and be reset: let them pass.
    time.sleep(0.5)
    capture = ResetCapture(L.topo, f"tcp port {PORT}", name="segments")
    L.topo.exec(L.topo.ns(DEAD), "ip", "link", "set", "eth0", "down")  # nothing in, nothing out
    marked_at, how = mark()
    step(f"{DEAD} down and marked failed: {how}")
    state = node_states(L)
    check(state[L.ip(DEAD)] == "failed" and all(s != "failed" for a, s in state.items() if a != L.ip(DEAD)),
          f"show clusters names {DEAD} alone failed: {state}")

    quiet = h.call(f"idle 5 {lost}")
    rsts = rst_times(capture.stop("-tt"), PORT)
    delays = sorted((t - marked_at) * 1000 for t in rsts.values())
    control = L.gw.stats()["control"]
    seen = (f"{len(rsts)} RSTs on the client's link, the slowest {delays[-1] if delays else 0:.1f} ms after the "
            f"mark; gatewayd sent {control.get('tickles_sent')} tickles and {control.get('tcp_resets_sent')} resets")
    by = quiet["by_node"]
    check(by.get(DEAD) == {"reset": lost}, f"{DEAD}'s {lost} idle clients reset: {by}; {seen}")
    check(all(by[n] == {"quiet": opened["by_node"][n]} for n in by if n != DEAD), f"the others untouched: {by}")
    check(len(rsts) == lost and delays[-1] < 100, f"each client's RST within 100 ms of the mark: {seen}")
    check(delays[0] > -2, f"a RST {delays[0]:.1f} ms before the mark: the test's clocks disagree")
    check(control.get("tickles_sent") == lost, f"one tickle per connection of {DEAD}: {seen}")
    h.call("send")
    after = h.call("collect 10")
    check(after["wrong_node"] == 0 and all(after["by_node"][n] == {"ok": opened["by_node"][n]}
                                           for n in after["by_node"] if n != DEAD), f"the others answered: {after}")
    events = L.gw.stats()["connection events"]
    check(events.get("node_failed") == lost, f"gatewayd counted {events.get('node_failed')} entries of the "
                                             f"failed node gone, {lost} expected: {events}")
    nodes, errors = L.http_new(60)
    check(not errors and DEAD not in nodes, f"new connections avoid {DEAD}: {nodes} {errors[:2]}")
    return seen, lost, opened["by_node"]


def logged_at(log, needle):
    """The wall time of the first line of `log` (controld's) holding
    `needle`: its "YYYY-MM-DD HH:MM:SS.mmm" stamp, local time."""
    with open(log) as f:
        for line in f:
            if needle in line:
                stamp = " ".join(line.split()[:2])
                return datetime.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S.%f").timestamp()
    raise AssertionError(f"no line with {needle!r} in {log}")


def sc_node_failed(L, step, count=300):
    def by_hand():
        t = time.time()
        return t, L.gw.ctl("set", "failed", L.ip(DEAD), "on").strip()

    seen, lost, _ = fail_node(L, step, count, by_hand)
    return (f"{DEAD} cut off and marked failed with {lost} of {count} idle connections: each of its clients "
            f"reset ({seen}); the other {count - lost} untouched and answered; 60 new connections, none to {DEAD}")


def by_alive_monitor(L, found):
    """The mark function of fail_node for controld's alive monitoring."""
    def detected():
        t0 = time.monotonic()
        wait_for(lambda: node_states(L)[L.ip(DEAD)] == "failed", 5, f"{DEAD} marked failed", interval=0.01)
        found["ms"] = (time.monotonic() - t0) * 1000
        # From controld's own word: the test's polling is 10 ms coarse.
        return (logged_at(L.gw.log, f"node {L.ip(DEAD)} failed"),
                f"by controld {found['ms']:.0f} ms after the cut (polled every 10 ms)")
    return detected


def link_up_again(L, step):
    """DEAD's link up; returns the ms until gatewayd has it live again."""
    t_up = time.monotonic()
    L.topo.exec(L.topo.ns(DEAD), "ip", "link", "set", "eth0", "up")
    wait_for(lambda: node_states(L)[L.ip(DEAD)] != "failed", 5, f"{DEAD} live again", interval=0.01)
    back = (time.monotonic() - t_up) * 1000
    step(f"{DEAD}'s link up: live again {back:.0f} ms later")
    return back


def sc_node_dead(L, step, count=300):
    found = {}
    seen, lost, _ = fail_node(L, step, count, by_alive_monitor(L, found))
    # The machine is shared: 100 ms of silence, the monitor's 20 ms turn,
    # the request to gatewayd, and slack for a loaded 2-core VM.
    check(found["ms"] < 500, f"{DEAD} found failed {found['ms']:.0f} ms after its link was cut")
    counters = L.gw.manager()["counters"]
    check(counters.get("nodes_failed") == 1, f"controld counted {counters.get('nodes_failed')} node failures")

    back = link_up_again(L, step)
    return (f"{DEAD} cut off with {lost} of {count} connections: marked failed {found['ms']:.0f} ms later "
            f"(alive_timeout 100ms); each of its idle clients reset ({seen}); the other "
            f"{count - lost} carried on; new connections avoided it; live again {back:.0f} ms after its link came "
            f"back")


def sc_node_spare(L, step, count=150):
    spare = L.spare_of[DEAD]
    check(spare not in L.working, f"{spare} is a spare, not a node of the cluster")

    def row_of(node, port=80):
        return L.gw.clusters()[("tcp", port)]["nodes"][L.ip(node)]

    def row(port):
        return row_of(spare, port)

    def serving_metric():
        """clustergate_spare_serving of the spare on port 80, from Prometheus."""
        want = f'node="{L.ip(spare)}",spare_of="{L.ip(DEAD)}"'
        for line in L.gw.prometheus().splitlines():
            if line.startswith("clustergate_spare_serving{") and 'port="tcp/80"' in line and want in line:
                return line.rsplit(" ", 1)[1]
        return None

    standby = row(80)
    check(serving_metric() == "0", f"Prometheus: {spare} standing by: {serving_metric()}")
    check(standby["state"] == f"ok, spare of {L.ip(DEAD)}, standing by" and standby["weight"].split()[0] == "0"
          and "arp" in standby["mac"], f"{spare} stands by for {DEAD} with its MAC resolved: {standby}")
    found = {}
    seen, lost, held = fail_node(L, step, count, by_alive_monitor(L, found))
    check(spare not in held, f"no connection went to {spare} while it stood by: {held}")
    serving = row(80)
    check(wait_for(lambda: serving_metric() == "1", 5, "Prometheus: the spare serving", interval=0.1),
          "Prometheus shows the spare serving")
    dead_weight = L.gw.clusters()[("tcp", 80)]["nodes"][L.ip(DEAD)]["weight"].split()[0]
    check(serving["state"] == f"ok, spare of {L.ip(DEAD)}, serving" and serving["weight"].split()[0] == dead_weight,
          f"{spare} serves with {DEAD}'s weight {dead_weight}: {serving}")
    nodes, errors = L.http_new(90)
    nodes = dict(collections.Counter(nodes))
    check(not errors and DEAD not in nodes and nodes.get(spare, 0) >= 15,
          f"new connections: {spare} takes {DEAD}'s share (a third), {DEAD} none: {nodes} {errors[:2]}; "
          f"show clusters: {L.gw.clusters()[('tcp', 80)]['nodes']}")
    step(f"{DEAD} failed: 90 new connections {nodes}")
    during = nodes
    h, opened = open_held(L.topo, PORT, 30)
    on_spare = opened["by_node"].get(spare, 0)
    check(on_spare > 0, f"some of 30 new keep-alive connections on {spare}: {opened['by_node']}")
    # Half a second for the managed weights: the held ones must not move.
    time.sleep(0.5)
    held_weight = L.gw.clusters()[("tcp", 80)]["nodes"][L.ip(DEAD)]["weight"].split()[0]
    check(held_weight == dead_weight, f"controld held {DEAD}'s weight while it is failed: {dead_weight} -> {held_weight}")
    # gatewayd killed while the spare serves: the restore asks the spare too
    # (its agent answers the shadow query), so its clients carry on.
    L.gw.start_agents(nodes=[spare])
    c, took = kill_gatewayd(L, h)
    restarted = h.call("collect 20")
    check(restarted["ok"] == 30 and restarted["reset"] == 0 and restarted["wrong_node"] == 0,
          f"after a kill -9 of gatewayd, the {on_spare} connections on {spare} (and the others) carried on: "
          f"{restarted}")
    step(f"kill -9 of gatewayd while {spare} serves: restore {took:.2f}s after the kill, {restarted['ok']}/30 "
         f"carried on, {on_spare} of them on {spare}")

    back = link_up_again(L, step)
    after_row = row(80)
    check(after_row["state"] == f"ok, spare of {L.ip(DEAD)}, standing by", f"{spare} stands by again: {after_row}")
    h.call("send")
    kept = h.call("collect 10")
    check(kept["ok"] == 30 and kept["wrong_node"] == 0,
          f"the {on_spare} connections {spare} took (and the others) carried on after {DEAD} came back: {kept}")
    # Live again is its agent heard from; new connections wait for its
    # service to answer the probe as well (every 300 ms).
    t_live = time.monotonic()
    check(wait_for(lambda: dataplane_weight(L, DEAD) > 0, 3, f"{DEAD} weighted again", interval=0.02),
          f"{DEAD} has a weight again once its probe answers: {row_of(DEAD)}")
    weighted = (time.monotonic() - t_live) * 1000
    # One round of the weights gives every weighted node its turn.
    weights = L.weights("tcp", 80)
    nodes, errors = L.http_new(max(60, sum(weights.values())))
    nodes = dict(collections.Counter(nodes))
    check(not errors and spare not in nodes and nodes.get(DEAD, 0) > 0,
          f"new connections back on {DEAD}, none on {spare} (weights {weights}): {nodes} {errors[:2]}")
    return (f"{spare} stood by for {DEAD} (MAC by ARP, weight 0, none of {count} connections); {DEAD} cut off with {lost} "
            f"of {count} connections, marked failed {found['ms']:.0f} ms later, its clients reset ({seen}); its "
            f"spare then served at its weight {dead_weight} (90 new connections: {during}), "
            f"{DEAD} live again {back:.0f} ms after its link came back (weighted {weighted:.0f} ms later); the {on_spare} connections on {spare} carried "
            f"on (through a kill -9 of gatewayd too, restore {took:.2f}s) and new ones went back to {DEAD}")


def sc_alive_stall(L, step, stall=0.4, count=60):
    gw = L.gw
    h, opened = hold_connections(L, count)
    # Every node heard from: one report from each agent is enough.
    wait_for(lambda: all(s == "ok" for s in node_states(L).values()), 10, "every node ok")
    step(f"{count} keep-alive connections: {opened['by_node']}")
    before = gw.manager()["counters"]
    check(before.get("nodes_failed") == 0, f"no node failed before the stall: {before.get('nodes_failed')}")
    os.kill(gw.pid, signal.SIGSTOP)
    try:
        time.sleep(stall)
    finally:
        os.kill(gw.pid, signal.SIGCONT)
    step(f"controld stopped for {stall * 1000:.0f} ms (alive_timeout 100ms), then let run")
    time.sleep(0.3)  # a dozen of the monitor's turns
    after = gw.manager()["counters"]
    drained = after.get("agent_datagrams_drained", 0) - before.get("agent_datagrams_drained", 0)
    check(after.get("nodes_failed") == 0 and all(s != "failed" for s in node_states(L).values()),
          f"a node failed for controld's own stall: {after.get('nodes_failed')} failures, {node_states(L)}; "
          f"{gw.log_tail(8)}")
    check(drained > 0, f"the signs of life queued during the stall read before the judgement: {drained} drained")
    h.call("send")
    answered = h.call("collect 10")
    check(answered["wrong_node"] == 0 and all(answered["by_node"][n] == {"ok": opened["by_node"][n]}
                                              for n in answered["by_node"]),
          f"every connection answered by its node after the stall: {answered}")
    step(f"no node failed; {drained} datagrams read from the socket before judging; all {count} connections answered")
    found = {}
    L.topo.exec(L.topo.ns(DEAD), "ip", "link", "set", "eth0", "down")
    by_alive_monitor(L, found)()
    check(found["ms"] < 500, f"{DEAD} cut off afterwards found failed {found['ms']:.0f} ms later")
    return (f"controld stopped for {stall * 1000:.0f} ms with alive_timeout 100ms: no node failed "
            f"({drained} queued signs of life read before judging), all {count} held connections answered; {DEAD} cut off afterwards marked failed "
            f"{found['ms']:.0f} ms later")
