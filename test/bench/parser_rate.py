"""The mirror parser's rate on one lcore, measured: gatewayd with one SPAN
port and one parser lcore (a worker's, which also reads the SPAN port),
fed by DPDK's pcap PMD replaying one of the committed fixture captures
(test/fixtures/mirror) in a loop from memory (`infinite_rx=1`), against
`dpdk-testpmd --forward-mode=rxonly` on the same PMD and capture, on the
same CPU, in the same run.

Each capture holds whole connections, SYN to FIN or RST, so every pass is
parsed afresh: the same connections opened, followed to their end,
released. The run checks that: each pass must give the messages of one
offline pass (cg-mirror-read on the same file) and no parse error.

  frames/s, Gbit/s   the SPAN port's frames and their bytes (Ethernet
                     header to the end, no FCS) over the window
  messages/s         requests and replies matched (NFS, SMB, HTTP)
  ratio              frames/s against testpmd rxonly's in the same run: the
                     PMD's own copy is in both
  memory             bytes a followed connection takes, and a pending
                     request's chunks, as gatewayd reports them at start

Used by scripts/bench (section "Mirror parser"); runnable alone:
    python3 test/bench/parser_rate.py --build build [--captures nfs3,smb2] [--window 3] [--gatewayd OTHER]
"""

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from benchlib.procs import stop

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIXTURES = os.path.join(ROOT, "test", "fixtures", "mirror")
MAIN_CPU, WORKER_CPU = 0, 1   # as the rest of the bench: the DUT's worker on CPU 1
NAME = "bench-parser"
PREFIX = f"cg-{NAME}"
TP_PREFIX = "cg-bench-parser-tp"
CONNECTIONS = 1024
# show mirror counters that a clean parse of whole connections moves
CLEAN = ("span.received", "frames.followed", "connections.created", "released.", "tcp.segments", "messages.requests",
         "messages.replies", "messages.interim", "pool.", "smb2.")
CLEAN_ENDS = (".records_whole", ".records_prefix")

# name -> what it is (test/fixtures/mirror/README.md has more)
CAPTURES = {
    "nfs3": "NFSv3, MOUNT3, portmapper (libnfs to nfs-ganesha; one 256 KiB READ is 278 KB of its 375 KB)",
    "nfs4": "NFSv4.0 COMPOUNDs (libnfs to nfs-ganesha), small messages but for one 64 KiB READ",
    "smb2": "SMB 3.1.1 (smbclient to smbd), one session; one 256 KiB READ is most of its bytes",
    "http": "HTTP/1.1 keep-alive (curl to nginx), small messages",
}


def pcap_vdev(name, path):
    return f"net_pcap_{name}0,rx_pcap={path},infinite_rx=1"


def pcap_frames(path):
    """(frames, bytes) of a classic pcap file: its records' captured lengths."""
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        order = "little"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        order = "big"
    else:
        raise ValueError(f"{path}: not a classic pcap file")
    frames = total = 0
    at = 24
    while at + 16 <= len(data):
        incl = int.from_bytes(data[at + 8:at + 12], order)
        frames, total, at = frames + 1, total + incl, at + 16 + incl
    return frames, total


def offline_messages(build, path):
    """Requests and replies in one pass of the capture, by cg-mirror-read (the same parser, offline)."""
    tool = os.path.join(build, "dataplane", "mirror", "cg-mirror-read")
    out = subprocess.run([tool, path], capture_output=True, text=True, timeout=60, check=True).stdout
    return sum(1 for line in out.splitlines() if json.loads(line).get("type") == "message")


