"""The devices under test: gatewayd, and dpdk-testpmd (io or macswap) as the
forwarding ceiling. Each is a memif server on CPU 1."""
import os
import re
import signal
import time

from .procs import hugetlb_kib, remove_runtime, sh, spawn, stop, thread_of, unlink_quietly
from .topology import (DUT_MAIN_CPU, DUT_WORKER_CPU, GW_NAME, GW_PREFIX, GW_SOCK, MEMIF, NODES, REF_MEMIF, TP_PREFIX,
                       VIP, server_dev)


class Dut:
    """A memif server on CPU 1: gatewayd or testpmd. Two may be up at once,
    each on its own socket: the one not measured is paused (SIGSTOP), so that
    its busy-polling worker leaves CPU 1 to the other, and runs of the two
    can alternate without restarts."""

    kind = "?"
    prefix = None         # its EAL file prefix, whose runtime files stop() removes
    own_files = ()        # what it leaves besides its memif socket
    stop_signal = signal.SIGTERM

    def __init__(self, raw, tag, memif):
        self.raw, self.tag, self.memif, self.p, self.worker_tid = raw, tag, memif, None, None

    def launch(self, cmd, ready):
        """Starts `cmd`, waits for its memif listener and for `ready()`, finds its worker."""
        unlink_quietly(self.memif, *self.own_files)
        self.p = spawn(cmd, self.logfile)
        self.wait_memif(60)
        ready()
        self.worker_tid = thread_of(self.p.pid, "rte-worker")
        self.hugetlb_kib = hugetlb_kib(self.p.pid)
        return self

    def pause(self):
        os.kill(self.p.pid, signal.SIGSTOP)
        end = time.time() + 5
        while time.time() < end:  # wait until every thread is stopped
            states = []
            for tid in os.listdir(f"/proc/{self.p.pid}/task"):
                with open(f"/proc/{self.p.pid}/task/{tid}/stat") as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            if all(st in ("T", "t") for st in states):
                return
            time.sleep(0.01)

    def resume(self):
        os.kill(self.p.pid, signal.SIGCONT)
        time.sleep(0.05)

    def probe(self):
        return f"/proc/{self.p.pid}/task/{self.worker_tid}/schedstat"

    def wait_memif(self, deadline_s=30):
        end = time.time() + deadline_s
        while time.time() < end:
            if self.p.poll() is not None:
                raise RuntimeError(f"{self.kind} exited with {self.p.returncode}; see {self.logfile}")
            if os.path.exists(self.memif):
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.kind}: no memif socket after {deadline_s} s; see {self.logfile}")

    def counters(self):
        return {}

    def stop(self):
        if self.p:
            stop(self.p, self.stop_signal)
            self.p = None
        unlink_quietly(self.memif, *self.own_files)
        remove_runtime(self.prefix)


def tables_and_cluster(connections):
    """The end of every bench gatewayd's configuration: its tables, and the bench cluster on port 80 over NODES."""
    nodes = "\n".join(f'          - {{address: {ip}, mac: "{mac}", weight: {w}}}' for ip, mac, w in NODES)
    return f"""tables:
  connections: {connections}
  services: 16
  nodes: 64
  mbufs: 16383
  burst: 32
clusters:
  - name: bench
    address: {VIP}
    ports:
      - port: 80
        nodes:
{nodes}
"""


