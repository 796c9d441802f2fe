"""Thousands of a failed node's clients, each waiting for an answer, all
reset at once (docs/operations.md, "A node fails").

    reset_many   the node_restore topology, but the spare's agent carries
                 no connection on: 4,000 connections to n3, a call in
                 flight on each (n3's service frozen), then n3's link cut.
                 Each client sends nothing more, so only the gateway's
                 tickle draws the segment that gets its reset. Every one of
                 the 4,000 must see its reset (an error on its socket)
                 within 10 s of the cut, and none may be left waiting.
                 With the tickles unpaced (64 a loop turn against the
                 route job's bursts of 32), the clients' answers overflowed
                 af_packet's ring of 512 frames and about 45% of 10,000
                 clients were never reset.
"""

from scenarios.helpers import check
from scenarios.restore import (FAILED, RPC_PORT, SPAN_RING, SPARE, Client, calls_in_flight, cut_off, restore_bench,
                               start_rpc_servers)
from topology import wait_for

CONNS = 4000
BENCH = restore_bench(RPC_PORT, "rpc", conns=CONNS, span_ring=SPAN_RING)


def sc_reset_many(L, step):
    topo, gw = L.topo, L.gw
    topo.sysctl(topo.client, "net.ipv4.ip_local_port_range", "1024 65535")
    servers = start_rpc_servers(topo)
    L.agents.update(gw.start_agents(nodes=[SPARE]))  # no --restore-service: it carries nothing on
    wait_for(lambda: all(r["mac"] != "unresolved"
                         for r in gw.clusters().get(("tcp", RPC_PORT), {}).get("nodes", {}).values()), 10,
             f"{FAILED} and its spare resolved")
    c = Client(topo, CONNS)
    c.ask("call 1")
    first = c.ask("collect 30")
    check(first["ok"] == CONNS and not first["errors"], f"{CONNS} connections answered by {FAILED}: "
                                                        f"{first['ok']}, {first['errors'][:3]}")
    calls_in_flight(L, servers[FAILED], c, CONNS)
    step(f"{CONNS} connections to {FAILED}, a call in flight on each")

    cut_off(topo, [servers[FAILED].pid])
    after = c.ask("collect 10")
    control = gw.stats()["control"]
    seen = (f"{len(after['errors'])} reset, {after['unanswered']} still waiting, {after['ok']} answered; gatewayd "
            f"sent {control.get('tickles_sent')} tickles ({control.get('tickles_resent')} again) and "
            f"{control.get('tcp_resets_sent')} resets")
    check(after["unanswered"] == 0 and after["ok"] == 0 and len(after["errors"]) == CONNS, f"each client reset: {seen}")
    check(control.get("tcp_resets_sent") == CONNS, f"one reset per connection: {seen}")
    check(control.get("tickles_sent") - control.get("tickles_resent") == CONNS, f"one first tickle each: {seen}")
    return (f"{FAILED} cut off with a call in flight on each of {CONNS} connections, its spare carrying none on: "
            f"{seen}; the resets {after['error_ms']['p50']} ms (p50) and {after['error_ms']['max']} ms (last) after "
            f"the cut")
