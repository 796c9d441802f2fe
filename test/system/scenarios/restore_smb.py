"""An SMB2 session of a failed node: reset at once, and the client's retry
served by the spare (requirements 6.4; docs/operations.md "A node fails").

    smb_reset   the node_restore bench (n4 the spare of n3, n3's port
                copied to the SPAN port, alive monitoring), cluster port 445
                on n3, and samba (not ours) on n3 and on n4, sharing one
                directory. smbclient (not ours) holds a session open to n3
                (its `ls` answered). n3's link is cut and its smbd killed:
                the session's state lived only in n3 (SMB2 without durable
                handles), so the mirror parser's plan is session_state and
                the connection is not restored but reset at once: an RST on
                the client's link within a fraction of a second of the
                mark, the held smbclient's next command fails with a
                connection error (no hang), and smbclient run again (the
                client's retry) lists the share and fetches a file from n4
                with the right bytes.
"""

import os
import subprocess
import time

from topology import CLUSTER_IP, wait_for

from scenarios.helpers import check
from scenarios.recovery import ResetCapture
from scenarios.restore import FAILED, SPARE, cut_off, restore_bench, restore_rows
from scenarios.span import make_captures, mirror_plans

SMB_PORT = 445
BENCH = restore_bench(SMB_PORT, "smb")
FILE = "r8k.bin"


def start_samba(topo, mc, node, share):
    """smbd on `node`, bound to the cluster address, its state in a
    directory of its own; the user in its private passdb."""
    s = os.path.join(topo.dir, f"samba-{node}")
    for d in ("private", "lock", "state", "cache", "run", "ncalrpc", "binddns", "log"):
        os.makedirs(os.path.join(s, d))
    conf = os.path.join(s, "smb.conf")
    with open(conf, "w") as f:
        f.write(mc.SMB_CONF.format(dir=s, share=share, server=CLUSTER_IP))
    topo.exec(topo.ns(node), "smbpasswd", "-c", conf, "-a", "-s", mc.SMB_USER,
              input=f"{mc.SMB_PASSWORD}\n{mc.SMB_PASSWORD}\n")
    # Not a session leader: smbd makes a session of its own (CaptureLab's way).
    p = mc.CaptureLab.spawn_in_our_session(topo, ["ip", "netns", "exec", topo.ns(node), "smbd", "--foreground",
                                                  "--debug-stdout", "-s", conf], f"smbd-{node}")
    wait_for(lambda: p.poll() is not None or topo.exec(topo.ns(node), "ss", "-Hltn", f"sport = :{SMB_PORT}")
             .stdout.strip(), 20, f"smbd listening on {node}")
    check(p.poll() is None, f"smbd on {node} exited {p.returncode}: {open(p.log).read()[-500:]}")


def smbd_pids(topo, node):
    out = subprocess.run(["ip", "netns", "pids", topo.ns(node)], capture_output=True, text=True,
                         check=True).stdout.split()
    pids = []
    for pid in out:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip().startswith("smbd"):
                    pids.append(int(pid))
        except OSError:
            pass
    return pids


def tx_bytes(topo, node):
    """Bytes `node` has sent on its link."""
    return int(topo.exec(topo.ns(node), "cat", "/sys/class/net/eth0/statistics/tx_bytes").stdout)


def client_conf(topo, mc):
    c = os.path.join(topo.dir, "smb-client")
    for d in ("private", "lock", "state", "cache", "ncalrpc"):
        os.makedirs(os.path.join(c, d))
    path = os.path.join(c, "smb.conf")
    with open(path, "w") as f:
        f.write(mc.SMB_CLIENT_CONF.format(dir=c))
    return path


def hold_session(topo, smb_argv):
    """smbclient holding a session (its `ls` sent; its output unbuffered,
    in its log)."""
    held = topo.spawn(topo.client, ["stdbuf", "-o0", *smb_argv], name="smbclient-held", stdin=subprocess.PIPE)
    held.stdin.write(b"ls\n")
    held.stdin.flush()
    return held


def next_command_fails(held):
    """The held smbclient's next command, after its session was reset: it
    must fail on its connection, not hang. Returns (ms it took, its last
    line)."""
    t_cmd = time.monotonic()
    held.stdin.write(b"ls\n")
    held.stdin.flush()
    try:
        held.communicate(b"quit\n", timeout=10)
    except subprocess.TimeoutExpired:
        raise AssertionError("the held smbclient hangs after its session was reset") from None
    failed_in = (time.monotonic() - t_cmd) * 1000
    said = open(held.log).read().strip()
    check("NT_STATUS_CONNECTION" in said or "NT_STATUS_END_OF_FILE" in said or "NT_STATUS_PIPE" in said,
          f"the held smbclient's next command did not fail on its connection: {said[-400:]!r}")
    return failed_in, said.splitlines()[-1]