class Gatewayd(Dut):
    kind = "gatewayd"
    prefix = GW_PREFIX
    own_files = (GW_SOCK,)

    def __init__(self, args, raw, tag, connections, mirror=None):
        """`mirror`: None, or a mirror.mode (every_frame, state_changes): the
        copies go to a net_null port, which frees them (the cost is the
        active's: the decision, the clone, the queueing)."""
        super().__init__(raw, tag, MEMIF)
        self.args, self.connections, self.mirror = args, connections, mirror
        self.conf = os.path.join(raw, f"gw-{tag}.yaml")
        self.logfile = os.path.join(raw, f"gw-{tag}.log")

    def start(self):
        with open(self.conf, "w") as f:
            f.write(f"""# scripts/bench: gatewayd on one worker, one memif port (one-arm), static node MACs.
gateway:
  name: {GW_NAME}
  control_socket: {GW_SOCK}
  idle_sleep: 0
eal:
  args: ["--in-memory"]
lcores:
  main: {DUT_MAIN_CPU}
  workers: [{DUT_WORKER_CPU}]
ports:
  - name: lan
    device: "{server_dev(self.memif)}"
{self.mirror_lines()}{tables_and_cluster(self.connections)}""")
        return self.launch([self.args.gatewayd, "-c", self.conf], self.wait_control)

    def mirror_lines(self):
        if not self.mirror:
            return ""
        return f'  - {{name: peer, device: "net_null_mirror0,no-rx=1"}}\nmirror: {{port: peer, mode: {self.mirror}}}\n'

    def wait_control(self):
        r = self.gwctl("--wait", "30", "show", "info", timeout=40)
        if r.returncode != 0:
            raise RuntimeError(f"gatewayd does not answer on {GW_SOCK}: {r.stderr.strip()}; see {self.logfile}")

    def gwctl(self, *words, timeout=20):
        return sh([self.args.gwctl, "-s", GW_SOCK, *words], timeout=timeout)

    def counters(self):
        """The worker's counters and every drop reason (gwctl show lcores / show drops)."""
        c = {}
        for line in self.gwctl("show", "lcores").stdout.splitlines():
            m = re.match(r"\s*\d+\s+worker 0\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", line)
            if m:
                c.update(zip(("rx", "fwd", "tx", "drops", "conns"), map(int, m.groups())))
        for line in self.gwctl("show", "drops").stdout.splitlines():
            m = re.match(r"\s*([a-z0-9_]+)\s+(\d+)\s*$", line)
            if m and m.group(1) not in ("name", "total"):
                c["drop_" + m.group(1)] = int(m.group(2))
        return c

    def loop_times(self):
        """The worker's busy poll iterations by duration bucket, from gwctl
        show lcores ("<1us 5213082, 1-2us 32499, ..."): {label: count}."""
        m = re.search(r"^\s*\d+ worker 0: (.*)$", self.gwctl("show", "lcores").stdout, re.M)
        return {k: int(v) for k, v in re.findall(r"([<>=\d-]+us) (\d+)", m.group(1))} if m else {}

    def loop_times_paused(self):
        """loop_times() of a paused gatewayd, which stays paused."""
        self.resume()
        try:
            return self.loop_times()
        finally:
            self.pause()


class Testpmd(Dut):
    kind = "testpmd"
    prefix = TP_PREFIX
    stop_signal = signal.SIGINT

    def __init__(self, args, raw, tag, mode):
        super().__init__(raw, tag, REF_MEMIF)
        self.args, self.mode = args, mode
        self.logfile = os.path.join(raw, f"testpmd-{tag}.log")

    def cmd(self):
        return ["dpdk-testpmd", "-l", f"{DUT_MAIN_CPU},{DUT_WORKER_CPU}", "--main-lcore", str(DUT_MAIN_CPU),
                "--file-prefix", TP_PREFIX, "--in-memory", "--no-pci", "--vdev", server_dev(self.memif), "--",
                f"--forward-mode={self.mode}", "--port-topology=loop", "--auto-start", "--nb-cores=1",
                "--rxq=1", "--txq=1", "--burst=32", "--total-num-mbufs=16384", "--stats-period=3600"]

    def start(self):
        return self.launch(self.cmd(), self.wait_forwarding)

    def wait_forwarding(self):
        # The listener exists from EAL's probe on; the port takes clients once started.
        end = time.time() + 60
        while "packet forwarding - ports=" not in open(self.logfile).read():
            if self.p.poll() is not None or time.time() > end:
                raise RuntimeError(f"testpmd did not start forwarding; see {self.logfile}")
            time.sleep(0.05)
