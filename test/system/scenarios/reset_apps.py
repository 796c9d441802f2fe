"""A node's failure with no spare: its NFS, SMB and HTTP clients reset at
once, and each one's next connection served by another node (requirements
6.4; docs/operations.md "A node fails").

    reset_apps   controld with alive monitoring (100 ms), n3's bridge port
                 copied to the SPAN port and followed by the mirror parser
                 (2049 as NFS, 445 as SMB), no spare. nfs-ganesha and samba
                 (not ours) on n3 and n2, each pair sharing one directory;
                 the NFS and SMB cluster ports on n3 alone while the
                 clients connect, then n2 added to them. On the client:
                 nfs-cp (libnfs-utils) copying a file through a link slowed
                 to 40 Mbit/s, smbclient holding a session (its `ls`
                 answered), and keep-alive HTTP connections to nginx on
                 every node. n3's link cut and its servers killed: each of
                 n3's connections must see a RST from the cluster address
                 on the client's link within 100 ms of controld's mark;
                 the other nodes' HTTP connections untouched and answered;
                 nfs-cp's reconnect (libnfs reconnects by itself) answered
                 by the cluster address, and a new nfs-cp copying the file
                 from n2 with its exact bytes (libnfs 4.0.0 cannot finish a
                 copy across a reconnect: below); the held smbclient's next
                 command failing at once and a new smbclient fetching a file
                 from n2; new HTTP connections avoiding n3.
"""

import hashlib
import os

from topology import CLUSTER_IP, wait_for

from scenarios.helpers import check
from scenarios.node_failure import by_alive_monitor, rst_times
from scenarios.recovery import PORT as HTTP_PORT, ResetCapture, hold_connections, open_held
from scenarios.restore import FAILED, SPAN_RING, cut_off, restore_bench
from scenarios.restore_nfs import BACKLOG, NFS_PORT, slow_copy, start_ganesha
from scenarios.restore_smb import SMB_PORT, client_conf, hold_session, next_command_fails, smbd_pids, start_samba, tx_bytes
from scenarios.span import make_captures, mirror_plans

OTHER = "n2"             # the node the NFS and SMB ports get once the clients are on n3
RPC_PORTS = (111, 20048)  # rpcbind's and MOUNT's, beside NFS
HTTP_CONNS = 60
SIZE = 12 << 20          # about 2.5 s at 40 Mbit/s: the cut comes in the copy's middle
FILE = "r8k.bin"
BENCH = restore_bench(NFS_PORT, "nfs", more_ports=(*RPC_PORTS, SMB_PORT), span_ring=SPAN_RING, spares=0,
                      spoken={SMB_PORT: "smb"})


def resolved(gw, ports):
    return all(r["mac"] != "unresolved" for p in ports
               for r in gw.clusters().get(("tcp", p), {}).get("nodes", {}).values())


