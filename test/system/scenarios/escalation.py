"""The restart escalation ladder's rungs, each a real recovery
(docs/operations.md, "Restart escalation"), with keep-alive connections to
the node servers (port 80 of the configuration file: PH2.5 starts from the
current files, so a port added at run time would not be there) that must
carry on at every rung.

    esc_walk    kill -9 of gatewayd four times, with one recovery allowed
                per rung (1 in 1m): PH0.5, PH1.0, PH2.0, PH2.5 in that
                order, each shown by `show escalation` and Prometheus, each
                doing what its rung promises (PH2.0: gatewayd's EAL runtime
                directory emptied; PH2.5: controld executed again, same
                pid, counters from zero), the connections carried on at each
    esc_hung    a SIGSTOPped gatewayd: controld sees it hung within
                supervision.hung_after, kills it and restarts it (PH0.5),
                the connections carried on
    esc_config  the configuration file changed into one whose port cannot
                start: PH2.5 fails on it, PH3.0 puts the last good backup
                back, the connections carried on
    esc_boot    controld started with a configuration file that does not
                load: the last good backup is put in its place first, and
                the gateway comes up with its connections
    esc_dead    kill -9 of controld and gatewayd together (the whole
                instance, as a crash or a power cut would end it), then
                controld started again, as systemd would: it finds that
                its predecessor ended without a stop and that no gatewayd
                of it runs, and feeds the ladder instance_dead: the short
                cut to PH2.5 (this start being that restart), the
                connections carried on; the same again with the file
                broken on disk meanwhile: PH3.0, the last good backup put
                back
    ctl_kill9   kill -9 of controld: gatewayd forwards on alone; a
                controld started again adopts it (same pid, no restart,
                its tables and connections kept) and supervises it: a
                kill -9 of that gatewayd is then recovered as usual
"""

import os
import re
import signal
import time

from scenarios.helpers import check
from scenarios.recovery import ResetCapture, carried_on, open_held
from topology import wait_for

COUNT = 200  # connections held: enough to see each rung carry them, small enough to stay quick
HUNG_AFTER_MS = 500
ONE_EACH = ["  ladder: {" + ", ".join(f"{r}: {{failures: 1, window: 1m}}"
                                      for r in ("ph0_5", "ph1_0", "ph2_0", "ph2_5", "ph3_0")) + "}"]
SUPERVISION_WALK = ONE_EACH + [f"  hung_after: {HUNG_AFTER_MS}ms"]
SUPERVISION_HUNG = [f"  hung_after: {HUNG_AFTER_MS}ms"]
# Straight to PH2.5, then PH3.0; backups every 200 ms.
SUPERVISION_CONFIG = ["  ladder: {ph0_5: {failures: 0}, ph1_0: {failures: 0}, ph2_0: {failures: 0}, "
                      "ph2_5: {failures: 1, window: 1m}, ph3_0: {failures: 1, window: 1m}}",
                      "  backup_every: 200ms"]


def hold(L, step):
    """COUNT keep-alive connections to the node servers, one round of
    requests answered on each."""
    h, opened = open_held(L.topo, 80, COUNT)
    step(f"{COUNT} keep-alive connections to the node servers: {opened['by_node']}")
    return h


def recovered(gw, old_pid, entries):
    """Polls until the ladder has `entries` recoveries, the latest up, and a
    new gatewayd is active with the nodes' connections back; returns the
    latest recovery's row."""
    def done():
        e = gw.escalation()
        h = e["history"]
        if len(h) < entries or h[-1]["outcome"] != "up":
            return None
        pid = gw.gatewayd_pid()
        if pid in (None, old_pid) or "role      active" not in gw.ctl("show", "info", check=False):
            return None
        return h[-1]
    return wait_for(done, 30, f"recovery {entries} up, a new gatewayd active", interval=0.05)


