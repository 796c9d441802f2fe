"""The report's "why" section: what this run's numbers and profiles say
about the gaps to the targets."""
import os

from .figures import fmt_count, med
from .perf import perf_hot_insn, perf_top


LONG_LOOP_LABELS = ("32-64us", "64-128us", "128-256us", "256-512us", "512-1024us", "1024-2048us", "2048-4096us",
                    "4096-8192us", "8192-16384us", ">=16384us")


def loop_stall_text(loops, run):
    """What the worker's loop-duration histogram says about the tail at 50 %."""
    if not loops:
        return ""
    busy = sum(loops.values())
    long_ = sum(loops.get(k, 0) for k in LONG_LOOP_LABELS)
    per_s = long_ / run["window_s"] if run.get("window_s") else 0
    return (f" The worker's own loop durations over that run (gatewayd's `show lcores`): {long_:,} of {busy:,} busy "
            f"iterations took 32 us or more, about {per_s:,.0f} per second, so the tail at 50 % is loops that stall, "
            "not queueing (docs/bench/README.md: on the development VM the worker thread loses its CPU in every "
            "section of the loop, also in sections that do nothing). The p99 target can only be judged on isolated "
            "cores.")


def analysis(args, add):
    """Why figures fall short, from this run's numbers and profiles."""
    S = args.scen
    prof = {}
    for name, data in args.profiles:
        if os.path.exists(data):
            rows, _ = perf_top(data, limit=40)
            prof[name] = {sym: pct for pct, _dso, sym in rows}
            prof[name]["__memif"] = sum(pct for pct, dso, _sym in rows if "memif" in dso)
    add("## Why, and what would close the gaps\n")
    est = {fl: med([r["rx_pps_per_dut_cpu"] for r in runs]) for fl, runs in S["est"].items()}
    io = {fl: med([r["rx_pps_per_dut_cpu"] for r in runs]) for fl, runs in S["io"].items()}
    if est:
        small, big = min(est), max(est)
        add(f"- **Flow working set.** Per CPU-second of the worker, gatewayd forwards {est[small] / 1e6:.2f} Mpps with "
            f"{fmt_count(small)} flows and {est[big] / 1e6:.2f} Mpps with {fmt_count(big)} "
            f"({est[big] / est[small]:.2f} x), while testpmd io, which keeps no per-flow state, stays at "
            f"{io[small] / 1e6:.2f} and {io[big] / 1e6:.2f}.")
        if S.get("small_ws"):
            fl, r = S["small_ws"]
            ws = r["rx_pps_per_dut_cpu"]
            verdict = ("so the cost follows the number of distinct slots touched (cache and TLB misses on random "
                       "32-byte slots), not the table's size" if ws > 1.3 * est[fl] else
                       "no clear difference from the full working set in this run: the machine's noise is larger "
                       "than the effect here, so this run does not separate table size from working set")
            add(f"  The {fmt_count(fl)}-entry table with only 1k flows active forwards {ws / 1e6:.2f} Mpps per "
                f"CPU-second ({ws / est[fl]:.2f} x the full working set): {verdict}.")
        for name, p in prof.items():
            rb = p.get("cg::dp::router::route_burst")
            if rb:
                hot = perf_hot_insn(dict(args.profiles)[name], "cg::dp::router::route_burst", args.gatewayd)
                add(f"  In `{name}`, `router::route_burst` holds {rb:.0f} % of the worker's samples"
                    + (f", {hot[0]:.0f} % of them on the instruction after the `prefetcht0` of the table slot "
                       f"({hot[3]})" if hot and "prefetch" in hot[2] else "") + ".")
        add("  The prefetch is issued one packet at a time inside the parse loop, so a burst waits for its own "
            "misses. What would close it: prefetch a burst ahead (parse and hash burst N+1 while routing burst N), "
            "put the table on 1 GiB pages (fewer TLB misses; in this VM a 2 MiB guest page may still be backed by "
            "4 KiB host pages: to be checked on bare metal with `perf stat -e dTLB-load-misses`), and measure again "
            "on a machine with hardware counters.")
    flushes = {name: p.get("cg::dp::tx_batch::flush", 0) + p.get("cg::dp::tx_batch::flush_all", 0)
               for name, p in prof.items()}
    if any(v > 0 for v in flushes.values()):
        add("- **Per-loop overhead.** `tx_batch::flush` + `tx_batch::flush_all` take "
            + ", ".join(f"{v:.0f} % ({n})" for n, v in flushes.items())
            + " of the worker's samples (dataplane/eal/tx_batch.cpp: the flush job visits only the ports "
            "with packets queued, every loop). `lcore_loop::run` ("
            + ", ".join(f"{p.get('cg::dp::lcore_loop::run', 0):.0f} %" for p in prof.values())
            + ") reads the TSC and divides it (`clock_ms`) on every loop, and runs the age job on every loop.")
    if any(p.get("__memif") for p in prof.values()):
        add("- **The port.** The memif PMD (copying each frame into and out of shared memory) takes "
            + ", ".join(f"{p['__memif']:.0f} % ({n})" for n, p in prof.items())
            + " of the worker's samples; testpmd pays the same, so it cancels out of the ratios.")
    fills = S.get("fill", {})
    cps = [(f"filling a {fmt_count(f)} table", r) for f, r in sorted(fills.items())] + \
          [(f"SYN/RST pairs ({t})", r) for t, r in S.get("churn", {}).items()]
    if cps:
        met = [n for n, r in cps if r["syn_back_per_s"] >= 2e6]
        missed = [n for n, r in cps if r["syn_back_per_s"] < 2e6]
        add("- **New connections.** "
            + ", ".join(f"{r['syn_back_per_s'] / 1e6:.2f} M/s {n} ({r['syn_back_per_dut_cpu'] / 1e6:.2f} per CPU-second)"
                        for n, r in cps)
            + ". The 2 M/s target is " + (f"met {', '.join(met)}" if met else "not met") + (
                f" and missed {', '.join(missed)}" if met and missed else "") + ". "
            "Each new connection is the established path's random slot access plus a WRR pick and an insert; SYN/RST "
            "pairs also pay a second packet and an erase (backward shift). Near a full table (slot load up to 3/4) "
            "probe sequences grow for the lookup, the insert and the erase alike. What would close it: the same "
            "burst-ahead prefetch, and a lower maximum load factor (10M connections at load 1/2 take 32 Mi slots, "
            "exactly the 1 GiB budget)."
            + (" Some of these runs had less than a whole CPU (CPU columns)."
               if any(r["dut_share"] < 0.95 for _n, r in cps) else ""))
    lat = S.get("lat", {})
    runs = [lat.get((d, f)) for d in ("gw", "io") for f in (0.5, 0.9)]
    if all(runs):
        g50, g90, i50, i90 = lat[("gw", 0.5)], lat[("gw", 0.9)], lat[("io", 0.5)], lat[("io", 0.9)]
        whole = all(r["dut_share"] > 0.95 and r["gen_cpu_share"] > 0.95 for r in runs)
        p = lambda r, k: r["latency_ns"][k] / 1e3  # noqa: E731
        if whole:
            add(f"- **Latency.** Both threads had their whole CPUs in the latency runs. At 50 % of gatewayd's maximum, "
                f"gatewayd adds {p(g50, 'p50') - p(i50, 'p50'):+.1f} us at p50 and {p(g50, 'p99') - p(i50, 'p99'):+.1f} us "
                f"at p99 over testpmd io (p99 {p(g50, 'p99'):.1f} vs {p(i50, 'p99'):.1f} us); at 90 %, "
                f"{p(g90, 'p50') - p(i90, 'p50'):+.1f} and {p(g90, 'p99') - p(i90, 'p99'):+.1f} us. Near its own "
                "maximum gatewayd's RX ring holds a queue, which sets the 90 % figures."
                + loop_stall_text(lat.get(("gw_loops", 0.5)), g50))
        else:
            add(f"- **Latency.** In the latency runs the DUT or the generator lost part of its CPU to other jobs "
                f"(CPU columns), and the p99 figures ({p(g90, 'p99'):.0f} us for gatewayd, {p(i90, 'p99'):.0f} us for "
                "testpmd io at 90 %) measure those stalls as much as the DUT. The p99 target can only be judged with "
                "both threads on their whole CPUs (isolated cores, no other load).")
    io_full = [r["tx_partial_pct"] for runs in S["io"].values() for r in runs]
    if io_full and med(io_full) < 20:
        add(f"- **The generator's own limit.** testpmd io found its RX ring full on only {med(io_full):.0f} % of the "
            "generator's transmit calls (median): at this rate the generator, sending and receiving through memif on "
            "one CPU, is the limit, not testpmd. Where gatewayd matches testpmd io, the ratio is a lower bound; where "
            "gatewayd's ring is full most of the time (the 'DUT RX ring full' column), gatewayd sets the rate.")
    add("")
