"""A node's failure with restorable and unrestorable connections at once
(requirements 6.4; docs/operations.md "A node fails").

    restore_mix     the node_restore bench with a second cluster port on
                    n3: 500 ONC RPC connections, each with a call in flight
                    (n3's service frozen), and 500 idle keep-alive HTTP
                    connections to nginx on port 8081, a port the mirror
                    parser knows no protocol of (TCP only: where a request
                    starts is not known, so it cannot be restored). n3 cut
                    off: every RPC call answered by n4 on its own socket,
                    every HTTP connection reset at once (its client sees
                    the RST, none hangs), and show restore says 500
                    restored and 500 not restored (no_request_framing).
"""

import time

from scenarios.helpers import check
from scenarios.recovery import open_held
from scenarios.restore import (FAILED, RPC_PORT, SPAN_RING, SPARE, Client, calls_in_flight, cut_off, restore_bench,
                               restore_rows, spare_restores_onto, start_rpc_servers)

RPC_CONNS = HTTP_CONNS = 500
TCP_PORT = 8081
BENCH = restore_bench(RPC_PORT, "rpc", more_ports=[TCP_PORT], conns=RPC_CONNS + HTTP_CONNS, span_ring=SPAN_RING)


def sc_restore_mixed(L, step):
    topo, gw = L.topo, L.gw
    servers = start_rpc_servers(topo)
    nginx = dict(zip((FAILED, SPARE), topo.start_nginx(port=TCP_PORT, nodes=[FAILED, SPARE])))
    spare_restores_onto(L, RPC_PORT)
    c = Client(topo, RPC_CONNS)
    c.ask("call 1")
    first = c.ask("collect 10")
    check(first["ok"] == RPC_CONNS and first["by_node"] == {FAILED: RPC_CONNS}, f"RPC answered by {FAILED}: {first}")
    h, opened = open_held(topo, TCP_PORT, HTTP_CONNS)
    check(set(opened["by_node"]) == {FAILED}, f"the HTTP connections on {FAILED}: {opened}")
    step(f"{RPC_CONNS} RPC connections and {HTTP_CONNS} keep-alive HTTP connections (port {TCP_PORT}, TCP only), "
         f"all on {FAILED}")
    restorable, why = calls_in_flight(L, servers[FAILED], c, RPC_CONNS)
    check(restorable == RPC_CONNS and why.get("no_request_framing") == HTTP_CONNS,
          f"show mirror plans: {restorable} restorable, not: {why}")
    step(f"a call in flight on each RPC connection: {restorable} restorable, not: {why}")

    h.start(f"idle 10 {HTTP_CONNS}")
    t_cut = time.monotonic()
    cut_off(topo, [servers[FAILED].pid, nginx[FAILED].pid])
    after = c.ask("collect 10")
    quiet = h.result(30)
    check(after["ok"] == RPC_CONNS and after["by_node"] == {SPARE: RPC_CONNS} and not after["errors"]
          and after["same_sockets"] and after["wrong_xid"] == 0,
          f"every RPC call in flight answered by {SPARE} on its own socket: {after}")
    check(quiet["reset"] == HTTP_CONNS and quiet["by_node"] == {FAILED: {"reset": HTTP_CONNS}},
          f"every HTTP client reset: {quiet}")
    shown = gw.mctl("show", "restore").splitlines()
    rows = restore_rows(shown)
    check(len(rows) == 1 and rows[0]["restored"] == str(RPC_CONNS) and rows[0]["moved"] == str(RPC_CONNS)
          and f"{HTTP_CONNS} no_request_framing" in rows[0]["not restorable"], f"show restore: {shown}")
    return (f"{FAILED} cut off with {RPC_CONNS} RPC calls in flight and {HTTP_CONNS} idle TCP-only connections: "
            f"all {RPC_CONNS} calls answered by {SPARE} on their own sockets (the last {after['last_s']:.2f}s after "
            f"the cut; restore {rows[0]['ms']} ms), all {HTTP_CONNS} HTTP clients reset (the slowest "
            f"{quiet['slowest_reset_ms']} ms after the cut), none hanging")