def fail_once(L, h, rung, entries, how=signal.SIGKILL):
    """Ends (or stops) the running gatewayd with `how`, sends a request on
    every held connection while it is gone, waits for the recovery and checks
    the ladder's row and the connections. Returns (row, seconds from the
    failure to active again, the collect's answer)."""
    gw = L.gw
    old = gw.gatewayd_pid()
    check(old, "no gatewayd under controld")
    with open(gw.log) as f:
        seen = len(f.read())
    os.kill(old, how)
    t0 = time.monotonic()
    sent = h.call("send")  # in flight while nothing forwards
    check(sent["failed"] == 0, f"{rung}: requests sent during the outage: {sent}")
    row = recovered(gw, old, entries)
    took = time.monotonic() - t0
    check(row["decided"] == rung and row["applied"] == rung, f"{rung} decided and applied: {row}")
    after = h.call("collect 30")
    check(carried_on(after, COUNT), f"{rung}: the requests sent during the outage: {after}")
    with open(gw.log) as f:
        pause = re.search(r"gatewayd again in (\d+) s", f.read()[seen:])
    row["pause"] = int(pause.group(1)) if pause else 0
    return row, took, after


def eal_runtime_dir(gw):
    return os.path.join("/var/run/dpdk", "cg-" + gw.name)


def prometheus_rung(gw):
    """The rung clustergate_escalation_rung says the ladder stands at."""
    for line in gw.prometheus().splitlines():
        if line.startswith("clustergate_escalation_rung{") and line.endswith(" 1"):
            return line.split('rung="', 1)[1].split('"', 1)[0]
    return None


def sc_esc_walk(L, step):
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    times = {}
    for i, rung in enumerate(["PH0.5", "PH1.0", "PH2.0", "PH2.5"], start=1):
        marker = None
        if rung == "PH2.0":  # something of the old EAL state that only PH2.0 removes
            marker = os.path.join(eal_runtime_dir(gw), "left-by-the-test")
            check(os.path.isdir(eal_runtime_dir(gw)), f"gatewayd's EAL runtime directory {eal_runtime_dir(gw)}")
            open(marker, "w").close()
        if rung == "PH2.5":
            controld_before = gw.pid
            periods = gw.manager()["counters"]["periods"]
        row, took, after = fail_once(L, h, rung, i)
        e = gw.escalation()
        check(e["ladder at"] == rung, f"show escalation: the ladder at {rung}: {e['ladder at']}")
        check(prometheus_rung(gw) == rung, f"Prometheus: the rung {rung}: {prometheus_rung(gw)}")
        if marker:
            check(not os.path.exists(marker), f"PH2.0 left {marker}: the EAL runtime directory was not removed")
            check(e["counters"].get("eal_resets") == 1, f"one EAL reset: {e['counters']}")
        if rung == "PH2.5":
            c = gw.manager()["counters"]
            check(gw.pid == controld_before and os.path.exists(f"/proc/{gw.pid}"), "controld's pid kept by execv")
            check(c["gateway_starts"] == 1 and c["periods"] < periods + 100,
                  f"a new controld (its counters from zero) started gatewayd once: {c}")
            check(e["counters"].get("decided_ph2_5") == 1, f"the counts survived the re-execution: {e['counters']}")
            with open(gw.log) as f:
                said = f.read()
            check("refused: unknown_peer" not in said, "the agents were heard from the start of the new controld: "
                  + next((l for l in said.splitlines() if "unknown_peer" in l), ""))
        step(f"kill -9 -> {rung}: active again {took * 1000:.0f} ms after the kill, {row['pause']} s of it the "
             f"supervisor's pause for deaths in a row (ladder: up after {row['took']}); "
             f"{after['ok']}/{COUNT} carried on, slowest in-flight request {after['slowest_ms']} ms")
        times[rung] = (took, row["pause"])
    e = gw.escalation()
    check(e["next failure"].startswith("PH3.0 ") and "not implemented" not in e["next failure"],
          f"the next failure: PH3.0: {e['next failure']}")
    check(e["counters"].get("fallbacks") == 0, f"every rung applied as decided: {e['counters']}")
    h.call("send")
    again = h.call("collect 20")
    check(again["ok"] == COUNT, f"a round after the walk: {again}")
    capture.expect_none()
    return ("kill -9 four times walks " +
            ", ".join(f"{r} {t * 1000:.0f} ms ({p} s pause)" for r, (t, p) in times.items()) +
            f" (kill to active with the connections back; the pause is the supervisor's for deaths in a row); "
            f"{COUNT}/{COUNT} carried on at each, same socket, no RST")


