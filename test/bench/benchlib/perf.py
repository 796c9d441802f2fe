"""Profiles of the DUT's worker thread (perf record, cpu-clock: this VM has
no hardware counters) and what the report reads out of them."""
import os
import re
import shutil
import subprocess
import time

from .procs import sh, started
from .topology import ROOT


def profile(args, dut, name, seconds, gen):
    """perf record of the DUT's worker thread once the generator's window is open."""
    if not shutil.which("perf"):
        return None
    logf = os.path.join(args.raw, f"gen-{name}.log")
    end = time.time() + 300
    while time.time() < end and gen.poll() is None:
        with open(logf) as f:
            if "phase measure" in f.read():
                break
        time.sleep(0.02)
    time.sleep(0.1)
    data = os.path.join(args.raw, f"perf-{name}.data")
    p = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "2999", "-t", str(dut.worker_tid), "-o", data,
                          "--", "sleep", str(seconds)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started.append(p)
    args.profiles.append((name, data))
    return p


def perf_lines(data, symbol, limit=3):
    """The source lines (perf annotate's sorted summary) where `symbol` spends its samples."""
    r = sh(["perf", "annotate", "-i", data, "--stdio", "-l", "-s", symbol], timeout=120)
    out = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s+([\d.]+)\s+([\w.+-]+):(\d+)\s*$", line)
        if m:
            text = ""
            for d in ("dataplane", "common", "test/bench"):
                path = os.path.join(ROOT, d, m.group(2))
                if os.path.exists(path):
                    with open(path) as f:
                        lines = f.read().splitlines()
                    n = int(m.group(3))
                    text = lines[n - 1].strip() if 0 < n <= len(lines) else ""
                    break
            out.append((float(m.group(1)), f"{m.group(2)}:{m.group(3)}", text))
        if len(out) == limit:
            break
    return out


def perf_hot_insn(data, symbol, binary):
    """The hottest instruction of `symbol`, and the one before it with its source line: with
    timer sampling, the sample lands on the instruction after the one that stalled."""
    r = sh(["perf", "annotate", "-i", data, "--stdio", "-s", symbol], timeout=120)
    insns = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s+([\d.]+)\s+:\s+([0-9a-f]+):\s+(.*)$", line)
        if m:
            insns.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    if len(insns) < 2:
        return None
    i = max(range(len(insns)), key=lambda k: insns[k][0])
    if i == 0:
        return None
    pct, addr, text = insns[i]
    _p, paddr, ptext = insns[i - 1]
    src = sh(["addr2line", "-e", binary, "-i", "-s", paddr], timeout=30).stdout.split()
    return pct, f"{addr}: {text}", f"{paddr}: {ptext}", src[0] if src else "?"


def perf_top(data, limit=14):
    r = sh(["perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "dso,symbol", "--percent-limit", "0.7"],
           timeout=120)
    rows = []
    for line in r.stdout.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\S+)\s+\[[.k]\]\s+(.*?)\s*(-\s+-)?\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(3).strip()))
    samples = re.search(r"# Samples: (\S+)", r.stdout)
    return rows[:limit], samples.group(1) if samples else "?"
