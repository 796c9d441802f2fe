"""A failed node's state carried to its spare before its connections
(requirements 7.3; docs/operations.md "State backups").

    state_carry    the node_restore bench with manager.state_backups every
                   300 ms (the files in the test's directory), n3's agent
                   with --state-dir (a directory the test keeps changing: a
                   generation file rewritten every 50 ms and a 200 KiB
                   file in a subdirectory, four chunks on the wire), n4's
                   agent with --state-dir of its own (empty) beside
                   --restore-service. show backups lists n3, its spare n4,
                   backups taken and none failed, at most `keep` files on
                   disk, each with its header. 50 RPC connections with a
                   call in flight on each, then n3 cut off: n4's directory
                   holds n3's state as of its newest backup (the large file
                   byte for byte, a generation written less than a second
                   before the cut), show restore says n4 started from it,
                   and every call is answered by n4 on its own socket.
"""

import glob
import os
import threading
import time

from topology import wait_for

from gateway import parse_table
from scenarios.helpers import check
from scenarios.restore import (FAILED, RPC_PORT, SPARE, Client, calls_in_flight, check_restore_shown, cut_off,
                               restore_bench, restore_edits, spare_restores_onto, start_rpc_servers)

CONNS = 50
EVERY_MS = 300
KEEP = 3
BLOB = 200 * 1024


def state_edits(topo):
    """restore_edits' ports, and manager.state_backups in the test's directory."""
    section = (f"\nmanager:\n  state_backups: {{every: {EVERY_MS}ms, keep: {KEEP}, "
               f"dir: {os.path.join(topo.dir, 'states')}, timeout: 5s}}\n")
    return restore_edits([RPC_PORT])(topo) + [("\nmanager:\n", section)]


BENCH = {**restore_bench(RPC_PORT, "rpc"), "edits": state_edits, "agents": False}


class Generations:
    """Rewrites <dir>/generation with the next number every 50 ms (written
    beside, then renamed into place: a backup never sees half a file)."""

    def __init__(self, topo, state_dir):
        self.path = os.path.join(state_dir, "generation")
        self.tmp = os.path.join(topo.dir, "generation.tmp")
        self.n = 0
        self._stop = threading.Event()
        self._write()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _write(self):
        self.n += 1
        with open(self.tmp, "w") as f:
            f.write(f"generation {self.n}\n")
        os.rename(self.tmp, self.path)

    def _run(self):
        while not self._stop.wait(0.05):
            self._write()

    def stop(self):
        self._stop.set()
        self._thread.join()
        return self.n


def backups_row(gw, node_ip):
    """show backups' row of `node_ip`, and all it printed."""
    shown = gw.mctl("show", "backups").splitlines()
    rows = [r for r in parse_table([l for l in shown[1:] if l.strip() and not l.startswith("newest:")])
            if r["node"] == node_ip]
    return (rows[0] if rows else None), shown


