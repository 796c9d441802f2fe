"""What the report says of the machine: its CPUs, memory, software, and the
load on it at the start and end of a run (the machine is shared)."""
import os

from .procs import sh
from .topology import ROOT


def machine():
    out = {}
    r = sh(["lscpu"])
    for line in r.stdout.splitlines():
        k, _, v = line.partition(":")
        out[k.strip()] = v.strip()
    with open("/proc/meminfo") as f:
        mem = dict(line.split(":", 1) for line in f)
    out["mem"] = mem["MemTotal"].strip()
    out["kernel"] = os.uname().release
    r = sh(["dpkg-query", "-W", "-f", "${Version}", "dpdk"])
    out["dpdk"] = r.stdout.strip() or "?"
    r = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    out["commit"] = r.stdout.strip() or "?"
    r = sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    out["dirty"] = bool(r.stdout.strip())
    return out


def load_snapshot():
    with open("/proc/loadavg") as f:
        la = " ".join(f.read().split()[:3])
    r = sh("ps -eo pcpu,psr,comm --sort=-pcpu --no-headers")
    rows = [line.split(None, 2) for line in r.stdout.splitlines()]
    return la, [x for x in rows if len(x) == 3 and x[2] != "ps"][:6]
