"""Everything the benchmark starts is a Popen in `started` until it is
stopped, by its PID: cleanup() stops what is left, also on failure or a
signal, and removes the sockets and DPDK runtime files they leave."""
import os
import shutil
import signal
import subprocess
import sys
import time

from .topology import GEN_PREFIX, GW_PREFIX, GW_SOCK, MEMIF, REF_MEMIF, TP_PREFIX

started = []  # Popen objects still to stop


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def spawn(cmd, logfile, mode="w"):
    """Starts `cmd` with its output in `logfile` (mode "a": after what is there) and keeps it to stop."""
    p = subprocess.Popen(cmd, stdout=open(logfile, mode), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    started.append(p)
    return p


def stop(p, sig=signal.SIGTERM, wait=15):
    """Stops one process we started, by its PID: `sig`, then SIGKILL."""
    if p.poll() is None:
        try:
            p.send_signal(signal.SIGCONT)  # it may be paused (Dut.pause)
            p.send_signal(sig)
            p.wait(wait)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    if p in started:
        started.remove(p)


def unlink_quietly(*paths):
    for f in paths:
        try:
            os.unlink(f)
        except OSError:
            pass


def remove_runtime(prefix):
    """DPDK leaves its runtime directory (and, without --in-memory, hugepage files) behind."""
    shutil.rmtree(f"/var/run/dpdk/{prefix}", ignore_errors=True)
    if os.path.isdir("/dev/hugepages"):
        unlink_quietly(*(os.path.join("/dev/hugepages", f) for f in os.listdir("/dev/hugepages")
                         if f.startswith(prefix + "map_")))


def cleanup():
    for p in list(started):
        stop(p, signal.SIGTERM, 10)
    unlink_quietly(MEMIF, REF_MEMIF, GW_SOCK)
    for prefix in (GW_PREFIX, GEN_PREFIX, TP_PREFIX):
        remove_runtime(prefix)


def on_signal(sig, _frame):
    log(f"signal {sig}: cleaning up")
    cleanup()
    sys.exit(128 + sig)


def sh(cmd, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), capture_output=True, text=True, **kw)


def thread_of(pid, name, deadline_s=10):
    """The TID of a thread of `pid` whose name starts with `name` (EAL: rte-worker-N)."""
    end = time.time() + deadline_s
    while time.time() < end:
        try:
            for tid in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{tid}/comm") as f:
                    if f.read().strip().startswith(name):
                        return int(tid)
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"no thread {name} in process {pid}")


def hugetlb_kib(pid):
    """Hugepage memory mapped by a process (its smaps), KiB."""
    total = 0
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if line.startswith(("Private_Hugetlb:", "Shared_Hugetlb:")):
                total += int(line.split()[1])
    return total
