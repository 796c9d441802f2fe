"""scripts/bench's command line: measure (or, with --report-only, take the
last run's raw/state.pickle), then write REPORT.md and the plots."""
import argparse
import atexit
import datetime
import json
import os
import pickle
import signal
import sys

from .machine import load_snapshot, machine
from .plots import plots
from .prepare import prepare
from .procs import cleanup, log, on_signal
from .report import write_report
from .scenarios import scenarios
from .topology import ROOT


def main(doc):
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer, shorter scenarios (under 2 minutes)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="meson build directory (default build/)")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "bench"), help="where REPORT.md and the PNGs go")
    ap.add_argument("--no-build", action="store_true", help="do not run ninja first")
    ap.add_argument("--report-only", action="store_true",
                    help="write REPORT.md and the plots again from the last run's raw/state.pickle, measuring nothing")
    args = ap.parse_args()
    args.argv = [a for a in sys.argv[1:] if a != "--report-only"]
    if os.geteuid() != 0:
        sys.exit("bench: needs root (hugepages, /run/clustergate, perf)")
    args.raw = os.path.join(args.out, "raw")
    args.results, args.profiles = [], []
    args.gatewayd = os.path.join(args.build, "dataplane", "gatewayd")
    args.gwctl = os.path.join(args.build, "control", "gwctl", "gwctl")
    args.pktgen = os.path.join(args.build, "test", "bench", "cg-pktgen")
    state = os.path.join(args.raw, "state.pickle")

    if args.report_only:
        with open(state, "rb") as f:
            st = pickle.load(f)
        args.quick, args.scen, args.profiles, args.machine, args.results = (st["quick"], st["scen"], st["profiles"],
                                                                           st["machine"], st["results"])
        args.argv = st.get("argv", args.argv)
        args.gatewayd = st.get("gatewayd", args.gatewayd)  # perf annotations need the binary that ran
        report(args, st, f"from {args.raw}/state.pickle")
        return
    atexit.register(cleanup)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    t_start = datetime.datetime.utcnow()
    prepare(args)

    args.machine = machine()
    load0 = load_snapshot()
    log(f"{'quick' if args.quick else 'full'} run; load average {load0[0]}")
    try:
        scenarios(args)
    finally:
        cleanup()
        with open(os.path.join(args.raw, "results.jsonl"), "w") as f:
            for r in args.results:
                f.write(json.dumps(r) + "\n")
    load1 = load_snapshot()
    t_end = datetime.datetime.utcnow()
    st = {"argv": args.argv, "gatewayd": args.gatewayd, "quick": args.quick, "scen": args.scen,
          "profiles": args.profiles, "machine": args.machine, "results": args.results, "t_start": t_start,
          "t_end": t_end, "load0": load0, "load1": load1}
    with open(state, "wb") as f:
        pickle.dump(st, f)
    report(args, st, f"in {(t_end - t_start).total_seconds():.0f} s")


def report(args, st, how):
    """The plots and REPORT.md from a run's state (this one's, or the pickled one's)."""
    pngs = plots(args)
    write_report(args, pngs, st["t_start"], st["t_end"], st["load0"], st["load1"])
    log(f"wrote {os.path.relpath(os.path.join(args.out, 'REPORT.md'), ROOT)} {how}")
