#!/usr/bin/python3
"""A/B of gatewayd binaries on scripts/bench's memif topology, for changes
of the forwarding loop (docs/bench/README.md "Comparing two builds").

  python3 test/bench/ab_forward.py OLD/gatewayd NEW/gatewayd [--flows N]
      [--rounds R] [--repeats K] [--window S]

Per round, each binary in turn gets a fresh gatewayd sized for N flows,
opens them (one SYN each), then K windows of established traffic, each
followed by testpmd io on the same stream (the bench's reference, paused
in turn). The VM this was written on switches between a fast and a slow
phase for tens of seconds at a time, so binaries are compared by their
ratio to the io run next to them, run by run, not by their absolute rates.
Prints one line per binary; raw logs in /tmp/cg-ab/raw.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib.duts import Gatewayd, Testpmd  # noqa: E402
from benchlib.pktgen import run_gen  # noqa: E402
from benchlib.prepare import prepare  # noqa: E402
from benchlib.procs import cleanup  # noqa: E402
from benchlib.scenarios import gen_timeout, turn  # noqa: E402
from benchlib.topology import ROOT  # noqa: E402


def one_round(args, binary, tag, a, out):
    args.gatewayd = binary
    gw = tp = None
    try:
        gw = Gatewayd(args, args.raw, tag, a.flows).start()
        run_gen(args, gw, f"fill-{tag}", ["--flows", a.flows, "--no-warmup", "--mix", "1:0:0:0", "--count", a.flows,
                                          "--duration", 120, "--settle", 0.05], gen_timeout(a.flows, 0))
        gw.pause()
        tp = Testpmd(args, args.raw, f"io-{tag}", "io").start()
        tp.pause()
        est = ["--flows", a.flows, "--assume-open", "--duration", a.window]
        for i in range(a.repeats):
            r = turn(args, gw, f"est-{tag}-{i}", est, a.window)
            q = turn(args, tp, f"io-{tag}-{i}", est, a.window)
            out.append((r["rx_pps"], q["rx_pps"]))
    finally:
        for d in (gw, tp):
            if d:
                d.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--flows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--window", type=float, default=2.0)
    a = ap.parse_args()
    build = os.path.join(ROOT, "build")
    args = argparse.Namespace(build=build, out="/tmp/cg-ab", no_build=True, quick=True, results=[], profiles=[],
                              gwctl=os.path.join(build, "control", "gwctl", "gwctl"),
                              pktgen=os.path.join(build, "test", "bench", "cg-pktgen"), gatewayd=a.binaries[0])
    os.makedirs(args.out, exist_ok=True)
    args.raw = os.path.join(args.out, "raw")
    prepare(args)
    runs = {b: [] for b in a.binaries}
    try:
        for rnd in range(a.rounds):
            for k, b in enumerate(a.binaries):
                one_round(args, b, f"{k}-{rnd}", a, runs[b])
    finally:
        cleanup()
    for b, rs in runs.items():
        ratios = [g / r for g, r in rs]
        print(f"{b}: gatewayd Mpps {[round(g / 1e6, 2) for g, _ in rs]}, testpmd io Mpps "
              f"{[round(r / 1e6, 2) for _, r in rs]}, ratios {[round(x, 2) for x in ratios]}, "
              f"median {statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
