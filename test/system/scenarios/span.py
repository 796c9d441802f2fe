"""The mirror parser on a SPAN port (requirements 6.2; docs/operations.md "A SPAN
port for the mirror parser").

    span   the lan bridge copies both directions of node n1's port to a
           veth into the gateway namespace (tc mirred, as a switch's SPAN
           port does), which gatewayd reads as its SPAN port with the parser
           on the worker's lcore. Through the gateway to n1: nfs-ganesha
           (nfs-ls over NFSv3: portmapper, MOUNT on 20048, NFS), samba
           (smbclient), keep-alive HTTP; and, held open, an SMB session, an
           NFS connection whose NULL call was answered, and one whose
           GETATTR nobody answers. `show mirror conns` lists the open ones
           with their protocol, state and pending requests (the idle
           keep-alive HTTP connections complete, spoken as http, nothing
           pending; the GETATTR pending); `show mirror plans` has the two
           NFS ones and the HTTP ones restorable (the GETATTR with its
           call to replay, the HTTP ones with nothing to replay), the SMB
           session not (session_state);
           `show mirror`'s counters add up, with no parse error for this
           clean traffic.

The servers are started by test/fixtures/mirror/make-captures' own
functions (its CaptureLab's start_nfs and start_smb, and its smbclient and
nfs_url), on n1, bound to the cluster address.
"""

import importlib.machinery
import importlib.util
import os
import re
import subprocess
import sys

from gateway import DEFAULT_CONFIG, Gateway, parse_table
from topology import CLUSTER_IP, wait_for

from scenarios.helpers import check
from scenarios.recovery import Holder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
MAKE_CAPTURES = os.path.join(ROOT, "test", "fixtures", "mirror", "make-captures")
HTTP_PORT = 80            # the node servers'
SILENT_PORT = 20049       # a listener on n1 that never answers, spoken as NFS
CLUSTER_PORTS = (111, 2049, 20048, 445, SILENT_PORT)
HTTP_CONNS = 12

# In the client namespace: an NFS connection whose NULL call is answered, one
# whose GETATTR gets no answer (to SILENT_PORT), both held open. RPC record
# marking, AUTH_NONE; says "ready" once the NULL reply came.
HELD_CLIENT = r"""
import socket, struct, sys, time
def call(xid, proc, args=b""):
    body = struct.pack(">IIIIII", xid, 0, 2, 100003, 3, proc) + b"\0" * 16 + args
    return struct.pack(">I", 0x80000000 | len(body)) + body
a = socket.create_connection((sys.argv[1], 2049), timeout=10)
a.sendall(call(1, 0))
got = b""
while len(got) < 4 or len(got) < 4 + (struct.unpack(">I", got[:4])[0] & 0x7fffffff):
    more = a.recv(4096)
    if not more:
        sys.exit("the NFS server closed the connection")
    got += more
b = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
fh = b"\x01\x02\x03\x04\x05\x06\x07\x08"
b.sendall(call(2, 1, struct.pack(">I", len(fh)) + fh))
print("ready", flush=True)
time.sleep(120)
"""

# HELD_CLIENT's GETATTR record: marker, call header (6 words), AUTH_NONE
# credential and verifier (16 bytes), the handle (length and 8 bytes).
GETATTR_CALL_LEN = 4 + 24 + 16 + 4 + 8

SILENT_SERVER = r"""
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen()
print("listening", flush=True)
c, _ = s.accept()
time.sleep(120)
"""


def make_captures():
    """test/fixtures/mirror/make-captures as a module (it has no .py suffix)."""
    loader = importlib.machinery.SourceFileLoader("make_captures", MAKE_CAPTURES)
    spec = importlib.util.spec_from_loader("make_captures", loader)
    mc = importlib.util.module_from_spec(spec)
    loader.exec_module(mc)
    # Its servers bind, and its clients connect to, the cluster address on n1.
    mc.SERVER_IP = CLUSTER_IP
    return mc


def server_lab(mc, topo):
    """make-captures' CaptureLab over this topology: its server side in n1,
    its client side in the client namespace; what it spawns is tracked (and
    stopped) by the topology itself (the same process list)."""
    cl = mc.CaptureLab.__new__(mc.CaptureLab)
    cl.__dict__.update(topo.__dict__)
    cl.server = topo.ns("n1")
    cl.client = topo.client
    cl.holder = None
    for d in ("export", "share", "client", "ganesha", "samba"):
        os.makedirs(os.path.join(topo.dir, d), exist_ok=True)
    os.chmod(topo.dir, 0o711)
    return cl