def sc_esc_hung(L, step):
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    frozen = gw.gatewayd_pid()
    try:
        row, took, after = fail_once(L, h, "PH0.5", 1, how=signal.SIGSTOP)
    finally:
        if os.path.exists(f"/proc/{frozen}"):
            os.kill(frozen, signal.SIGCONT)
    check(row["failure"] == "hung" and "killed by signal 9" in row["detail"], f"told as hung, then killed: {row}")
    check(not os.path.exists(f"/proc/{frozen}"), f"the frozen gatewayd {frozen} is gone")
    # Detected at hung_after (500 ms) after its last answer (up to a health
    # question's interval before the stop), then a restart and restore.
    check(took < HUNG_AFTER_MS / 1000 + 5, f"recovered {took:.2f}s after the freeze")
    capture.expect_none()
    return (f"SIGSTOP of gatewayd: detected hung ({row['detail']}), killed and restarted (PH0.5); active again "
            f"{took * 1000:.0f} ms after the freeze (deadline {HUNG_AFTER_MS} ms); {after['ok']}/{COUNT} carried on, "
            f"slowest in-flight request {after['slowest_ms']} ms, no RST")


def backed_up(gw):
    """Waits for a backup of the running configuration; returns the file's text."""
    wait_for(lambda: "configuration backups (newest first):" in gw.mctl("show", "escalation"), 10,
             "a backup of the running configuration", interval=0.1)
    with open(gw.config) as f:
        return f.read()


def put_back(gw, good, bad):
    """Checks that the file is the backup `good` again, `bad` kept beside it."""
    with open(gw.config) as f:
        check(f.read() == good, "the configuration file is the backup again")
    with open(gw.config + ".replaced") as f:
        check(f.read() == bad, "the file it replaced kept as .replaced")


def sc_esc_config(L, step):
    """A configuration file changed on disk into one that loads but keeps
    gatewayd from starting (its port's interface does not exist): a kill -9
    of gatewayd takes PH2.5, which starts from that file and fails; PH3.0
    then puts the last good backup back and the gateway comes up with its
    connections."""
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    good = backed_up(gw)
    step("the running configuration backed up")
    bad = good.replace("iface=gw0", "iface=nosuch0")
    check(bad != good, "the test's config names iface=gw0")
    with open(gw.config, "w") as f:
        f.write(bad)
    with open(gw.log) as f:
        seen = len(f.read())
    # Recovery 1 (PH2.5) fails on the changed file; recovery 2 (PH3.0) comes up.
    _, took, after = fail_once(L, h, "PH3.0", 2)
    with open(gw.log) as f:
        said = f.read()[seen:]
    rows = gw.escalation()["history"]
    check(rows[-2]["applied"] == "PH2.5", f"PH2.5 first, from the changed file: {rows}")
    put_back(gw, good, bad)
    check(re.search(r"PH3\.0: \S+ replaced by backup \d+", said), f"the log says which backup: {said[-1500:]}")
    capture.expect_none()
    return (f"config changed to a port that cannot start, kill -9 of gatewayd: PH2.5 from that file failed "
            f"({rows[-2]['outcome']}), PH3.0 put the backup back; active again {took:.1f} s after the kill, "
            f"{after['ok']}/{COUNT} carried on, slowest in-flight request {after['slowest_ms']} ms, no RST")


