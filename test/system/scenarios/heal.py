"""Auto-heal (docs/operations.md, "Auto-heal"): the active gateway's whole
instance dies; its backup takes over at once (the short cut: no ladder for
a dead instance) and starts a new gateway on the pair's pool host, which
joins as its backup. Keep-alive connections to the node servers (port 80
of the configuration file: the pool's gateway starts from its files) must
carry on through that death and through the next one.

    pair_heal   a's controld and gatewayd killed: b takes over, starts c
                from the pool (manager.pair.pool), c becomes b's backup;
                a, started again, is told it was replaced and stays out
                (retired, standby); then b's whole instance killed: c
                takes over, a does not; the held connections carried on
                each time (same socket, same node, no RST in a capture)
    esc_heal    the ladder's last rung for a gateway's own failures: a's
                gatewayd killed with every other rung's budget 0: a's
                ladder decides auto-heal, a leaves the pair (retired, its
                gatewayd not started again), b takes over, and a starts c
                from the pool as b's backup; the connections carried on
"""

import os
import signal
import time

from manager_lab import POOL_MGMT, attach_pool_gateway
from topology import wait_for

from scenarios.helpers import check
from scenarios.pair import kill_instance, sent_until_active
from scenarios.recovery import ResetCapture, carried_on, open_held

COUNT = 1000


def wait_joined(survivor, c, starter):
    """Until `starter` has run the pool host's start command (c then the
    test's, by its pid file) and c is the survivor's backup, gatewayd up."""
    pid_file, log = c.pool_files
    wait_for(lambda: os.path.exists(pid_file) and os.path.getsize(pid_file) > 0, 15,
             f"{starter} ran the pool host's start command", interval=0.05)
    attach_pool_gateway(c, pid_file, log)

    def healed():
        peer = survivor.ha()["peer"]
        return peer.startswith(f"{POOL_MGMT} alive, backup") and "gatewayd up" in peer
    wait_for(healed, 30, f"c ({POOL_MGMT}) {survivor.side}'s backup with its gatewayd up", interval=0.05)


def sc_pair_heal(L, step):
    a, b, c, topo = L.a, L.b, L.c, L.topo
    h, opened = open_held(topo, 80, COUNT)
    step(f"{COUNT} keep-alive connections through a: {opened['by_node']}")
    check(b.ha()["gatewayd"].startswith("up"), f"b's gatewayd up: {b.ha()}")
    capture = ResetCapture(topo)
    took, t_kill = kill_instance(a, b, h)
    after = h.call("collect 30")
    check(carried_on(after, COUNT), f"after b's takeover: {after}")
    step(f"a's controld and gatewayd killed: b active {took * 1000:.0f} ms later, {after['ok']}/{COUNT} carried on")

    wait_joined(b, c, "b")
    healed_after = time.time() - t_kill
    ha = b.ha()
    counts = ha["counters"]
    check(counts["heals_started"] == 1 and counts["heals_done"] == 1 and counts["peer_changes"] == 1,
          f"one auto-heal, done: {counts}")
    check("joined in place of" in b.mctl("ha", "show"), f"ha show tells the auto-heal: {b.mctl('ha', 'show')}")
    check(c.ha()["role"] == "backup" and "role      standby" in c.ctl("show", "info"),
          f"c is b's backup, its gatewayd standby: {c.ha()}")
    step(f"c started from the pool by b and its backup {healed_after:.2f}s after the kill "
         f"(start command to first heartbeat {counts['last_heal_ms']} ms)")
    h.call("send")
    between = h.call("collect 20")
    check(carried_on(between, COUNT), f"through b, with c its backup: {between}")

    # a comes back (its host restarted it): replaced, it must stay out.
    a.start()
    wait_for(lambda: a.ha()["role"] == "retired", 20, "a, started again, told it was replaced", interval=0.1)
    wait_for(lambda: "role      standby" in a.ctl("show", "info", check=False), 20, "a's gatewayd standby",
             interval=0.1)
    step(f"a started again: retired ({a.ha()['why']})")

    took2, _ = kill_instance(b, c, h)
    after2 = h.call("collect 30")
    check(carried_on(after2, COUNT), f"after c's takeover: {after2}")
    check(a.ha()["role"] == "retired" and "role      standby" in a.ctl("show", "info"),
          f"a stayed out when b died: {a.ha()}")
    capture.expect_none()
    return (f"a's whole instance killed with {COUNT} connections: b active {took * 1000:.0f} ms later, "
            f"{after['ok']}/{COUNT} carried on; b started c from the pool, its backup {healed_after:.2f}s after "
            f"the kill (command to first heartbeat {counts['last_heal_ms']} ms); then b killed: c active "
            f"{took2 * 1000:.0f} ms later, {after2['ok']}/{COUNT} carried on, a (started again meanwhile) retired and "
            f"out; no RST")


# Every rung below auto-heal spent from the start: the first death climbs to it.
SUPERVISION_HEAL = ["  ladder: {" + ", ".join(f"{r}: {{failures: 0}}"
                                            for r in ("ph0_5", "ph1_0", "ph2_0", "ph2_5", "ph3_0")) + "}"]


def sc_esc_heal(L, step):
    a, b, c, topo = L.a, L.b, L.c, L.topo
    h, opened = open_held(topo, 80, COUNT)
    step(f"{COUNT} keep-alive connections through a: {opened['by_node']}")
    capture = ResetCapture(topo)
    dead = a.gatewayd_pid()
    os.kill(dead, signal.SIGKILL)
    t0 = time.monotonic()
    took = sent_until_active(b, h, t0)
    after = h.call("collect 30")
    check(carried_on(after, COUNT), f"after b's takeover: {after}")
    row = a.escalation()["history"][-1]
    check(row["decided"] == "auto-heal" and row["applied"] == "auto-heal", f"a's ladder: auto-heal: {row}")
    check(a.ha()["role"] == "retired", f"a left the pair: {a.ha()}")
    step(f"a's gatewayd killed: a's ladder decided and applied auto-heal; b active {took * 1000:.0f} ms later, "
         f"{after['ok']}/{COUNT} carried on")

    wait_joined(b, c, "a")
    healed_after = time.monotonic() - t0
    check(a.gatewayd_pid() in (None, dead) and a.ha()["role"] == "retired",
          f"a started no gatewayd again: {a.gatewayd_pid()}, {a.ha()}")
    check(b.ha()["counters"]["heals_started"] == 0, f"b started nobody: a did: {b.ha()['counters']}")
    h.call("send")
    again = h.call("collect 20")
    check(carried_on(again, COUNT), f"through b, with c its backup: {again}")
    capture.expect_none()
    return (f"a's gatewayd killed with every rung below auto-heal spent: a's ladder applied auto-heal, a retired; "
            f"b active {took * 1000:.0f} ms later, {after['ok']}/{COUNT} carried on; c started by a from the pool, "
            f"b's backup {healed_after:.2f}s after the kill; no RST")