def add_span_port(topo, node="n1"):
    """A veth from the lan namespace to the gateway's (span0 there), and
    tc mirred copies of both directions of `node`'s bridge port onto it."""
    topo.ip(topo.lan, "link", "add", "v-span", "type", "veth", "peer", "name", "span0", "netns", topo.gw)
    topo.ip(topo.lan, "link", "set", "v-span", "up")
    topo.ip(topo.gw, "link", "set", "span0", "up")
    topo.exec(topo.gw, "ethtool", "-K", "span0", "gro", "off", "tx", "off")
    # The node sends frames of the wire's size (no TSO/GSO super-frames on its veth).
    topo.exec(topo.ns(node), "ethtool", "-K", "eth0", "tso", "off", "gso", "off", "gro", "off", "tx", "off")
    topo.exec(topo.lan, "ethtool", "-K", f"v-{node}", "tso", "off", "gso", "off", "gro", "off")
    topo.exec(topo.lan, "tc", "qdisc", "add", "dev", f"v-{node}", "clsact")
    # u32 matching everything: this kernel has no matchall classifier.
    for way in ("ingress", "egress"):
        topo.exec(topo.lan, "tc", "filter", "add", "dev", f"v-{node}", way, "protocol", "all", "u32", "match", "u32",
                  "0", "0", "action", "mirred", "egress", "mirror", "dev", "v-span")


def span_config(topo, path):
    """conf/gateway.yaml with the SPAN port and the mirror_parser section."""
    with open(DEFAULT_CONFIG) as f:
        text = f.read()
    lan = '    device: "net_af_packet0,iface=gw0"\n    address: 198.18.0.2\n'
    check(lan in text, "conf/gateway.yaml's port is not as this scenario expects")
    text = text.replace(lan, lan + '  - name: span\n    device: "net_af_packet1,iface=span0"\n')
    text += ("\nmirror_parser:\n  ports: [span]\n  lcores: [1]\n  connections: 128\n  request_chunks: 512\n"
             f"  protocols: [{{port: 20048, protocol: mount}}, {{port: {SILENT_PORT}, protocol: nfs}}]\n")
    with open(path, "w") as f:
        f.write(text)
    return path


NODES_HEAD = "nodes, as the copies show them:"


def mirror_counters(gw):
    counters = gw.ctl("show", "mirror").partition(NODES_HEAD)[0]
    lines = [l for l in counters.splitlines()[1:] if l.strip()]
    return {r["counter"]: int(r["value"]) for r in parse_table(lines)}


def mirror_nodes(gw):
    """show mirror's nodes: {address: row}."""
    nodes = gw.ctl("show", "mirror").partition(NODES_HEAD)[2]
    return {r["node"]: r for r in parse_table([l for l in nodes.splitlines() if l.strip()])}


def mirror_conns(gw):
    lines = [l for l in gw.ctl("show", "mirror", "conns", "200").splitlines()
             if l.strip() and "most recently used first" not in l and "no connections" not in l]
    return parse_table(lines)


def mirror_plans(gw, node, count=200):
    """`show mirror plans NODE COUNT` -> (restorable count, {reason: count}, plan rows)."""
    lines = [l for l in gw.ctl("show", "mirror", "plans", node, str(count)).splitlines() if l.strip()]
    restorable = int(re.search(r", (\d+) a spare could carry on", lines[0]).group(1))
    why, plans, table = [], [], None
    for l in lines[1:]:
        if l.strip().startswith("not restorable, why"):
            table = why
        elif l.strip().startswith("client"):
            table = plans
        elif "listed, most recently used first" in l:
            table = None
            continue
        if table is not None:
            table.append(l)
    return restorable, {r["not restorable, why"]: int(r["connections"]) for r in parse_table(why)}, parse_table(plans)