def sc_reset_apps(L, step):
    topo, gw = L.topo, L.gw
    topo.raise_host_backlog(BACKLOG)  # the SPAN copies of the NFS stream (restore_nfs.py)
    mc = make_captures()
    os.chmod(topo.dir, 0o711)
    export, share = os.path.join(topo.dir, "export"), os.path.join(topo.dir, "share")
    os.makedirs(export, exist_ok=True)
    data = os.urandom(SIZE)
    with open(os.path.join(export, "big.bin"), "wb") as f:
        f.write(data)
    small = mc.content(FILE, 8 << 10)
    mc.put(os.path.join(share, FILE), small)
    ganesha = {n: start_ganesha(mc, topo, n, export) for n in (FAILED, OTHER)}
    for n in (FAILED, OTHER):
        start_samba(topo, mc, n, share)
    ports = (NFS_PORT, *RPC_PORTS, SMB_PORT)
    wait_for(lambda: resolved(gw, ports), 10, f"{FAILED} resolved on ports {ports}")
    wait_for(lambda: "100005" in topo.exec(topo.client, "rpcinfo", "-p", CLUSTER_IP, check=False).stdout, 20,
             "MOUNT registered with n3's rpcbind, through the gateway")
    step(f"nfs-ganesha and samba on {FAILED} and {OTHER}; ports {ports} on {FAILED} alone")

    h, opened = hold_connections(L, HTTP_CONNS, port=HTTP_PORT)
    lost_http = opened["by_node"][FAILED]
    step(f"{HTTP_CONNS} keep-alive HTTP connections: {opened['by_node']}")

    conf = client_conf(topo, mc)
    smb_argv = ["smbclient", f"//{CLUSTER_IP}/share", "-s", conf, "-U", f"{mc.SMB_USER}%{mc.SMB_PASSWORD}"]
    held = hold_session(topo, smb_argv)
    wait_for(lambda: FILE in open(held.log).read()
             and mirror_plans(gw, L.ip(FAILED), 8)[1].get("session_state") == 1, 10,
             "the held SMB session's ls answered, the session followed")

    out = os.path.join(topo.dir, "client-big.bin")
    cp = slow_copy(topo, out, SIZE)
    for p in ports:
        gw.mctl("add", "node", CLUSTER_IP, "tcp", str(p), L.ip(OTHER))
    wait_for(lambda: resolved(gw, ports) and all(
        L.ip(OTHER) in gw.clusters()[("tcp", p)]["nodes"] for p in ports), 10, f"{OTHER} added to ports {ports}")
    at_cut = os.path.getsize(out)
    # nfs-cp's connection to n3 (libnfs' later ones may see resets of their own, from n2).
    nfs_conns = [".".join(l.split()[2].rsplit(":", 1)) for l in topo.exec(topo.client, "ss", "-Htn", "state", "established",
                                                  f"dst {CLUSTER_IP}:{NFS_PORT}").stdout.splitlines()]
    check(len(nfs_conns) == 1, f"nfs-cp's connections to port {NFS_PORT}: {nfs_conns}")
    step(f"smbclient holds a session, nfs-cp under way ({at_cut >> 20} of {SIZE >> 20} MiB); {OTHER} added")

    capture = ResetCapture(topo, "tcp[tcpflags] & (tcp-rst|tcp-syn) != 0", name="rst-syn")
    with open(os.path.join(topo.dir, f"nginx-{FAILED}-{HTTP_PORT}", "nginx.pid")) as f:
        nginx = int(f.read())
    sent_before = tx_bytes(topo, OTHER)
    cut_off(topo, [ganesha[FAILED].pid, *smbd_pids(topo, FAILED), nginx])
    # The slow link was there to catch the copy in its middle; its queue (what n3 sent before the cut,
    # hundreds of KB) would hold the resets back by tens of ms: the link at full speed again, that
    # queue dropped, before the node is found failed.
    topo.exec(topo.lan, "tc", "qdisc", "del", "dev", "v-cl", "root")
    found = {}
    marked_at, how = by_alive_monitor(L, found)()
    step(f"{FAILED} cut off: {how}")

    quiet = h.call(f"idle 5 {lost_http}")
    by = quiet["by_node"]
    check(by.get(FAILED) == {"reset": lost_http}, f"{FAILED}'s {lost_http} idle HTTP clients reset: {by}")
    check(all(by[n] == {"quiet": opened["by_node"][n]} for n in by if n != FAILED), f"the others untouched: {by}")

    smb_failed_in, _ = next_command_fails(held)

    # libnfs reconnects by itself, at once; but 4.0.0 (Debian 12's) keeps the
    # half-read reply record of the old connection across its reconnect and
    # reads the new stream as its rest, so it takes garbage for a record
    # marker and reconnects again, for ever (it never resets its input
    # position in rpc_reconnect_requeue). Its reconnect is the client's next
    # connection here; a new nfs-cp, its retry, must then copy the file.
    def reconnected():
        seen = [l for l in capture.lines("-tt") if f".{NFS_PORT}" in l]
        rst = [i for i, l in enumerate(seen) if f"{CLUSTER_IP}.{NFS_PORT} >" in l and "Flags [R" in l]
        return rst and any("Flags [S.]" in l and f"{CLUSTER_IP}.{NFS_PORT} >" in l for l in seen[rst[0]:])
    wait_for(reconnected, 10, "nfs-cp's RST, then its reconnect answered by the cluster address")
    cp.kill()
    retry = os.path.join(topo.dir, "client-retry.bin")
    r = topo.exec(topo.client, "nfs-cp", f"nfs://{CLUSTER_IP}/export/big.bin?version=3", retry, check=False,
                  timeout=30)
    got = hashlib.sha256(open(retry, "rb").read()).hexdigest() if os.path.exists(retry) else None
    want = hashlib.sha256(data).hexdigest()
    check(r.returncode == 0 and got == want, f"nfs-cp again: exit {r.returncode}, sha256 "
          f"{'right' if got == want else 'wrong' if got else 'none'}: {r.stdout} {r.stderr}")
    served = tx_bytes(topo, OTHER) - sent_before
    check(served > SIZE, f"{OTHER} sent {served} bytes since the cut: not the {SIZE} of the file")

    lines = capture.stop("-tt")
    rst = {port: rst_times(lines, port) for port in (HTTP_PORT, SMB_PORT, NFS_PORT)}
    rst[NFS_PORT] = {c: t for c, t in rst[NFS_PORT].items() if c in nfs_conns}
    delays = {port: sorted((t - marked_at) * 1000 for t in r.values()) for port, r in rst.items()}
    seen = {port: (len(d), f"{d[-1]:.1f} ms" if d else "-") for port, d in delays.items()}
    check(len(rst[HTTP_PORT]) == lost_http and len(rst[SMB_PORT]) == 1 and len(rst[NFS_PORT]) == 1,
          f"a RST from the cluster address for each of {FAILED}'s connections on the client's link: "
          f"(count, slowest after the mark) by port {seen}")
    slowest = max(d[-1] for d in delays.values())
    check(slowest < 100, f"each RST within 100 ms of the mark: by port {seen}")
    check(min(d[0] for d in delays.values()) > -2, f"a RST before the mark: the test's clocks disagree: {seen}")
    step(f"RSTs (count, slowest after the mark) by port {seen}; nfs-cp reconnected; a new one copied the file")

    copy = os.path.join(topo.dir, "smb-client", FILE)
    before = tx_bytes(topo, OTHER)
    r = topo.exec(topo.client, *smb_argv, "-c", f"get {FILE} {copy}", check=False)
    check(r.returncode == 0 and tx_bytes(topo, OTHER) - before > len(small),
          f"smbclient again, from {OTHER}: exit {r.returncode}: {r.stdout} {r.stderr}")
    with open(copy, "rb") as f:
        check(f.read() == small, f"{FILE} fetched again differs from the share's")

    h.call("send")
    after = h.call("collect 10")
    check(after["wrong_node"] == 0 and all(after["by_node"][n] == {"ok": opened["by_node"][n]}
                                           for n in after["by_node"] if n != FAILED), f"the others answered: {after}")
    _, reopened = open_held(topo, HTTP_PORT, lost_http)
    check(FAILED not in reopened["by_node"], f"the reset HTTP clients' new connections: {reopened['by_node']}")
    return (f"{FAILED} cut off with nfs-cp at {at_cut >> 20} of {SIZE >> 20} MiB, a held SMB session and "
            f"{lost_http} of {HTTP_CONNS} HTTP connections: found failed {found['ms']:.0f} ms later; RSTs on the "
            f"client's link, (count, slowest after the mark) by port {seen}; nfs-cp reconnected at once, and a "
            f"new nfs-cp copied the file from {OTHER} with the right bytes; the held smbclient's next command failed in {smb_failed_in:.0f} ms and a "
            f"new one fetched {FILE} from {OTHER}; the other {HTTP_CONNS - lost_http} HTTP connections answered; "
            f"new ones went to {reopened['by_node']}")
