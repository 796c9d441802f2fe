"""The report's PNG plots, drawn by gnuplot from .dat files in raw/."""
import os
import shutil

from .figures import fmt_count, med
from .procs import log, sh


def gnuplot(args, name, script):
    path = os.path.join(args.raw, f"{name}.gp")
    with open(path, "w") as f:
        f.write(script)
    r = sh(["gnuplot", path], timeout=60)
    if r.returncode != 0:
        log(f"gnuplot {name}: {r.stderr.strip()}")
        return None
    return f"{name}.png"


def plots(args):
    S, out, raw = args.scen, args.out, args.raw
    if not shutil.which("gnuplot"):
        log("gnuplot missing (scripts/install-deps installs gnuplot-nox): no plots")
        return {}
    pngs = {}
    head = 'set terminal pngcairo size 900,520 font "DejaVu Sans,11"\nset grid\nset key top right\n'
    dat = os.path.join(raw, "est.dat")
    with open(dat, "w") as f:
        f.write("# flows gw_mpps io_mpps gw_per_cpu io_per_cpu ratio\n")
        for flows in sorted(S["est"]):
            g = med([r["rx_pps"] for r in S["est"][flows]]) / 1e6
            i = med([r["rx_pps"] for r in S["io"][flows]]) / 1e6
            gc = med([r["rx_pps_per_dut_cpu"] for r in S["est"][flows]]) / 1e6
            ic = med([r["rx_pps_per_dut_cpu"] for r in S["io"][flows]]) / 1e6
            f.write(f"{flows} {g:.4f} {i:.4f} {gc:.4f} {ic:.4f} {g / i if i else 0:.4f}\n")
    pngs["est"] = gnuplot(args, "established", head + f"""set output '{out}/established.png'
set title 'Established-flow forwarding, 64-byte frames, 1 worker (median of runs)'
set logscale x
set xlabel 'connections in the table'
set ylabel 'Mpps'
set yrange [0:*]
set format x '10^{{%L}}'
set key bottom left
plot '{dat}' u 1:2 w lp lw 2 pt 7 t 'gatewayd (received)', \\
     '{dat}' u 1:3 w lp lw 2 pt 5 t 'testpmd io (received)', \\
     '{dat}' u 1:4 w lp dt 2 pt 7 t 'gatewayd, per CPU-second of its worker', \\
     '{dat}' u 1:5 w lp dt 2 pt 5 t 'testpmd io, per CPU-second of its worker'
""")
    lat = os.path.join(raw, "lat.dat")
    with open(lat, "w") as f:
        f.write("# label gw_p50 gw_p99 io_p50 io_p99 (us)\n")
        for frac in (0.5, 0.9):
            g, i = S["lat"].get(("gw", frac)), S["lat"].get(("io", frac))
            if g and i:
                f.write(f"\"{int(frac * 100)}% of max\" {g['latency_ns']['p50'] / 1e3:.3f} {g['latency_ns']['p99'] / 1e3:.3f} "
                        f"{i['latency_ns']['p50'] / 1e3:.3f} {i['latency_ns']['p99'] / 1e3:.3f}\n")
    pngs["lat"] = gnuplot(args, "latency", head + f"""set output '{out}/latency.png'
set title 'Round-trip latency through the DUT (generator TSC stamps), 1M flows'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set logscale y
set ylabel 'microseconds (log)'
set key top left
plot '{lat}' u 2:xtic(1) t 'gatewayd p50', '' u 3 t 'gatewayd p99', '' u 4 t 'testpmd io p50', '' u 5 t 'testpmd io p99'
""")
    cps = os.path.join(raw, "cps.dat")
    with open(cps, "w") as f:
        f.write("# label new_conns_per_s(M) per_dut_cpu(M)\n")
        for flows, r in sorted(S["fill"].items()):
            f.write(f"\"flood into empty {fmt_count(flows)}\" {r['syn_back_per_s'] / 1e6:.4f} "
                    f"{r['syn_back_per_dut_cpu'] / 1e6:.4f}\n")
        for tag, r in S["churn"].items():
            f.write(f"\"SYN/RST, {tag}\" {r['syn_back_per_s'] / 1e6:.4f} {r['syn_back_per_dut_cpu'] / 1e6:.4f}\n")
    pngs["cps"] = gnuplot(args, "cps", head + f"""set output '{out}/new_connections.png'
set title 'New connections per second, 1 worker (target: 2 M/s)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set yrange [0:*]
set ylabel 'million new connections / s'
set xtics font ",9"
set arrow from graph 0, first 2 to graph 1, first 2 nohead dt 2 lw 2
plot '{cps}' u 2:xtic(1) t 'measured', '' u 3 t 'per CPU-second of the worker'
""")
    return pngs