def sc_smb_reset(L, step):
    topo, gw = L.topo, L.gw
    mc = make_captures()
    share = os.path.join(topo.dir, "share")
    data = mc.content(FILE, 8 << 10)
    mc.put(os.path.join(share, FILE), data)
    os.chmod(topo.dir, 0o711)
    for n in (FAILED, SPARE):
        start_samba(topo, mc, n, share)
    L.agents.update(gw.start_agents(nodes=[SPARE]))
    wait_for(lambda: all(r["mac"] != "unresolved"
                         for r in gw.clusters().get(("tcp", SMB_PORT), {}).get("nodes", {}).values()), 10,
             f"{FAILED} and its spare resolved on port {SMB_PORT}")
    conf = client_conf(topo, mc)
    smb_argv = ["smbclient", f"//{CLUSTER_IP}/share", "-s", conf, "-U", f"{mc.SMB_USER}%{mc.SMB_PASSWORD}"]
    step(f"samba on {FAILED} and {SPARE} sharing one directory, behind port {SMB_PORT}")

    held = hold_session(topo, smb_argv)

    def session():
        _, why, plans = mirror_plans(gw, L.ip(FAILED), 8)
        # Its ls answered (its output unbuffered, in its log), nothing restorable.
        return why if why.get("session_state") == 1 and not plans and FILE in open(held.log).read() else None
    why = wait_for(session, 10, "the held SMB session followed, its ls answered, not restorable (session_state)")
    step(f"smbclient holds a session to {FAILED} (ls answered); show mirror plans: not restorable {why}")

    capture = ResetCapture(topo, f"tcp port {SMB_PORT} and tcp[tcpflags] & tcp-rst != 0", "rst")
    t_cut = time.time()
    cut_off(topo, smbd_pids(topo, FAILED))
    # The fail mark (after the restore found nothing to carry on) resets the
    # session: its RST reaches the client's link.
    def marked():
        shown = gw.mctl("show", "restore").splitlines()
        return shown if len(restore_rows(shown)) else None
    wait_for(marked, 10, f"{FAILED}'s failure handled (show restore)")
    time.sleep(0.3)
    lines = capture.stop("-tt")
    resets = [l for l in lines if f"{CLUSTER_IP}.{SMB_PORT} >" in l]
    check(resets, f"no reset of the session on the client's link: {lines}")
    first_rst = float(resets[0].split()[0]) - t_cut
    failed_in, said = next_command_fails(held)
    step(f"{FAILED} cut off: the session reset {first_rst * 1000:.0f} ms after the cut; the held smbclient's next "
         f"command failed in {failed_in:.0f} ms: {said!r}")

    copy = os.path.join(topo.dir, "smb-client", FILE)
    sent_before = tx_bytes(topo, SPARE)
    t_retry = time.monotonic()
    r = topo.exec(topo.client, *smb_argv, "-c", f"ls; get {FILE} {copy}", check=False)
    retry_s = time.monotonic() - t_retry
    check(r.returncode == 0 and FILE in r.stdout, f"smbclient's retry: exit {r.returncode}: {r.stdout} {r.stderr}")
    sent = tx_bytes(topo, SPARE) - sent_before
    check(sent > len(data), f"{SPARE} sent {sent} bytes during the retry: not the {len(data)} of {FILE}")
    with open(copy, "rb") as f:
        check(f.read() == data, f"{FILE} fetched on the retry differs from the share's")
    shown = gw.mctl("show", "restore").splitlines()
    rows = restore_rows(shown)
    check(len(rows) == 1 and rows[0]["restored"] == "0" and "session_state" in rows[0]["not restorable"],
          f"show restore: {shown}")
    return (f"smbclient's session on {FAILED} (session_state: not restorable) reset {first_rst * 1000:.0f} ms after "
            f"the cut, its next command failed in {failed_in:.0f} ms ({said!r}), no hang; the retry listed the share and "
            f"fetched {FILE} from {SPARE} ({sent} bytes sent by it) with the right bytes in {retry_s:.2f}s; show restore: 0 restored, "
            f"{rows[0]['not restorable']}")
