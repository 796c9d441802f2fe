"""The gateway pair's takeover, measured: gateways a (active) and b (its
backup) in network namespaces, N keep-alive connections from the client to
nginx on three nodes through a, then kill -9 of both of a's processes with a
request sent on every connection at once. Measured from the kill:

  detected      b's controld decides to take over (a silent for the dead time)
  active        b's gatewayd is active: the nodes' connections are in it
  first frame   b's gatewayd forwards its first frame (polled every ~10 ms)
  all answered  the last of the N in-flight requests is answered (this is
                the clients' TCP retransmission timers as much as the gateway)

once with the backup's table filled from the nodes' answers alone, once
with it following the active's mirror (state changes), when the backup
goes active at once and reconciles with the nodes' answers after;

and how many connections carried on (same socket, same node, no reset).

The reference, in the same topology: keepalived's VRRP (version 3, 30 ms
adverts) moving the cluster address between two HAProxy namespaces: the
time until a new connection through the address succeeds again, and how
many of the established connections carried on.

Used by scripts/bench (scenario "takeover"); runnable alone:
    python3 test/bench/takeover.py --build build [--counts 10000,100000] [--reference 2000] [--modes off]
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

from manager_lab import pair_lab  # noqa: E402
from scenarios.recovery import Holder, carried_on, hold_connections  # noqa: E402
from topology import CLIENT_IP, CLUSTER_IP, Topology, backlog_drops, wait_for  # noqa: E402

# A process here may hold 20,000 descriptors (the container's hard limit,
# which root cannot raise): holders of 15,000 connections, and nginx
# instances of 15,000 a node, three nodes a cluster port.
PORTS = (8081, 8082, 8083)
PER_HOLDER = 15000
PER_PORT = 45000
VRRP_ADVERT = "0.03"
# Frames in each gateway's af_packet ring (DPDK's default: 512). The kernel
# fills it at once with a burst of every connection's request; what does
# not fit is dropped there, and DPDK 22.11's af_packet does not count it.
RING_FRAMES = 32768
HAPROXY_IPS = ("198.18.0.6", "198.18.0.7")


def fwd(gw):
    return sum(int(r["fwd"]) for r in gw.stats()["lcores"])


def measure_pair(build, count, log, mirror=None):
    """One takeover with `count` connections (the backup following the
    active's mirror in mode `mirror`, or not); returns the figures."""
    overrides = {"tables.connections": max(100000, 3 * count)}
    ring = ('net_af_packet0,iface=gw0"', f'net_af_packet0,iface=gw0,framecnt={RING_FRAMES}"')
    with pair_lab(f"tk{'m' if mirror else ''}{count}"[:12], build, log=log, overrides=overrides, mirror=mirror,
                  edits=[ring]) as L:
        a, b, topo = L.a, L.b, L.topo
        topo.sysctl(topo.client, "net.ipv4.ip_local_port_range", "1024 65535")
        # Every connection's request leaves at once after the kill, and again
        # at each retransmission: bursts of `count` frames through the veths,
        # which the host's input queue (1,000 frames by default) would drop
        # on the way, far from any gateway. Whatever is still lost there is
        # reported (backlog_drops).
        topo.raise_host_backlog(2 * count)
        holders, t_open = [], time.monotonic()
        left = count
        for port in PORTS:
            on_port = min(left, PER_PORT)
            if on_port == 0:
                break
            first = min(on_port, PER_HOLDER)
            h, _ = hold_connections(L, first, port=port, serving=on_port)
            holders.append((h, first))
            for n in range(first, on_port, PER_HOLDER):  # more holders on the same port
                k = min(PER_HOLDER, on_port - n)
                more = Holder(topo, CLUSTER_IP, port)
                opened = more.call(f"open {k}", timeout=300)
                if opened["opened"] != k:
                    raise AssertionError(f"opened {opened['opened']} of {k} on port {port}: {opened['errors'][:3]}")
                holders.append((more, k))
            left -= on_port
        if left:
            raise AssertionError(f"{count} connections: more than {len(PORTS)} cluster ports would hold")
        opened_s = time.monotonic() - t_open
        log(f"{count} connections open through a in {opened_s:.1f}s")
        base = fwd(b)
        # Takeovers before the kill beyond a's first: the pair flapped while
        # the machine was busy opening connections.
        flaps = a.ha()["counters"]["takeovers"] + b.ha()["counters"]["takeovers"] - 1
        epoch = b.ha()["epoch"]
        drops0 = backlog_drops()
        os.kill(a.gatewayd_pid(), signal.SIGKILL)
        os.kill(a.pid, signal.SIGKILL)
        t0 = time.monotonic()
        a.stop()
        for h, _ in holders:
            h.start("send")
        first = active = None
        while time.monotonic() - t0 < 30 and (first is None or active is None):
            now = time.monotonic() - t0
            if active is None and "role      active" in b.ctl("show", "info"):
                active = now
            if first is None and fwd(b) > base:
                first = now
        for h, _ in holders:
            h.result(60)
        for h, _ in holders:  # all at once: a holder times an answer when it reads it
            h.start("collect 60")
        results = [h.result(120) for h, _ in holders]
        lost_on_the_way = backlog_drops() - drops0
        ports = b.stats().get("ports", [])  # its `missed` leaves out af_packet's ring drops (DPDK 22.11)
        ha = b.ha()
        restore = b.manager()["counters"]
        why = ha["why"]
        silent = int(why.split("silent for ")[1].split()[0]) if "silent for" in why else None
        kept = sum(r["ok"] for r in results)
        waiting = [(h.port, p) for (h, _), r in zip(holders, results) for p in r.get("timeout_ports", [])][:20]
        restore_log = [l.strip() for l in open(b.log).read().splitlines()
                       if "shadow table" in l or "connections put back" in l or "reconciled" in l][-6:]
        return {"still_waiting": still_waiting(topo, b, waiting), "agents": agent_answers(L), "restore_log": restore_log, "connections": count, "mirror": mirror or "off", "opened_s": round(opened_s, 1),
                "detected_ms": silent, "takeover_ms": ha["counters"]["last_takeover_ms"],
                "query_ms": restore.get("last_restore_query_ms"),
                "active_ms": round(active * 1000) if active is not None else None,
                "first_frame_ms": round(first * 1000) if first is not None else None,
                "all_answered_ms": max(r["slowest_ms"] or 0 for r in results),
                "kept": kept, "reset": sum(r["reset"] for r in results),
                "answered_within_ms": answered_within(results), "backlog_drops": lost_on_the_way, "b_ports": ports,
                "carried_on": all(carried_on(r, n) for r, (_, n) in zip(results, holders)),
                "flaps_before": flaps, "epochs": [epoch, ha["epoch"]],
                "why": why}


def answered_within(results):
    """The holders' answer-time histograms, summed."""
    out = {}
    for r in results:
        for bound, n in r.get("answered_within_ms", {}).items():
            out[int(bound)] = out.get(int(bound), 0) + n
    return dict(sorted(out.items()))


def still_waiting(topo, gw, conns):
    """Why each connection that got no answer in time (cluster port, client
    port) still waits: the client kernel's view of it (ss -tino:
    retransmissions, backoff, its timer), where gateway `gw` would send its
    next segment, and which nodes hold its server side. A client port alone
    names nothing: the client reuses ports across cluster ports."""
    out = {}
    for dport, sport in conns:
        tuple_ = ["sport", "=", f":{sport}", "and", "dport", "=", f":{dport}"]
        r = topo.exec(topo.client, "ss", "-tinoH", "state", "all", *tuple_, check=False)
        verdict = gw.ctl("simulate", "flow", CLIENT_IP, str(sport), CLUSTER_IP, str(dport), "tcp", check=False)
        held = {}
        for n in topo.nodes:
            r2 = topo.exec(topo.ns(n), "ss", "-tnoH", "state", "all", "src", f"{CLUSTER_IP}:{dport}",
                           "dst", f"{CLIENT_IP}:{sport}", check=False)
            if r2.stdout.strip():
                held[n] = " ".join(r2.stdout.split())[:200]
        out[f"{dport}/{sport}"] = {"client": " ".join(r.stdout.split())[:400] or "no socket",
                                   "gateway": " ".join(verdict.split())[:200], "nodes": held or "none"}
    return out


def agent_answers(L):
    """Each node agent's last answer to a takeover query, as it logged it:
    sockets, the ms it took to read them from the kernel (its chunks leave
    meanwhile), and the ms from the read's end to the last chunk sent."""
    out = {}
    for n, p in L.agents.items():
        lines = [l for l in open(p.log).read().splitlines() if "shadow answer to" in l and "read from" in l]
        if lines:
            f = lines[-1].split("shadow answer to ", 1)[1].split()
            out[n] = {"sockets": int(f[1]), "read_ms": int(f[f.index("kernel") + 2]),
                      "last_chunk_after_ms": int(f[f.index("sent") + 1])}
    return out


class VrrpTopology(Topology):
    """The system tests' network plus two HAProxy hosts sharing the cluster
    address by VRRP (keepalived)."""

    def _build(self):
        super()._build()
        self.proxies = []
        for i, ip in enumerate(HAPROXY_IPS):
            ns = self.prefix + f"hap{i}"
            self._add_host(ns, "eth0", f"v-hap{i}")
            self.ip(ns, "addr", "add", f"{ip}/24", "dev", "eth0")
            self.sysctl(ns, "net.ipv4.ip_nonlocal_bind", 1)
            self.proxies.append(ns)

    def start_proxy(self, i, port, backends):
        ns = self.proxies[i]
        d = os.path.join(self.dir, f"hap{i}")
        os.makedirs(d, exist_ok=True)
        servers = "\n".join(f"    server {n} {ip}:{port}" for n, ip in backends.items())
        with open(os.path.join(d, "haproxy.cfg"), "w") as f:
            f.write(f"""global
    maxconn 9000
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 300s
    timeout server 300s
frontend cluster
    bind {CLUSTER_IP}:{port}
    default_backend nodes
backend nodes
    balance roundrobin
{servers}
""")
        with open(os.path.join(d, "keepalived.conf"), "w") as f:
            f.write(f"""global_defs {{
    vrrp_version 3
    vrrp_garp_master_delay 0
    vrrp_garp_master_repeat 3
}}
vrrp_instance cluster {{
    state BACKUP
    nopreempt
    interface eth0
    virtual_router_id 51
    priority {200 - 100 * i}
    advert_int {VRRP_ADVERT}
    virtual_ipaddress {{
        {CLUSTER_IP}/32 dev eth0
    }}
}}
""")
        hap = self.spawn(ns, ["haproxy", "-f", os.path.join(d, "haproxy.cfg"), "-db"], name=f"haproxy{i}")
        ka = self.spawn(ns, ["keepalived", "-n", "-l", "-P", "-f", os.path.join(d, "keepalived.conf"),
                             "-p", os.path.join(d, "ka.pid"), "-r", os.path.join(d, "vrrp.pid")], name=f"keepalived{i}")
        return hap, ka

    def has_vip(self, i):
        return CLUSTER_IP in self.exec(self.proxies[i], "ip", "-o", "addr", "show", "dev", "eth0").stdout


def measure_vrrp(count, log):
    """keepalived + HAProxy: the address moves, the connections do not."""
    with VrrpTopology("takevrrp", log=log) as topo:
        port = PORTS[0]
        topo.start_nginx(port=port, connections=max(8192, count))
        backends = {n: topo.node_ips[n] for n in topo.nodes}
        procs = [topo.start_proxy(i, port, backends) for i in range(2)]
        wait_for(lambda: topo.has_vip(0) and not topo.has_vip(1), 20, "proxy 0 holds the cluster address")
        h = Holder(topo, CLUSTER_IP, port)
        opened = h.call(f"open {count}", timeout=120)
        h.call("send")
        before = h.call("collect 20")
        log(f"reference: {opened['opened']} connections through HAProxy 0: {before['ok']} answered")
        for p in procs[0]:
            os.kill(p.pid, signal.SIGKILL)
        t0 = time.monotonic()
        for p in procs[0]:
            topo.stop(p)
        h.call("send")
        moved = None
        while time.monotonic() - t0 < 20:
            if moved is None and topo.has_vip(1):
                moved = time.monotonic() - t0
            r = subprocess.run(["ip", "netns", "exec", topo.client, "curl", "-s", "-m", "0.5", "-o", "/dev/null",
                                "-w", "%{http_code}", f"http://{CLUSTER_IP}:{port}/"], capture_output=True, text=True)
            if r.stdout == "200":
                break
        serving = time.monotonic() - t0
        after = h.call("collect 10", timeout=60)
        return {"connections": count, "address_moved_ms": round(moved * 1000) if moved else None,
                "new_connection_ms": round(serving * 1000), "kept": after["ok"], "reset": after["reset"],
                "closed": after["closed"], "timeout": after["timeout"], "advert_s": float(VRRP_ADVERT)}


def run(build, quick=False, log=print, counts=None, reference=2000, modes=("off", "state_changes")):
    counts = counts or ([10000] if quick else [10000, 100000])
    out = {"pair": [], "vrrp": None}
    for mirror in (None if m == "off" else m for m in modes):
        for c in counts:
            try:
                out["pair"].append(measure_pair(build, c, log, mirror))
            except Exception as e:  # reported as not measured; the others stand
                out["pair"].append({"connections": c, "mirror": mirror or "off", "error": f"{type(e).__name__}: {e}"})
            log(f"takeover with {c} (mirror {mirror or 'off'}): {out['pair'][-1]}")
    if not reference:
        return out
    try:
        out["vrrp"] = measure_vrrp(reference, log)
    except Exception as e:
        out["vrrp"] = {"error": f"{type(e).__name__}: {e}"}
    log(f"reference: {out['vrrp']}")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--counts", default="10000,100000", help="connection counts, comma-separated")
    ap.add_argument("--reference", type=int, default=2000, help="connections through the VRRP reference (0: none)")
    ap.add_argument("--modes", default="off,state_changes", help="the backup's mirror modes, comma-separated: off, state_changes")
    a = ap.parse_args()
    Topology.sweep_stale(log=print)
    r = run(os.path.abspath(a.build), counts=[int(c) for c in a.counts.split(",")], reference=a.reference,
            modes=a.modes.split(","),
            log=lambda m: print(m, flush=True))
    print(json.dumps(r))


if __name__ == "__main__":
    main()
