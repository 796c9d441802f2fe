"""A second failure during a restoration: the spare fails while it takes
the failed node's connections (requirements 6.4, 7.2; docs/operations.md
"A node fails").

    restore_2nd    the node_restore bench with 1,000 connections, each with
                   a call in flight on n3; n3 cut off, and as soon as
                   controld has found it failed (its log), n4's link is
                   cut too, in the middle of the restore. controld finds n4
                   failed, ends the restore onto it at once (show restore:
                   the spare failed during the restore), marks n3 failed,
                   and every client is answered or reset: none left
                   hanging, well before the clients' own timeouts.
"""

import time

from scenarios.helpers import check
from scenarios.restore import (FAILED, RPC_PORT, SPAN_RING, SPARE, Client, calls_in_flight, cut_off, restore_bench,
                               restore_rows, spare_restores_onto, start_rpc_servers)

CONNS = 1000
BENCH = restore_bench(RPC_PORT, "rpc", conns=CONNS, span_ring=SPAN_RING)


def sc_restore_second(L, step):
    topo, gw = L.topo, L.gw
    servers = start_rpc_servers(topo)
    spare_restores_onto(L, RPC_PORT)
    c = Client(topo, conns=CONNS)
    c.ask("call 1")
    first = c.ask("collect 10")
    check(first["ok"] == CONNS and first["by_node"] == {FAILED: CONNS}, f"{CONNS} connections answered by {FAILED}: "
          f"{ {k: v for k, v in first.items() if k != 'errors'} }, errors {first['errors'][:3]}")
    restorable, why = calls_in_flight(L, servers[FAILED], c, CONNS)
    step(f"{CONNS} connections to {FAILED}, a call in flight on each: {restorable} restorable, not: {why}")

    t_cut = time.monotonic()
    cut_off(topo, [servers[FAILED].pid])
    needle = f"node {L.ip(FAILED)} failed"
    while needle not in open(gw.log).read():
        check(time.monotonic() - t_cut < 5, f"{FAILED} not found failed 5 s after its cut")
        time.sleep(0.005)
    found_ms = (time.monotonic() - t_cut) * 1000
    topo.exec(topo.ns(SPARE), "ip", "link", "set", "eth0", "down")
    spare_cut_ms = (time.monotonic() - t_cut) * 1000
    step(f"{FAILED} cut off, found failed {found_ms:.0f} ms later; {SPARE}'s link cut {spare_cut_ms:.0f} ms after "
         f"the first cut, in the middle of the restore")

    after = c.ask("collect 20")
    took = time.monotonic() - t_cut
    check(after["unanswered"] == 0 and after["ok"] + len(after["errors"]) == CONNS and after["wrong_xid"] == 0,
          f"every client answered or reset, none hanging: {after['unanswered']} unanswered, {after['ok']} answered, "
          f"{len(after['errors'])} errors ({after['errors'][:3]}), {after['wrong_xid']} wrong answers")
    check(after["error_ms"]["max"] is not None and after["error_ms"]["max"] < 10_000,
          f"the last reset {after['error_ms']['max']} ms after the collect began")

    shown = gw.mctl("show", "restore").splitlines()
    rows = restore_rows(shown)
    check(len(rows) == 1 and rows[0]["node"] == L.ip(FAILED) and rows[0]["spare"] == L.ip(SPARE)
          and f"the spare {L.ip(SPARE)} failed during the restore" in rows[0]["why not restored"]
          and int(rows[0]["restored"]) < CONNS, f"show restore: {shown}")
    m = gw.manager()["counters"]
    check(m.get("nodes_failed") == 2, f"controld counted {m.get('nodes_failed')} failed nodes, 2 expected")
    logged = [l for l in open(gw.log).read().splitlines() if "while it took a failed node's connections" in l]
    check(len(logged) == 1 and L.ip(SPARE) in logged[0], f"controld's log: {logged}")
    return (f"{FAILED} cut off with a call in flight on {CONNS} connections, {SPARE} cut off {spare_cut_ms:.0f} ms "
            f"later during the restore: the restore onto it ended when it was found failed ({rows[0]['restored']} "
            f"restored there before), and every client answered ({after['ok']}) or reset ({len(after['errors'])}), "
            f"the last reset {after['error_ms']['max']} ms into the wait, none hanging ({took:.1f}s in all)")