def sc_esc_boot(L, step):
    """controld stopped (and its gatewayd with it), the configuration file
    broken on disk meanwhile, controld started again: the file does not
    load, so the last good backup is put in its place before anything
    else, and the gateway comes up with the nodes' connections."""
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    good = backed_up(gw)
    gw.stop()  # SIGTERM: controld stops its gatewayd, then itself
    bad = good.replace("clusters:", "clusters: [", 1)
    check(bad != good, "the test's config has a clusters section")
    with open(gw.config, "w") as f:
        f.write(bad)
    with open(gw.log) as f:
        seen = len(f.read())
    t0 = time.monotonic()
    h.call("send")  # in flight while no gateway runs
    gw.start()
    gw.wait_ready()
    took = time.monotonic() - t0
    after = h.call("collect 30")
    check(carried_on(after, COUNT), f"after the start from the backup: {after}")
    with open(gw.log) as f:
        said = f.read()[seen:]
    check(re.search(r"does not load \(.*\): backup \d+ .*installed in its place", said),
          f"the log says which backup replaced the file: {said[-1500:]}")
    put_back(gw, good, bad)
    origin = gw.escalation()["config"]
    check("installed at start in place of a file that did not load" in origin, f"show escalation: {origin}")
    capture.expect_none()
    return (f"controld stopped, its file broken on disk (YAML that does not parse), controld started again: the "
            f"last good backup installed before anything else, gateway active with its connections "
            f"{took:.1f} s after the start; {after['ok']}/{COUNT} carried on, no RST")


def kill_whole(gw):
    """kill -9 of controld, then of its gatewayd: the whole instance. Returns gatewayd's pid."""
    gwd = gw.gatewayd_pid()
    check(gwd, "no gatewayd under controld")
    os.kill(gw.pid, signal.SIGKILL)
    gw._proc.wait(timeout=5)
    os.kill(gwd, signal.SIGKILL)

    def gone():
        try:
            with open(f"/proc/{gwd}/stat") as f:
                return f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            return True
    wait_for(gone, 5, f"gatewayd {gwd} gone", interval=0.02)
    return gwd


def dead_instance_back(L, h, rung, entries):
    """The whole instance killed, controld started again: the ladder's row
    for it (instance_dead, `rung`), the time from the kill to active, the
    connections' answers, and what controld logged meanwhile."""
    gw = L.gw
    with open(gw.log) as f:
        seen = len(f.read())
    old = kill_whole(gw)
    t0 = time.monotonic()
    h.call("send")  # in flight while nothing runs
    gw.start()  # as systemd's Restart= would
    row = recovered(gw, old, entries)
    took = time.monotonic() - t0
    check(row["failure"] == "instance_dead" and row["decided"] == rung and row["applied"] == rung,
          f"the whole instance dead: {rung} decided and applied: {row}")
    after = h.call("collect 30")
    check(carried_on(after, COUNT), f"{rung}: the requests sent while nothing ran: {after}")
    with open(gw.log) as f:
        return row, took, after, f.read()[seen:]


