"""A failed node's connections carried on by its spare, measured: the
node_restore topology (controld, gatewayd with a SPAN port copying n3's
link to its mirror parser, n4 the spare of n3, alive monitoring at 100 ms,
an ONC RPC service on both), N connections to n3 each with a call in
flight (n3's service frozen: its kernel acknowledges, nobody answers), then
n3's link cut and its service killed. Measured from the cut:

  restore       controld's restore: the plans from gatewayd, then the
                spare's repairs (show restore's "ms": all, plans + spare)
  per second    connections restored a second by the spare (its part)
  answered      each client's answer (p50, p99, the last): what the client
                saw, a stall and no error
  next          each client sends its next call as soon as its answer
                comes (a keep-alive client): from that answer to the next
                one's, which needs the client's entry moved to the spare

and the same failure with restoration off in the same run (the spare's
agent restores onto no service, so every connection is reset by the fail
mark): how long until each client has its reset (p50, p99, the last).

Used by scripts/bench (section "Restoration"); runnable alone:
    python3 test/bench/restoration.py --build build [--counts 10,1000,10000]
"""

import argparse
import json
import os
import re
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

from gateway import parse_table  # noqa: E402
from manager_lab import mlab  # noqa: E402
from scenarios.restore import (FAILED, RPC_PORT, SPAN_RING, SPARE, Client, calls_in_flight, cut_off, restore_bench,  # noqa: E402
                               spare_restores_onto, start_rpc_servers)
from topology import Topology, wait_for  # noqa: E402


def last_restore(gw):
    """show restore's row: (restored, not restored, all ms, plans ms, spare ms, why not restored)."""
    shown = gw.mctl("show", "restore").splitlines()
    rows = parse_table([l for l in shown[1:] if l.strip() and not l.startswith("ms:")])
    if len(rows) != 1:
        raise AssertionError(f"show restore: {shown}")
    m = re.fullmatch(r"(\d+) \((\d+) \+ (\d+)\)", rows[0]["ms"])
    return (int(rows[0]["restored"]), int(rows[0]["not restored"]), *(int(g) for g in m.groups()),
            rows[0]["why not restored"])


def measure(build, count, restore, log):
    """One failure of n3 with `count` calls in flight; restoration on or off."""
    options = {k: v for k, v in restore_bench(RPC_PORT, "rpc", conns=count, span_ring=SPAN_RING).items() if k != "bench"}
    with mlab(f"rs{'on' if restore else 'off'}{count}"[:12], build, log=log, **options) as L:
        topo, gw = L.topo, L.gw
        topo.sysctl(topo.client, "net.ipv4.ip_local_port_range", "1024 65535")
        servers = start_rpc_servers(topo)
        if restore:
            spare_restores_onto(L, RPC_PORT)
        else:  # the spare's agent answers, but restores onto no service
            L.agents.update(gw.start_agents(nodes=[SPARE]))
        wait_for(lambda: all(r["mac"] != "unresolved"
                             for r in gw.clusters().get(("tcp", RPC_PORT), {}).get("nodes", {}).values()), 10,
                 f"{FAILED} and its spare resolved")
        c = Client(topo, count)
        c.ask("call 1")
        first = c.ask("collect 60")
        if first["ok"] != count:
            raise AssertionError(f"{first['ok']} of {count} answered before the failure: {first['errors'][:3]}")
        calls_in_flight(L, servers[FAILED], c, count)
        cut_off(topo, [servers[FAILED].pid])
        after = c.ask("collect 60 chain")
        restored, not_restored, all_ms, plans_ms, spare_ms, why_not = last_restore(gw)
        return {"connections": count, "restore": restore, "restored": restored, "not_restored": not_restored, "why_not": why_not,
                "restore_ms": all_ms, "plans_ms": plans_ms, "spare_ms": spare_ms,
                "per_s": round(restored * 1000 / spare_ms) if restored and spare_ms else None,
                "answered": after["ok"], "errors": len(after["errors"]), "unanswered": after["unanswered"],
                "same_sockets": after["same_sockets"], "answer_ms": after["answer_ms"], "error_ms": after["error_ms"],
                "next_ok": after["next_ok"], "next_ms": after["next_ms"]}


def run(build, quick=False, log=print, counts=None):
    counts = counts or ([10, 1000] if quick else [10, 1000, 10000])
    out = []
    for n in counts:
        for restore in (True, False):
            try:
                out.append(measure(build, n, restore, log))
            except Exception as e:  # reported as not measured; the others stand
                out.append({"connections": n, "restore": restore, "error": f"{type(e).__name__}: {e}"})
            log(f"restoration {'on' if restore else 'off'} with {n}: {out[-1]}")
    return {"runs": out}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--counts", default="10,1000,10000", help="connection counts, comma-separated")
    a = ap.parse_args()
    Topology.sweep_stale(log=print)
    r = run(os.path.abspath(a.build), counts=[int(c) for c in a.counts.split(",")], log=lambda m: print(m, flush=True))
    print(json.dumps(r))


if __name__ == "__main__":
    main()
