"""An NFSv3 file copy carried across the failure of its server node
(docs/operations.md "A node fails").

    nfs_restore   the node_restore bench with nfs-ganesha on n3 and on n4
                  (each with its own rpcbind, in a mount namespace of its
                  own), both exporting the same directory under the same
                  Export_Id, so that a file handle of n3's is one of n4's;
                  cluster ports 111, 20048 and 2049 on n3, 2049 followed by
                  the mirror parser as NFS; n4's agent restores port 2049
                  onto its ganesha. nfs-cp (libnfs-utils, not ours) copies
                  a 24 MiB file from the cluster address, through a link
                  slowed to 40 Mbit/s so that the copy takes seconds; a
                  third of the way through, n3's link is cut and its
                  ganesha killed. The copy must end with exit 0 and the
                  file's exact bytes (SHA-256), over the one NFS connection
                  it had (no SYN to port 2049 after the cut, no RST but the
                  one libnfs ends every connection with), and show restore
                  must have that connection restored.

                  The cut comes in the middle of a 1 MiB READ reply, and
                  n3 had sent bytes of it past the client's last ACK the
                  mirror saw (the ACKs to a node whose link is down are not
                  copied): the spare's agent has its ganesha answer the
                  READ again and puts those bytes in the repaired socket's
                  send queue as sent. Before it did, the client's ACK was
                  past everything the spare had sent, the spare ignored it,
                  and the copy hung at 8 MiB.
"""

import hashlib
import os
import subprocess
import time

from topology import CLIENT_IP, CLUSTER_IP, backlog_drops, wait_for

from scenarios.helpers import check
from scenarios.recovery import ResetCapture
from scenarios.restore import FAILED, SPARE, SPAN_RING, cut_off, restore_bench, restore_rows, spare_restores_onto
from scenarios.span import make_captures, mirror_counters, server_lab

NFS_PORT = 2049
SIZE = 24 << 20
RATE = "40mbit"
BACKLOG = 10_000  # frames (Topology.raise_host_backlog)
BENCH = restore_bench(NFS_PORT, "nfs", more_ports=(111, 20048), span_ring=SPAN_RING)


def start_ganesha(mc, topo, node, export):
    """rpcbind and ganesha on `node`, in a mount namespace of its own (an
    empty /run), exporting `export`; returns ganesha's process."""
    cl = server_lab(mc, topo)
    cl.server = topo.ns(node)
    # The holder of the mount namespace (make-captures' start_holder), under a name (and log) of its own.
    cl.holder = topo.spawn(cl.server, ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                                       "mount -t tmpfs -o mode=755,size=8m cgt-run /run && echo ready && exec sleep 3600"],
                           name=f"holder-{node}")
    wait_for(lambda: cl.holder.poll() is not None or "ready" in open(cl.holder.log).read(), 10,
             f"{node}'s mount namespace")
    check(cl.holder.poll() is None, f"unshare on {node} exited {cl.holder.returncode}: {open(cl.holder.log).read()}")
    g = os.path.join(topo.dir, f"ganesha-{node}")
    os.makedirs(os.path.join(g, "recovery"))
    conf = os.path.join(g, "ganesha.conf")
    with open(conf, "w") as f:  # bound to any address: the cluster address for clients, loopback for the agent
        f.write(mc.GANESHA_CONF.format(server="0.0.0.0", export=export, dir=g))
    cl.start_daemon(["rpcbind", "-f"], f"rpcbind-{node}", 111)
    log = os.path.join(g, "ganesha.log")
    try:
        return cl.start_daemon(["ganesha.nfsd", "-F", "-f", conf, "-L", log, "-p", os.path.join(g, "ganesha.pid"),
                                "-N", "NIV_EVENT"], f"ganesha-{node}", NFS_PORT)
    except Exception as e:
        tail = open(log).read()[-1500:] if os.path.exists(log) else "(no log)"
        raise AssertionError(f"ganesha on {node}: {e}; its log: {tail}") from None


