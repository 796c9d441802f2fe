"""A terminator's report (docs/operations.md, "A terminator's report"):
a front-end that cannot reach its server has the server failed, though the
server's own agent goes on speaking.

    term_report    node_spare's bench (n4 the spare of n3, alive monitoring)
                   with n3's terminator at n3 + 100 (198.18.0.113, an address
                   of n1's namespace), whose agent probes n3's port 80 every
                   20 ms (--upstream). First the same agent started on n1's
                   port 80 instead, which it does not front: its reports are
                   refused and counted, and move nothing. Then, with 150
                   keep-alive connections held, the path from the terminator
                   to n3 is cut (a blackhole route in n1's namespace; n3, its
                   agent and its link live on): controld marks n3 failed on
                   the terminator's word, n3's idle clients are reset at once
                   instead of hanging, the others carry on, and new
                   connections go to n4 in n3's place; once the route is back,
                   n3 is live again.
"""

import collections
import time

from manager_lab import AGENT_PORT, MGMT_IP
from scenarios.helpers import check
from scenarios.node_failure import logged_at, node_states
from scenarios.recovery import hold_connections
from topology import wait_for

SERVER, SPARE, HOST = "n3", "n4", "n1"  # the terminator's address lives in n1's namespace
OFFSET = 100
BENCH = {"bench": "managed", "agent_keys": {"alive_timeout": "100ms"}, "spares": 1,
         "edits": [("spare: 198.18.0.14}", f"spare: 198.18.0.14, terminators: [{OFFSET}]}}")]}


def terminator_ip(L):
    a = L.ip(SERVER).rsplit(".", 1)
    return f"{a[0]}.{int(a[1]) + OFFSET}"


def start_terminator(L, upstream):
    """The terminator's agent in n1's namespace, probing `upstream` (ADDR:PORT)."""
    return L.topo.spawn(L.topo.ns(HOST), [
        L.gw.nodeagent, "--node", terminator_ip(L), "--gateway", f"{MGMT_IP}:{AGENT_PORT}",
        "--key-file", L.gw.key_file, "--interval", "300ms", "--upstream", upstream,
        "--upstream-interval", "20ms", "--upstream-failures", "3"], name="agent-terminator")


def sc_term_report(L, step):
    topo, gw = L.topo, L.gw
    term = terminator_ip(L)
    topo.exec(topo.ns(HOST), "ip", "addr", "add", f"{term}/24", "dev", "eth0")
    spares = gw.ctl("show", "spares")
    check(f"+{OFFSET}" in spares, f"show spares names the terminator offset: {spares}")

    def counters():
        return gw.manager()["counters"]

    # A report on a node it does not front: refused, counted, nothing failed.
    wrong = start_terminator(L, f"{L.ip(HOST)}:80")
    wait_for(lambda: counters().get("upstream_reports_refused", 0) >= 10, 10, "the wrong reports refused")
    c = counters()
    check(c.get("upstream_reports", 0) == 0 and c.get("nodes_failed", 0) == 0,
          f"refused reports moved nothing: {c}")
    wrong.kill()
    wrong.wait()
    step(f"{term}'s reports on {L.ip(HOST)}, which it does not front: {c['upstream_reports_refused']} refused")

    agent = start_terminator(L, f"{L.ip(SERVER)}:80")
    wait_for(lambda: counters().get("upstream_reports", 0) >= 10, 10, "the terminator's reports taken")
    check(counters().get("upstream_reports_unreachable", 0) == 0, f"n3 reachable: {counters()}")
    L.agents["terminator"] = agent

    h, opened = hold_connections(L, 150)
    lost = opened["by_node"][SERVER]
    step(f"150 connections: {opened['by_node']}")
    time.sleep(0.5)  # the clients' delayed ACKs of the last answers pass first

    t_cut = time.monotonic()
    topo.exec(topo.ns(HOST), "ip", "route", "add", "blackhole", f"{L.ip(SERVER)}/32")
    wait_for(lambda: node_states(L)[L.ip(SERVER)] == "failed", 5, f"{SERVER} marked failed", interval=0.01)
    found_ms = (time.monotonic() - t_cut) * 1000
    line = f"node {L.ip(SERVER)} failed: its terminator {term} reports it unreachable"
    logged_at(gw.log, line)  # raises if controld said anything else
    c = counters()
    check(c.get("nodes_reported_unreachable") == 1 and c.get("nodes_failed") == 1,
          f"one node failed, on the terminator's report: {c}")
    step(f"{term} cut off from {SERVER}: {SERVER} marked failed {found_ms:.0f} ms later, on its terminator's report")

    quiet = h.call(f"idle 5 {lost}")
    by = quiet["by_node"]
    check(by.get(SERVER) == {"reset": lost}, f"{SERVER}'s {lost} idle clients reset: {by}")
    check(all(by[n] == {"quiet": opened["by_node"][n]} for n in by if n != SERVER), f"the others untouched: {by}")
    h.call("send")
    after = h.call("collect 10")
    check(all(after["by_node"][n] == {"ok": opened["by_node"][n]} for n in after["by_node"] if n != SERVER),
          f"the others answered: {after}")
    nodes, errors = L.http_new(90)
    nodes = dict(collections.Counter(nodes))
    check(not errors and SERVER not in nodes and nodes.get(SPARE, 0) >= 15,
          f"new connections: {SPARE} in {SERVER}'s place: {nodes} {errors[:2]}")
    # n3's own agent spoke all along: no silence was the cause.
    with open(gw.log) as f:
        silent = [l for l in f if f"node {L.ip(SERVER)} failed: its agent has been silent" in l]
    check(not silent, f"controld took {SERVER} for silent: {silent}")
    step(f"{SERVER}'s {lost} clients reset, the others carried on; 90 new connections: {nodes}")

    t_back = time.monotonic()
    topo.exec(topo.ns(HOST), "ip", "route", "del", "blackhole", f"{L.ip(SERVER)}/32")
    wait_for(lambda: node_states(L)[L.ip(SERVER)] != "failed", 5, f"{SERVER} live again", interval=0.01)
    back_ms = (time.monotonic() - t_back) * 1000
    c = counters()
    check(c.get("nodes_back") == 1, f"controld counted {SERVER} back once: {c}")
    step(f"the route back: {SERVER} live again {back_ms:.0f} ms later")
    return (f"{term} ({SERVER}'s terminator at +{OFFSET}) refused while it reported on a node it does not front; "
            f"cut off from {SERVER} (whose agent lived on): {SERVER} marked failed {found_ms:.0f} ms later on its "
            f"word (probes every 20 ms, 3 failures), its {lost} idle clients reset, the others carried on, new "
            f"connections to {SPARE}; live again {back_ms:.0f} ms after the route came back")