def sc_esc_dead(L, step):
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    row, took, after, said = dead_instance_back(L, h, "PH2.5", 1)
    check("escalation: the previous controld ended without a stop (controld pid" in said and
          "PH2.5: this start of controld is that restart; it starts gatewayd" in said,
          f"the log says what the new controld found and did: {said[-1500:]}")
    check(gw.manager()["counters"].get("unclean_starts") == 1, f"one unclean start: {gw.manager()['counters']}")
    check(gw.escalation()["counters"].get("failures_instance_dead") == 1,
          f"show escalation counts it: {gw.escalation()['counters']}")
    step(f"controld and gatewayd killed together, controld started again: instance_dead -> PH2.5, active again "
         f"{took * 1000:.0f} ms after the kill; {after['ok']}/{COUNT} carried on")

    # Again, with the file broken on disk meanwhile (it loads, but gatewayd
    # cannot start on it): PH2.5's budget is spent, so PH3.0 puts the last
    # good backup back before anything starts.
    good = backed_up(gw)
    bad = good.replace("iface=gw0", "iface=nosuch0")
    check(bad != good, "the test's config names iface=gw0")
    with open(gw.config, "w") as f:
        f.write(bad)
    row2, took2, after2, said2 = dead_instance_back(L, h, "PH3.0", 2)
    put_back(gw, good, bad)
    check(re.search(r"PH3\.0: \S+ replaced by backup \d+", said2), f"the log says which backup: {said2[-1500:]}")
    check(gw.manager()["counters"].get("unclean_starts", 0) == 0,
          f"the controld PH3.0 executed again is not an unclean start: {gw.manager()['counters']}")
    capture.expect_none()
    return (f"controld and gatewayd killed together, controld started again: instance_dead, the short cut to "
            f"PH2.5 (that start), active again {took * 1000:.0f} ms after the kill; again with the file broken "
            f"on disk: PH3.0, the last good backup put back, active {took2:.1f} s after the kill; "
            f"{after['ok']}/{COUNT} and {after2['ok']}/{COUNT} carried on, no RST")


def sc_ctl_kill9(L, step):
    gw = L.gw
    h = hold(L, step)
    capture = ResetCapture(L.topo)
    gwd = gw.gatewayd_pid()
    check(gwd, "no gatewayd under controld")
    os.kill(gw.pid, signal.SIGKILL)
    gw._proc.wait(timeout=5)
    step(f"controld (pid {gw.pid}) killed; gatewayd {gwd} runs on")
    h.call("send")
    alone = h.call("collect 20")
    check(carried_on(alone, COUNT) and os.path.exists(f"/proc/{gwd}"),
          f"with no controld, gatewayd {gwd} forwards on: {alone}")

    with open(gw.log) as f:
        seen = len(f.read())
    t0 = time.monotonic()
    gw.start()  # a controld again, as systemd's Restart= would
    wait_for(lambda: "gateway_adoptions" in gw.mctl("manager", "show", check=False), 20, "controld answers",
             interval=0.1)
    took = time.monotonic() - t0
    counters = gw.manager()["counters"]
    with open(gw.log) as f:
        said = f.read()[seen:]
    check(counters.get("gateway_adoptions") == 1 and counters.get("gateway_starts") == 0,
          f"the new controld adopted gatewayd and started none: {counters}")
    check(gw.gatewayd_pid() == gwd and f"gatewayd (pid {gwd}) carried on while no controld ran: adopted" in said,
          f"the same gatewayd {gwd}, adopted: {said[-600:]}")
    wait_for(lambda: len(gw.manager()["nodes"]) == len(L.topo.nodes), 10, "controld read the adopted tables",
             interval=0.1)
    h.call("send")
    adopted = h.call("collect 20")
    check(carried_on(adopted, COUNT), f"after the adoption: {adopted}")
    step(f"controld started again: adopted gatewayd {gwd} {took * 1000:.0f} ms later, {COUNT} connections on")

    # The adopted gatewayd is supervised: its death is seen (pidfd) and recovered.
    row, back, after = fail_once(L, h, "PH0.5", 1)
    check("adopted" in row["detail"], f"the death of the adopted gatewayd, as the ladder tells it: {row}")
    capture.expect_none()
    return (f"kill -9 of controld: gatewayd {gwd} forwarded on alone ({alone['ok']}/{COUNT} answered); a new "
            f"controld adopted it in {took * 1000:.0f} ms (no restart, tables and connections kept, "
            f"{adopted['ok']}/{COUNT} answered); kill -9 of the adopted gatewayd: PH0.5, active again "
            f"{back * 1000:.0f} ms later, {after['ok']}/{COUNT} carried on, no RST")
