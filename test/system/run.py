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

This file is the runner; the scenarios are in scenarios/, by theme.
"""

import argparse
import os
import signal
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import topology  # noqa: E402
from gateway import CommandError, lab, preflight, sweep_stale  # noqa: E402
from manager_lab import mlab, pair_lab  # noqa: E402
from scenarios.escalation import (SUPERVISION_CONFIG, SUPERVISION_HUNG, SUPERVISION_WALK, sc_ctl_kill9, sc_esc_dead,  # noqa: E402
                                  sc_esc_boot, sc_esc_config, sc_esc_hung, sc_esc_walk)
from scenarios.frames import sc_arp_icmp, sc_malformed  # noqa: E402
from scenarios.mirror_dead import BENCH as MIRROR_DEAD_BENCH, sc_mirror_dead  # noqa: E402
from scenarios.mirror import sc_mirror_takeover  # noqa: E402
from scenarios.node_failure import sc_alive_stall, sc_node_dead, sc_node_failed, sc_node_spare  # noqa: E402
from scenarios.restore import BENCH as RESTORE_BENCH, sc_node_restore  # noqa: E402
from scenarios.restore_second import BENCH as SECOND_FAILURE_BENCH, sc_restore_second  # noqa: E402
from scenarios.restore_state import BENCH as STATE_RESTORE_BENCH, sc_state_restore  # noqa: E402
from scenarios.restore_http import BENCH as HTTP_RESTORE_BENCH, LOAD_BENCH as HTTP_LOAD_BENCH, sc_http_restore, sc_http_restore_load  # noqa: E402,E501
from scenarios.restore_mixed import BENCH as MIXED_RESTORE_BENCH, sc_restore_mixed  # noqa: E402
from scenarios.restore_smb import BENCH as SMB_RESET_BENCH, sc_smb_reset  # noqa: E402
from scenarios.reset_apps import BENCH as RESET_APPS_BENCH, sc_reset_apps  # noqa: E402
from scenarios.reset_many import BENCH as RESET_MANY_BENCH, sc_reset_many  # noqa: E402
from scenarios.restore_nfs import BENCH as NFS_RESTORE_BENCH, sc_nfs_restore  # noqa: E402
from scenarios.manager import rule_now, sc_mgr_adaptive, sc_mgr_agents, sc_mgr_probe, sc_mgr_restart  # noqa: E402
from scenarios.operator_tools import sc_console, sc_tools  # noqa: E402
from scenarios.heal import SUPERVISION_HEAL, sc_esc_heal, sc_pair_heal  # noqa: E402
from scenarios.pair import (sc_pair_fence, sc_pair_forged, sc_pair_freeze, sc_pair_kill, sc_pair_mirror,  # noqa: E402
                            sc_pair_switch, sc_pair_unheard)
from scenarios.recovery import sc_kill9_lost, sc_restore_kill9  # noqa: E402
from scenarios.routing import sc_drain, sc_long_lived, sc_spread, sc_udp  # noqa: E402
from scenarios.pair_flows import memif_bench, sc_pair_flows  # noqa: E402
from scenarios.span import sc_span  # noqa: E402
from scenarios.terminator import BENCH as TERMINATOR_BENCH, sc_term_report  # noqa: E402
from topology import Topology  # noqa: E402

SCENARIO_LIMIT_S = 90        # a scenario that runs longer than this has hung


class Steps:
    """What a scenario did so far, printed when it fails."""

    def __init__(self):
        self.lines = []
        self.t0 = time.monotonic()

    def __call__(self, text):
        self.lines.append(f"{time.monotonic() - self.t0:6.2f}s  {text}")


# name -> (function, lab options)
SCENARIOS = {
    "spread": (sc_spread, {}),
    "long_lived": (sc_long_lived, {}),
    "malformed": (sc_malformed, {}),
    "arp_icmp": (sc_arp_icmp, {}),
    "udp": (sc_udp, {}),
    "console": (sc_console, {"interactive": True, "client": False}),
    "drain": (sc_drain, {}),
    "tools": (sc_tools, {}),
    "mirror": (sc_mirror_takeover, {}),
    "span": (sc_span, {}),
    "mgr_adaptive": (sc_mgr_adaptive, {"bench": "managed"}),
    "mgr_probe": (sc_mgr_probe, {"bench": "managed"}),
    "mgr_restart": (sc_mgr_restart, {"bench": "managed"}),
    "mgr_agents": (sc_mgr_agents, {"bench": "managed", "manager_lines": [
        rule_now,
        lambda: "  metrics: [{name: queue, command: 'echo 2', interval: 300ms, timeout: 200ms, importance: 0.5}]"]}),
    "kill9_conns": (sc_restore_kill9, {"bench": "managed"}),
    "kill9_lost": (sc_kill9_lost, {"bench": "managed"}),
    "node_failed": (sc_node_failed, {"bench": "managed"}),
    "node_dead": (sc_node_dead, {"bench": "managed", "agent_keys": {"alive_timeout": "100ms"}}),
    "alive_stall": (sc_alive_stall, {"bench": "managed", "agent_keys": {"alive_timeout": "100ms"}}),
    "node_spare": (sc_node_spare, {"bench": "managed", "agent_keys": {"alive_timeout": "100ms"}, "spares": 1}),
    "term_report": (sc_term_report, TERMINATOR_BENCH),
    "node_restore": (sc_node_restore, RESTORE_BENCH),
    "http_restore": (sc_http_restore, HTTP_RESTORE_BENCH),
    "state_carry": (sc_state_restore, STATE_RESTORE_BENCH),
    "restore_2nd": (sc_restore_second, SECOND_FAILURE_BENCH),
    "http_load": (sc_http_restore_load, HTTP_LOAD_BENCH),
    "restore_mix": (sc_restore_mixed, MIXED_RESTORE_BENCH),
    "smb_reset": (sc_smb_reset, SMB_RESET_BENCH),
    "reset_apps": (sc_reset_apps, RESET_APPS_BENCH),
    "reset_many": (sc_reset_many, RESET_MANY_BENCH),
    "nfs_restore": (sc_nfs_restore, NFS_RESTORE_BENCH),
    "mirror_dead": (sc_mirror_dead, MIRROR_DEAD_BENCH),
    "esc_walk": (sc_esc_walk, {"bench": "managed", "supervision_lines": SUPERVISION_WALK}),
    "esc_hung": (sc_esc_hung, {"bench": "managed", "supervision_lines": SUPERVISION_HUNG}),
    "esc_config": (sc_esc_config, {"bench": "managed", "supervision_lines": SUPERVISION_CONFIG}),
    "esc_boot": (sc_esc_boot, {"bench": "managed", "supervision_lines": SUPERVISION_CONFIG}),
    "esc_dead": (sc_esc_dead, {"bench": "managed", "supervision_lines": SUPERVISION_CONFIG}),
    "ctl_kill9": (sc_ctl_kill9, {"bench": "managed"}),
    "pair_kill": (sc_pair_kill, {"bench": "pair"}),
    "pair_freeze": (sc_pair_freeze, {"bench": "pair"}),
    "pair_fence": (sc_pair_fence, {"bench": "pair"}),
    "pair_switch": (sc_pair_switch, {"bench": "pair"}),
    "pair_forged": (sc_pair_forged, {"bench": "pair"}),
    "pair_mirror": (sc_pair_mirror, {"bench": "pair", "mirror": "state_changes"}),
    "pair_unheard": (sc_pair_unheard, {"bench": "pair", "mirror": "state_changes"}),
    "pair_heal": (sc_pair_heal, {"bench": "pair", "pool": True}),
    "esc_heal": (sc_esc_heal, {"bench": "pair", "pool": "3s", "supervision_lines": SUPERVISION_HEAL}),
    "pair_flows": (sc_pair_flows, {"bench": "memif"}),
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
    kind = options.pop("bench", None)
    if kind == "managed":
        bench = mlab
        options["manager_lines"] = [make() for make in options.get("manager_lines", [])]
    elif kind == "pair":
        bench = pair_lab
    elif kind == "memif":
        bench = memif_bench
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