def sc_state_restore(L, step):
    topo, gw = L.topo, L.gw
    dirs = {n: os.path.join(topo.dir, f"state-{n}") for n in (FAILED, SPARE)}
    for d in dirs.values():
        os.makedirs(d)
    os.makedirs(os.path.join(dirs[FAILED], "data"))
    blob = os.urandom(BLOB)
    with open(os.path.join(dirs[FAILED], "data", "blob.bin"), "wb") as f:
        f.write(blob)
    gens = Generations(topo, dirs[FAILED])
    working = [n for n in L.working if n != FAILED]
    L.agents.update(gw.start_agents(nodes=working))
    L.agents.update(gw.start_agents(nodes=[FAILED], extra=["--state-dir", dirs[FAILED]]))
    servers = start_rpc_servers(topo)
    spare_restores_onto(L, RPC_PORT, extra=["--state-dir", dirs[SPARE]])
    step(f"{FAILED}'s agent keeps {dirs[FAILED]} (a generation file rewritten every 50 ms, {BLOB} bytes in data/), "
         f"{SPARE}'s restores into its own")

    def taken(n):
        row, _ = backups_row(gw, L.ip(FAILED))
        return row if row and int(row["taken"]) >= n else None
    # A backup asked before n3's agent listened fails (connection refused);
    # from the first one taken on, none may.
    first = wait_for(lambda: taken(1), 10, f"a backup of {FAILED} taken")
    wait_for(lambda: taken(int(first["taken"]) + 3), 10, f"three more backups of {FAILED} taken")
    row, shown = backups_row(gw, L.ip(FAILED))
    check(shown[0].startswith(f"each working node's state every {EVERY_MS} ms, the last {KEEP} kept in ")
          and row["spare"] == L.ip(SPARE) and row["failed"] == first["failed"] and row["problem"] == "-"
          and int(row["bytes"]) > BLOB and 1 <= int(row["kept"]) <= KEEP, f"show backups: {shown}")
    other = [r for r in parse_table([l for l in shown[1:] if l.strip() and not l.startswith("newest:")])
             if r["node"] != L.ip(FAILED)]
    check(not other, f"only the node with a spare is backed up: {shown}")
    files = sorted(glob.glob(os.path.join(topo.dir, "states", L.ip(FAILED), "state-*.bin")))
    check(1 <= len(files) <= KEEP, f"{len(files)} state files kept, at most {KEEP}: {files}")
    for path in files:
        with open(path, "rb") as f:
            head = f.readline()
        check(head.startswith(b"# clustergate node state backup v1 bytes="), f"{path}: header {head[:80]!r}")
    step(f"show backups: {row['taken']} of {FAILED}'s states taken, none failed, the newest {row['bytes']} bytes, "
         f"{len(files)} files kept on disk")

    c = Client(topo, conns=CONNS)
    c.ask("call 1")
    first = c.ask("collect 5")
    check(first["ok"] == CONNS and first["by_node"] == {FAILED: CONNS} and not first["errors"],
          f"{CONNS} connections answered by {FAILED}: {first}")
    calls_in_flight(L, servers[FAILED], c, CONNS)
    step(f"{CONNS} connections to {FAILED}, a call in flight on each")

    cut_off(topo, [servers[FAILED].pid])
    last = gens.stop()
    after = c.ask("collect 5")
    check(after["ok"] == CONNS and after["by_node"] == {SPARE: CONNS} and not after["errors"] and after["same_sockets"],
          f"every call in flight answered by {SPARE} on its own socket: {after}")

    with open(os.path.join(dirs[SPARE], "data", "blob.bin"), "rb") as f:
        check(f.read() == blob, f"{SPARE}'s copy of data/blob.bin differs from {FAILED}'s")
    with open(os.path.join(dirs[SPARE], "generation")) as f:
        got = int(f.read().split()[1])
    # Backups every 300 ms, one taking some ms: the newest is well under a
    # second older than the cut, 20 generations of 50 ms.
    check(last - 20 <= got <= last, f"{SPARE} has generation {got}, {FAILED} wrote {last} before the cut")
    counts = check_restore_shown(L, CONNS, state_queries=True)  # its backup queries to n3 run all along
    shown = gw.mctl("show", "restore").splitlines()
    started = [l for l in shown if l.startswith(f"{L.ip(FAILED)}'s spare started from the state taken at ")]
    check(len(started) == 1 and ", restored in " in started[0], f"show restore: {shown}")
    # The spare's agent: the state restored first, then the connections.
    with open(L.agents[SPARE].log) as f:
        said = [l for l in f.read().splitlines() if " info state restore from " in l or " info restore from " in l]
    check(len(said) >= 2 and " info state restore from " in said[0]
          and all(" info restore from " in l for l in said[1:]), f"{SPARE}'s agent: {said}")
    m = gw.manager()["counters"]
    check(m.get("states_handed_over") == 1 and m.get("state_handovers_failed") == 0, f"controld's counters: {m}")
    return (f"{FAILED}'s state backed up every {EVERY_MS} ms ({row['bytes']} bytes); {FAILED} cut off with a call in "
            f"flight on {CONNS} connections: {SPARE} got the state (generation {got} of {last}, the large file "
            f"byte for byte) before the connections, all {CONNS} restored in {counts['last_spare_restore_ms']} ms "
            f"and answered by {SPARE} on their own sockets; show restore: {started[0].split(' from ', 1)[1]}")