def sc_span(L, step):
    topo = L.topo
    build = os.path.dirname(os.path.dirname(L.gw.gatewayd))
    L.gw.stop()  # the bench's gatewayd has no SPAN port: this scenario starts its own
    add_span_port(topo)
    mc = make_captures()
    cl = server_lab(mc, topo)
    with Gateway(topo, build, suffix="-span", config=span_config(topo, os.path.join(topo.dir, "span-src.yaml"))) as gw:
        for port in CLUSTER_PORTS:
            gw.ctl("add", "port", CLUSTER_IP, "tcp", str(port))
            gw.ctl("add", "node", CLUSTER_IP, "tcp", str(port), topo.node_ips["n1"])
        wait_for(lambda: all(r["mac"] != "unresolved" for p in CLUSTER_PORTS
                             for r in gw.clusters().get(("tcp", p), {}).get("nodes", {}).values()), 10,
                 "n1 resolved on every port")
        step("gatewayd with a SPAN port; n1's port copied to it")

        cl.start_nfs()   # rpcbind, then ganesha; waits for MOUNT registered (rpcinfo through the gateway)
        cl.start_smb()
        step("nfs-ganesha and smbd on n1, behind the gateway")
        ls = cl.client_run(["nfs-ls", mc.nfs_url("", 3)]).stdout
        check("big256k.bin" in ls, f"nfs-ls through the gateway: {ls!r}")
        out = cl.client_run(["nfs-cat", mc.nfs_url("sub/hello.txt", 3)]).stdout
        check(out.encode() == mc.content("sub/hello.txt", 100), f"nfs-cat sub/hello.txt: {out!r}")
        smb_ls = mc.smbclient(cl, "ls").stdout
        check("r8k.bin" in smb_ls, f"smbclient ls through the gateway: {smb_ls!r}")
        step("nfs-ls, nfs-cat (NFSv3) and smbclient ls answered through the gateway")

        # Held open: an SMB session, the two NFS connections, keep-alive HTTP.
        smb = topo.spawn(topo.client, ["smbclient", f"//{CLUSTER_IP}/share", "-s", cl.smb_client_conf,
                                       "-U", f"{mc.SMB_USER}%{mc.SMB_PASSWORD}"], name="smbclient-held",
                         stdin=subprocess.PIPE)
        smb.stdin.write(b"ls\n")
        smb.stdin.flush()
        silent = topo.spawn(topo.ns("n1"), [sys.executable, "-c", SILENT_SERVER, CLUSTER_IP, str(SILENT_PORT)],
                            name="silent", stdout=subprocess.PIPE)
        check(silent.stdout.readline().strip() == b"listening", "the silent listener did not start")
        held = topo.spawn(topo.client, [sys.executable, "-c", HELD_CLIENT, CLUSTER_IP, str(SILENT_PORT)],
                          name="nfs-held", stdout=subprocess.PIPE)
        check(held.stdout.readline().strip() == b"ready", f"the held NFS client: {held.poll()}")
        h = Holder(topo, CLUSTER_IP, HTTP_PORT)
        opened = h.call(f"open {HTTP_CONNS}")
        check(opened["opened"] == HTTP_CONNS, f"opened {opened['opened']} of {HTTP_CONNS}: {opened['errors'][:3]}")
        h.call("send")
        answered = h.call("collect 20")
        check(answered["ok"] == HTTP_CONNS, f"a round of HTTP requests: {answered}")
        on_n1 = opened["by_node"].get(topo.node_ips["n1"], opened["by_node"].get("n1", 0))
        step(f"held open: smbclient, two NFS connections, {HTTP_CONNS} keep-alive HTTP ({opened['by_node']})")

        def listed():
            rows = mirror_conns(gw)
            smb_rows = [r for r in rows if r["server"] == f"{CLUSTER_IP}:445"]
            http_rows = [r for r in rows if r["server"] == f"{CLUSTER_IP}:{HTTP_PORT}"]
            pending = [r for r in rows if r["server"] == f"{CLUSTER_IP}:{SILENT_PORT}"]
            if smb_rows and pending and len(http_rows) >= on_n1 and int(pending[0]["pending"]) == 1:
                return rows, smb_rows, http_rows, pending
            return None
        rows, smb_rows, http_rows, pending = wait_for(listed, 10, "the held connections in show mirror conns")
        nfs_rows = [r for r in rows if r["server"] == f"{CLUSTER_IP}:2049"]

        check(len(http_rows) == on_n1, f"{len(http_rows)} HTTP connections listed, {on_n1} went to n1: {http_rows}")
        for r in http_rows:
            check(r["proto"] == "http" and r["tcp"] == "established" and r["restorable"] == "complete"
                  and r["pending"] == "0", f"an idle keep-alive HTTP connection: {r}")
        check(len(smb_rows) == 1, f"one SMB session held: {smb_rows}")
        s = smb_rows[0]
        check(s["proto"] == "smb" and s["tcp"] == "established", f"the SMB session: {s}")
        p = pending[0]
        check(p["proto"] == "nfs" and p["tcp"] == "established" and p["restorable"] == "complete"
              and p["oldest pending"] == "nfs3 GETATTR" and int(p["held"]) > 0,
              f"the unanswered GETATTR: {p}")
        check(any(r["proto"] == "nfs" and r["pending"] == "0" and r["restorable"] == "complete" for r in nfs_rows),
              f"the NFS connection whose NULL was answered: {nfs_rows}")
        step(f"show mirror conns: {len(rows)} connections; SMB {s['restorable']}, GETATTR pending, "
             f"{len(http_rows)} HTTP complete")

        # What n1's spare could carry on if n1 failed now: the two NFS
        # connections (the GETATTR with its call to replay) and the idle
        # HTTP ones; not the SMB session (its state is n1's).
        restorable, why, plans = mirror_plans(gw, topo.node_ips["n1"])
        silent_plans = [r for r in plans if r["server"] == f"{CLUSTER_IP}:{SILENT_PORT}"]
        check(len(silent_plans) == 1 and silent_plans[0]["requests"] == "1"
              and int(silent_plans[0]["replay"]) == GETATTR_CALL_LEN and "ts" in silent_plans[0]["options"],
              f"the unanswered GETATTR's plan: {plans}")
        check(any(r["server"] == f"{CLUSTER_IP}:2049" and r["requests"] == "0" for r in plans),
              f"the answered NFS connection's plan: {plans}")
        check(why.get("session_state", 0) == 1, f"the SMB session is not restorable: {why}")
        http_plans = [r for r in plans if r["server"] == f"{CLUSTER_IP}:{HTTP_PORT}"]
        check(len(http_plans) == len(http_rows) and all(r["requests"] == "0" for r in http_plans),
              f"the idle HTTP connections' plans: {plans}")
        check({k: v for k, v in why.items() if v} == {"session_state": 1}, f"only the SMB session is not restorable: {why}")
        step(f"show mirror plans: {restorable} restorable (the GETATTR with {silent_plans[0]['replay']} bytes to "
             f"replay), not: {why}")

        c = mirror_counters(gw)
        frames = sum(v for k, v in c.items() if k.startswith("frames."))
        check(c["frames.followed"] > 0, f"no frame followed: {c}")
        check(c["span.ring_full"] == 0, f"frames dropped at the parser's ring: {c}")
        check(frames == c["span.received"], f"frames by verdict {frames} != received {c['span.received']}: {c}")
        errors = {k: v for k, v in c.items()
                  if v and (k.startswith(("rpc.", "tcp.gaps", "tcp.bad_", "framer.", "dropped."))
                            and not k.endswith(("records_whole", "records_prefix"))
                            or (k.startswith("smb2.") and k not in ("smb2.ok",)))}
        check(not errors, f"parse errors on clean traffic: {errors}")
        # nfs-ls and nfs-cat open 4 connections each (portmapper, MOUNT, portmapper, NFS) and reset them.
        check(c["released.reset"] >= 8, f"libnfs' connections released by their RST: {c}")
        check(c["messages.requests"] > 20 and c["messages.replies"] > 20, f"requests and replies: {c}")
        # n1 answers: heard lately, nobody retransmitting to it.
        n1 = mirror_nodes(gw).get(topo.node_ips["n1"])
        check(n1 and n1["last frame from it"].endswith(" ms") and int(n1["last frame from it"].split()[0]) < 5000
              and n1["clients retransmitting for"] == "-", f"show mirror's nodes: n1 heard, nobody waiting: {n1}")
        for p in (smb, held, silent):
            topo.stop(p)
        return (f"SPAN port with n1's traffic: {c['span.received']} frames, {c['frames.followed']} followed, "
                f"{c['connections.created']} connections ({c['released.reset']} reset, {c['released.fin']} fin), "
                f"{c['messages.requests']} requests / {c['messages.replies']} replies, no parse error; "
                f"show mirror conns: {len(http_rows)} idle HTTP complete, SMB {s['tcp']}, GETATTR pending; "
                f"show mirror plans: {restorable} restorable (the GETATTR's {silent_plans[0]['replay']} bytes to "
                f"replay), not: {why}")
