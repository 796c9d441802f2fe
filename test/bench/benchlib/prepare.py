"""Before a run: the packages, the build, hugepages, and clean run and
output directories; anything missing ends the run before it starts."""
import os
import shutil
import subprocess
import sys

from .topology import GW_SOCK, MEMIF, REF_MEMIF, ROOT, RUN_DIR


def prepare(args):
    r = subprocess.run([os.path.join(ROOT, "scripts", "install-deps")])
    if r.returncode != 0:
        sys.exit("bench: scripts/install-deps failed")
    if not args.no_build:
        if not os.path.exists(os.path.join(args.build, "build.ninja")):
            subprocess.run(["meson", "setup", args.build, "--buildtype=debugoptimized"], check=True)
        r = subprocess.run(["ninja", "-C", args.build])
        if r.returncode != 0:
            sys.exit("bench: build failed")
    for b in (args.gatewayd, args.gwctl, args.pktgen):
        if not os.access(b, os.X_OK):
            sys.exit(f"bench: {b} is missing (meson option bench=true?)")
    # One page of 1 GiB for gatewayd's connection table (the largest, 10M, takes 512 MiB); without
    # one the tables lie on 2 MiB pages, as gatewayd's log says.
    pages = [os.path.join(ROOT, "scripts", "hugepages"), "1024" if args.quick else "1536"]
    r = subprocess.run(pages + ["1"])
    if r.returncode != 0:
        r = subprocess.run(pages)
    if r.returncode != 0:
        sys.exit("bench: no hugepages")
    os.makedirs(RUN_DIR, exist_ok=True)
    shutil.rmtree(args.raw, ignore_errors=True)
    os.makedirs(args.raw)
    for f in os.listdir(args.out):
        if f.endswith(".png"):
            os.unlink(os.path.join(args.out, f))
    if any(os.path.exists(f) for f in (MEMIF, REF_MEMIF, GW_SOCK)):
        sys.exit(f"bench: {MEMIF}, {REF_MEMIF} or {GW_SOCK} exists: another benchmark is running? (remove them if not)")