def counters(gwctl, sock):
    """show mirror's counters and the SPAN port's rx pkts and bytes (show ports)."""
    c = {}
    out = subprocess.run([gwctl, "-s", sock, "show", "mirror"], capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        m = re.fullmatch(r"\s*([a-z_.]+)\s+(\d+)\s*", line)
        if m:
            c[m.group(1)] = int(m.group(2))
    out = subprocess.run([gwctl, "-s", sock, "show", "ports"], capture_output=True, text=True, timeout=20).stdout
    for line in out.splitlines():
        f = line.split()
        if f and f[0] == "span":
            c["rx_pkts"], c["rx_bytes"] = int(f[-8]), int(f[-6])
    c["t"] = time.monotonic()
    return c


def gatewayd_rate(build, gatewayd, capture, window, workdir):
    sock = os.path.join(workdir, f"{NAME}.sock")
    conf = os.path.join(workdir, f"gw-{NAME}.yaml")
    with open(conf, "w") as f:
        f.write(f"""# scripts/bench: the mirror parser on one lcore, fed by the pcap PMD in a loop.
gateway: {{name: {NAME}, control_socket: {sock}, idle_sleep: 0}}
eal: {{args: ["--in-memory"]}}
lcores: {{main: {MAIN_CPU}, workers: [{WORKER_CPU}]}}
ports:
  - {{name: lan, device: "net_null_lan0,no-rx=1", address: 198.18.0.2}}
  - {{name: span, device: "{pcap_vdev('span', capture)}"}}
tables: {{mbufs: 16383}}
mirror_parser: {{ports: [span], lcores: [{WORKER_CPU}], connections: {CONNECTIONS}}}
""")
    gwctl = os.path.join(build, "control", "gwctl", "gwctl")
    logfile = os.path.join(workdir, f"gw-{NAME}.log")
    p = subprocess.Popen([gatewayd, "-c", conf], stdout=open(logfile, "w"),
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        r = subprocess.run([gwctl, "-s", sock, "--wait", "30", "show", "info"], capture_output=True, text=True,
                           timeout=40)
        if r.returncode != 0:
            raise RuntimeError(f"gatewayd does not answer: {r.stderr.strip()}; {open(logfile).read()[-500:]}")
        time.sleep(0.5)  # past the first passes
        a = counters(gwctl, sock)
        time.sleep(window)
        b = counters(gwctl, sock)
        m = re.search(r"MiB each \((\d+) bytes a connection, (\d+) request chunks of (\d+) bytes\)",
                      open(logfile).read())
    finally:
        stop(p, signal.SIGTERM)
    d = {k: b[k] - a.get(k, 0) for k in b}
    # Whatever moved beyond a clean parse (a drop, a gap, a parse error, an
    # unmatched reply...) is reported by name.
    others = {k: v for k, v in d.items()
              if v and not k.startswith(CLEAN) and not k.endswith(CLEAN_ENDS) and k not in ("t", "rx_pkts", "rx_bytes")}
    return {"frames": d["rx_pkts"], "bytes": d["rx_bytes"], "seconds": d["t"],
            "messages": d.get("messages.requests", 0) + d.get("messages.replies", 0),
            "followed": d.get("frames.followed", 0), "others": others,
            "conn_bytes": int(m.group(1)) if m else None, "chunk_bytes": int(m.group(3)) if m else None}


def testpmd_rate(capture, window, workdir):
    """testpmd rxonly on the same PMD and capture: the mean of its per-second Rx-pps past the first two."""
    logfile = os.path.join(workdir, "testpmd-parser.log")
    cmd = ["dpdk-testpmd", "-l", f"{MAIN_CPU},{WORKER_CPU}", "--main-lcore", str(MAIN_CPU), "--file-prefix", TP_PREFIX,
           "--in-memory", "--no-pci", "--vdev", pcap_vdev("ref", capture), "--", "--forward-mode=rxonly",
           "--auto-start", "--nb-cores=1", "--rxq=1", "--txq=1", "--burst=32", "--total-num-mbufs=16384",
           "--stats-period=1"]
    p = subprocess.Popen(cmd, stdout=open(logfile, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(window + 3.5)  # its first two per-second rates are the start; window s after them
    finally:
        stop(p, signal.SIGINT)
    rates = [int(x) for x in re.findall(r"Rx-pps:\s+(\d+)", open(logfile).read())]
    if len(rates) < 3:
        raise RuntimeError(f"testpmd rxonly printed {len(rates)} rates; see {logfile}")
    rates = rates[2:]
    return sum(rates) / len(rates)


def measure(build, gatewayd, name, window, workdir, log):
    path = os.path.join(FIXTURES, f"{name}.pcap")
    frames, size = pcap_frames(path)
    per_pass = offline_messages(build, path)
    gw = gatewayd_rate(build, gatewayd, path, window, workdir)
    ref = testpmd_rate(path, window, workdir)
    passes = gw["frames"] / frames
    r = {"capture": name, "what": CAPTURES[name], "pcap_frames": frames, "pcap_bytes": size,
         "messages_per_pass": per_pass, "passes": round(passes, 1),
         "messages_seen_per_pass": round(gw["messages"] / passes, 2) if passes else 0,
         "pps": round(gw["frames"] / gw["seconds"]), "gbps": round(gw["bytes"] * 8 / gw["seconds"] / 1e9, 2),
         "messages_per_s": round(gw["messages"] / gw["seconds"]), "followed": gw["followed"], "frames": gw["frames"],
         "others": gw["others"], "rxonly_pps": round(ref), "ratio": round(gw["frames"] / gw["seconds"] / ref, 3),
         "conn_bytes": gw["conn_bytes"], "chunk_bytes": gw["chunk_bytes"]}
    log(f"parser rate {name}: {r['pps'] / 1e6:.2f} Mpps, {r['gbps']} Gbit/s, {r['messages_per_s']:,} messages/s; "
        f"rxonly {r['rxonly_pps'] / 1e6:.2f} Mpps; ratio {r['ratio']}; messages a pass {r['messages_seen_per_pass']} "
        f"(offline {per_pass}); other counters {r['others'] or 'none'}")
    return r


def run(build, quick=False, log=print, captures=None, window=None, gatewayd=None):
    window = window or (2.0 if quick else 4.0)
    gatewayd = gatewayd or os.path.join(build, "dataplane", "gatewayd")
    out = []
    with tempfile.TemporaryDirectory(prefix="cg-parser-rate-") as workdir:
        for name in captures or list(CAPTURES):
            try:
                out.append(measure(build, gatewayd, name, window, workdir, log))
            except Exception as e:  # one capture's failure is reported; the others are still measured
                out.append({"capture": name, "what": CAPTURES[name], "error": f"{type(e).__name__}: {e}"})
                log(f"parser rate {name} failed: {e}")
    return {"runs": out, "window_s": window}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--captures", default=",".join(CAPTURES), help="fixture names, comma-separated")
    ap.add_argument("--window", type=float, default=4.0, help="seconds measured per capture and program")
    ap.add_argument("--gatewayd", help="another gatewayd binary to measure (default: the build's)")
    a = ap.parse_args()
    t = run(a.build, captures=a.captures.split(","), window=a.window, gatewayd=a.gatewayd,
            log=lambda m: print(m, file=sys.stderr, flush=True))
    print(json.dumps(t, indent=1))


if __name__ == "__main__":
    main()
