"""A node found dead by the mirror alone (docs/operations.md, "A SPAN port
for the mirror parser", and "A node fails").

    mirror_dead   the node_restore bench with the agents' alive timeout at
                  2 s and manager.agents.mirror_silence at 100 ms; 50 RPC
                  connections to n3, each answered once. Then n3 hangs as a
                  whole host whose link stays up: nothing gets in or out of
                  its eth0 (tc), so its kernel acknowledges nothing and its
                  agent is silent. Every client sends a call; their kernels
                  retransmit it, and the SPAN port (n3's port on the bridge,
                  still up) copies those. The mirror shows n3 silent while its
                  clients retransmit, controld fails n3 on that long before
                  the agents' 2 s, and every client is reset.
"""

import time

from scenarios.helpers import check
from scenarios.restore import FAILED, RPC_PORT, Client, restore_bench, start_rpc_servers
from scenarios.span import mirror_nodes
from topology import wait_for

CONNS = 50
BENCH = restore_bench(RPC_PORT, "rpc", conns=CONNS)
BENCH["agent_keys"] = {"alive_timeout": "2s", "mirror_silence": "100ms"}


def hang(topo, node):
    """Nothing in or out of `node`'s eth0, its link up: what arrives is
    redirected to a veth that is down, what leaves meets a token bucket
    smaller than any frame (this kernel has tc's mirred, not its drop
    action or netem)."""
    ns = topo.ns(node)
    for cmd in (["ip", "link", "add", "name", "hang0", "type", "veth", "peer", "name", "hang1"],
                ["tc", "qdisc", "add", "dev", "eth0", "ingress"],
                ["tc", "filter", "add", "dev", "eth0", "parent", "ffff:", "u32", "match", "u32", "0", "0", "action",
                 "mirred", "egress", "redirect", "dev", "hang0"],
                ["tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", "8bit", "burst", "32", "limit", "32"]):
        r = topo.exec(ns, *cmd, check=False)
        check(r.returncode == 0, f"{' '.join(cmd)} in {node}: {r.stderr.strip()}")


def sc_mirror_dead(L, step):
    topo, gw = L.topo, L.gw
    start_rpc_servers(topo)
    c = Client(topo, CONNS)
    c.ask("call 1")
    first = c.ask("collect 5")
    check(first["ok"] == CONNS and first["by_node"] == {FAILED: CONNS}, f"{CONNS} calls answered by {FAILED}: {first}")
    ip = topo.node_ips[FAILED]
    row = wait_for(lambda: mirror_nodes(gw).get(ip), 5, f"{FAILED} in show mirror's nodes", interval=0.05)
    check(row["clients retransmitting for"] == "-", f"nobody retransmits to {FAILED} while it answers: {row}")
    step(f"{CONNS} RPC connections answered by {FAILED}; show mirror: {row}")

    hang(topo, FAILED)
    t0 = time.monotonic()
    c.ask("call 2")
    state = lambda: gw.clusters()[("tcp", RPC_PORT)]["nodes"][ip]["state"]  # noqa: E731
    failed = wait_for(lambda: state() == "failed", 5, f"{FAILED} failed", interval=0.01)
    found = (time.monotonic() - t0) * 1000
    check(failed, f"{FAILED} not failed")
    after = c.ask("collect 5")
    with open(gw.log) as f:
        said = [l for l in f.read().splitlines() if f"node {ip} failed" in l]
    check(said and "the mirror saw its clients retransmit to it for" in said[-1],
          f"controld failed {FAILED} on the mirror's word: {said[-2:]}")
    counters = gw.manager()["counters"]
    check(counters.get("nodes_failed_by_mirror") == 1, f"one node failed by the mirror: {counters}")
    check(found < 1500, f"{FAILED} failed {found:.0f} ms after the hang: the mirror should beat the agents' 2 s")
    resets = [e for e in after["errors"] if "reset" in e.lower()]
    check(after["ok"] == 0 and len(resets) == CONNS, f"every client reset, none answered or hanging: {after}")
    step(f"{FAILED} hung: failed {found:.0f} ms after the clients' calls ({said[-1].split(': ', 1)[-1][:120]}); "
         f"{len(resets)} clients reset, the slowest {after['error_ms']['max']} s into the collect")
    return (f"{FAILED} hung with its link up (nothing in or out): the mirror saw its {CONNS} clients retransmit with no "
            f"frame from it, controld failed it {found:.0f} ms after their calls (agents' alive timeout 2 s), every "
            f"client reset")