def slow_copy(topo, out, size):
    """nfs-cp of the export's big.bin (`size` bytes) to `out`, through the
    client's link slowed to RATE (the bridge's port towards it, egress), so
    that the copy takes seconds and a cut comes in its middle; returns the
    running nfs-cp once a third is copied."""
    topo.exec(topo.lan, "tc", "qdisc", "add", "dev", "v-cl", "root", "tbf", "rate", RATE, "burst", "32kb",
              "latency", "400ms")
    cp = topo.spawn(topo.client, ["nfs-cp", f"nfs://{CLUSTER_IP}/export/big.bin?version=3", out], name="nfs-cp")
    wait_for(lambda: cp.poll() is not None or (os.path.exists(out) and os.path.getsize(out) >= size // 3), 30,
             "a third of the file copied")
    check(cp.poll() is None, f"nfs-cp ended before the cut: exit {cp.returncode}: {open(cp.log).read()[-300:]}")
    return cp


def losses(gw, drops0):
    """What the mirror lost, for a failure's message."""
    c = mirror_counters(gw)
    seen = {k: v for k, v in c.items() if v and k.startswith(("tcp.gaps", "tcp.gap_bytes", "dropped.", "span."))}
    return f"kernel input-queue drops during the scenario {backlog_drops() - drops0}; mirror counters {seen}"


def sc_nfs_restore(L, step):
    # A switch's SPAN port has buffers for a burst; here the copies of n3's frames wait in the kernel's
    # input queue, where the default 1,000 frames once dropped a copy of the READ stream (a gap: the
    # connection no longer restorable). The HTTP tests keep the default: wrk at full speed.
    L.topo.raise_host_backlog(BACKLOG)
    drops0 = backlog_drops()
    topo, gw = L.topo, L.gw
    mc = make_captures()
    export = os.path.join(topo.dir, "export")
    os.makedirs(export, exist_ok=True)
    os.chmod(topo.dir, 0o711)
    data = os.urandom(SIZE)
    with open(os.path.join(export, "big.bin"), "wb") as f:
        f.write(data)
    want = hashlib.sha256(data).hexdigest()
    ganesha = {n: start_ganesha(mc, topo, n, export) for n in (FAILED, SPARE)}
    spare_restores_onto(L, NFS_PORT)
    for port in (111, 20048):
        wait_for(lambda: all(r["mac"] != "unresolved"
                             for r in gw.clusters().get(("tcp", port), {}).get("nodes", {}).values()), 10,
                 f"{FAILED} resolved on port {port}")
    wait_for(lambda: "100005" in topo.exec(topo.client, "rpcinfo", "-p", CLUSTER_IP, check=False).stdout, 20,
             "MOUNT registered with n3's rpcbind, through the gateway")
    step(f"nfs-ganesha on {FAILED} and {SPARE}, one export; {SPARE}'s agent restores port {NFS_PORT} onto its own")

    out = os.path.join(topo.dir, "client-big.bin")
    cp = slow_copy(topo, out, SIZE)
    # From here on, no SYN (a reconnect) and no RST may pass the client's link.
    capture = ResetCapture(topo, f"tcp port {NFS_PORT} and tcp[tcpflags] & (tcp-rst|tcp-syn) != 0", "syn-rst")
    plans = gw.ctl("show", "mirror", "plans", L.ip(FAILED), "20")
    at_cut = os.path.getsize(out)
    step(f"nfs-cp under way ({at_cut >> 20} of {SIZE >> 20} MiB)")

    t_cut = time.monotonic()
    cut_off(topo, [ganesha[FAILED].pid])
    try:
        rc = cp.wait(timeout=30)  # about 5 s when carried on: a hang is reported within the scenario limit
    except subprocess.TimeoutExpired:
        rc = None
    took = time.monotonic() - t_cut
    got = hashlib.sha256(open(out, "rb").read()).hexdigest() if os.path.exists(out) else None
    shown = gw.mctl("show", "restore").splitlines()
    rows = restore_rows(shown)
    failed = rc != 0 or got != want
    check(not failed, f"nfs-cp across the failure: exit {rc}, sha256 {'right' if got == want else 'wrong'}, "
          f"{os.path.getsize(out) if os.path.exists(out) else 0} bytes of {SIZE}; log: {open(cp.log).read()[-400:]}; "
          f"show restore: {shown}; show mirror plans before the cut: {plans}; "
          f"SYN and RST since: {capture.stop()[:6] if failed else ''}; {losses(gw, drops0) if failed else ''}")
    # libnfs ends its connection with a RST of its own when the copy is done: that one, last, is allowed.
    syn_rst = capture.stop()
    client_end = f"{CLIENT_IP}."
    wrong = [l for i, l in enumerate(syn_rst)
             if "Flags [S" in l or not (i == len(syn_rst) - 1 and l.split()[2].startswith(client_end))]
    check(not wrong, f"{len(wrong)} SYN or RST segments on port {NFS_PORT} after the cut but libnfs' own last one: "
          f"{wrong[:4]}; show restore: {shown}; show mirror plans before the cut: {plans}")
    check(len(rows) == 1 and int(rows[0]["restored"]) >= 1, f"show restore: {shown}")
    return (f"nfs-cp of {SIZE >> 20} MiB from {FAILED}'s ganesha, cut off at {at_cut >> 20} MiB: the copy ended "
            f"{took:.1f} s later with exit 0 and the right SHA-256, from {SPARE}, on its one NFS connection (no SYN on "
            f"port {NFS_PORT}, no RST but libnfs' own at its end); show restore: {rows[0]['restored']} restored of {rows[0]['followed']} followed, "
            f"in {rows[0]['ms']} ms")
