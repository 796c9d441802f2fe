"""Real TCP through network namespaces: the same short-connection HTTP load
(wrk, a new TCP connection per request) from the same client to the same
three nginx nodes, weights 3:2:1, through three balancers in one run:

  gatewayd   198.18.0.100  DPDK on net_af_packet; direct server return
  haproxy    198.18.0.3    TCP mode, roundrobin (a full proxy: both directions pass it)
  kernel     198.19.0.100  plain kernel forwarding: a Linux router with weighted
                           ECMP routes and L4 hashing; direct server return

Runs alternate between the balancers so that slow changes in the machine's
load hit all alike. Besides requests per second, each run reports the
machine's CPU time per request (from /proc/stat): on a 2-core box the client,
the nodes and the balancer share the CPUs, so that is the fair cost figure.

Used by scripts/bench (scenario "tcp"); runnable alone:
    python3 test/bench/tcp_compare.py --build build [--quick]
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "system"))

from gateway import Gateway  # noqa: E402
from topology import CLIENT_IP, CLUSTER_IP, Topology, wait_for  # noqa: E402

HAPROXY_IP = "198.18.0.3"
ROUTER_IP = "198.18.0.4"
ROUTED_VIP = "198.19.0.100"
WEIGHTS = {"n1": 3, "n2": 2, "n3": 1}
TOOLS = ("wrk", "nginx", "haproxy")


class CompareTopology(Topology):
    """The system tests' network (client, gatewayd's namespace, nodes) plus a
    HAProxy host and a router host on the same bridge."""

    def __init__(self, tag, log=None):
        super().__init__(tag, nodes=3, log=log)
        self.haproxy = self.prefix + "hap"
        self.router = self.prefix + "rtr"

    def _build(self):
        super()._build()
        self._add_host(self.haproxy, "eth0", "v-hap")
        self.ip(self.haproxy, "addr", "add", f"{HAPROXY_IP}/24", "dev", "eth0")
        # The usual tuning of hosts that open many short connections, on the
        # proxy and on the client (for every balancer alike). Through a full
        # proxy the client closes first and keeps a TIME_WAIT socket per
        # request towards one address: without reuse, each connect() soon
        # scans thousands of ports (seen in a profile: wrk in
        # __inet_check_established) and the client, not the balancer, sets
        # the rate.
        for ns in (self.haproxy, self.client):
            self.sysctl(ns, "net.ipv4.tcp_tw_reuse", 1)
            self.sysctl(ns, "net.ipv4.ip_local_port_range", "1024 65535")

        self._add_host(self.router, "eth0", "v-rtr")
        self.ip(self.router, "addr", "add", f"{ROUTER_IP}/24", "dev", "eth0")
        self.sysctl(self.router, "net.ipv4.ip_forward", 1)
        self.sysctl(self.router, "net.ipv4.fib_multipath_hash_policy", 1)  # addresses and ports: per flow
        for conf in ("all", "eth0"):  # client and nodes share the LAN: no redirects to short-cut the router
            self.sysctl(self.router, f"net.ipv4.conf.{conf}.send_redirects", 0)
        hops = []
        for n, w in WEIGHTS.items():
            hops += ["nexthop", "via", self.node_ips[n], "weight", str(w)]
        self.ip(self.router, "route", "add", f"{ROUTED_VIP}/32", *hops)
        self.ip(self.client, "route", "add", f"{ROUTED_VIP}/32", "via", ROUTER_IP)
        for n in self.nodes:  # the routed cluster address, like the gateway's, on each node's loopback
            self.ip(self.ns(n), "addr", "add", f"{ROUTED_VIP}/32", "dev", "lo")

    def start_haproxy(self):
        conf = os.path.join(self.dir, "haproxy.cfg")
        servers = "\n".join(f"    server {n} {self.node_ips[n]}:80 weight {w}" for n, w in WEIGHTS.items())
        with open(conf, "w") as f:
            f.write(f"""global
    maxconn 8000
    nbthread 1
defaults
    mode tcp
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend cluster
    bind {HAPROXY_IP}:80
    default_backend nodes
backend nodes
    balance roundrobin
{servers}
""")
        p = self.spawn(self.haproxy, ["haproxy", "-f", conf, "-db"], name="haproxy")
        wait_for(lambda: self.exec(self.haproxy, "ss", "-Hltn", "sport = :80").stdout.strip(), 10,
                 "haproxy listening")
        return p


def cpu_busy_jiffies():
    """All CPUs' non-idle time so far, in jiffies (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields[:8]) - idle


def wrk(topo, address, seconds, connections):
    """One wrk run from the client: new TCP connection per request."""
    hz = os.sysconf("SC_CLK_TCK")
    j0 = cpu_busy_jiffies()
    r = topo.exec(topo.client, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H",
                  "Connection: close", f"http://{address}/", timeout=seconds + 30)
    busy_s = (cpu_busy_jiffies() - j0) / hz
    out = r.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))

    def latency_us(pct):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(m.group(1)) * {"us": 1, "ms": 1e3, "s": 1e6}[m.group(2)] if m else None

    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    socket_errors = sum(map(int, m.groups())) if m else 0
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "requests": total, "p50_us": latency_us(50), "p99_us": latency_us(99),
            "errors": socket_errors + (int(m.group(1)) if m else 0),
            "cpu_us_per_request": busy_s * 1e6 / total if total else None, "raw": out}


def spread(topo, address, count=60):
    """Which node answers each of `count` new connections (curl from the client)."""
    seen = {}
    for _ in range(count):
        r = topo.exec(topo.client, "curl", "-s", "-m", "2", f"http://{address}/", check=False)
        name = r.stdout.strip() or "error"
        seen[name] = seen.get(name, 0) + 1
    return seen


def missing_tools():
    return [t for t in TOOLS if not shutil.which(t)]


def run(build, quick=False, log=print):
    """The comparison; returns {balancer: [runs...], "spread": {...}, ...}."""
    missing = missing_tools()
    if missing:
        raise RuntimeError(f"missing {', '.join(missing)} (scripts/install-deps)")
    seconds, repeats, connections = (3, 1, 32) if quick else (5, 3, 32)
    targets = {"gatewayd": CLUSTER_IP, "haproxy": HAPROXY_IP, "kernel": ROUTED_VIP}
    results = {name: [] for name in targets}
    with CompareTopology("tcpcmp", log=log) as topo:
        topo.start_nginx()
        topo.start_haproxy()
        # The demo configuration: one worker, idle_sleep, node MACs by ARP.
        with Gateway(topo, build):
            results["spread"] = {name: spread(topo, addr) for name, addr in targets.items()}
            log(f"tcp: spread of 60 new connections per balancer: {results['spread']}")
            for i in range(repeats):
                for name, addr in targets.items():
                    r = wrk(topo, addr, seconds, connections)
                    results[name].append(r)
                    log(f"tcp {name} #{i}: {r['rps']:.0f} req/s, p50 {r['p50_us']} us, p99 {r['p99_us']} us, "
                        f"{r['errors']} errors, {r['cpu_us_per_request']:.1f} CPU-us per request")
    results["setup"] = {"seconds": seconds, "repeats": repeats, "connections": connections, "client": CLIENT_IP,
                        "targets": targets, "weights": WEIGHTS}
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--json", help="write the results here")
    a = ap.parse_args()
    res = run(a.build, a.quick)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({k: v for k, v in res.items()}, f, indent=1, default=str)


if __name__ == "__main__":
    main()
