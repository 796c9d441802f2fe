"""gatewayd in a Topology's gateway namespace, and gwctl against it.

`Gateway` writes a config from conf/gateway.yaml with a name and control
socket of its own (the name is the DPDK file prefix: two gateways must never
share it), starts gatewayd (in the background, or with `-i` in a private tmux
server), waits until it answers and has resolved every node, runs gwctl
commands, and on exit stops gatewayd by PID (SIGTERM, then SIGKILL after a
deadline) and removes the hugepage files and runtime directory DPDK leaves.

`lab()` is the whole test bench (topology, node servers, gateway, client)
that the suite and the demo share. The parse_* helpers read the console's
tables, which are columns separated by two or more blanks.

Python stdlib only.
"""

import contextlib
import glob
import os
import re
import shlex
import shutil
import subprocess
import types

from topology import (CLUSTER_IP, CommandError, Topology, pid_alive, run, signals_held, stop_pid,
                      tail, wait_for)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CONFIG = os.path.join(ROOT, "conf", "gateway.yaml")
PROMPT = "gatewayd> "


class GatewayError(AssertionError):
    pass


# ---- config ----------------------------------------------------------------

def override_yaml(text, overrides):
    """Sets `section.key: value` for the flat top-level sections of a
    gateway config (gateway, eal, timers, ...), keeping everything else as
    written (clusters included). Values are written as given: quote them in
    the string when YAML needs it."""
    lines = text.splitlines()
    for dotted, value in overrides.items():
        section, key = dotted.split(".")
        start = next((i for i, l in enumerate(lines) if re.match(rf"{section}:\s*(#.*)?$", l)), None)
        if start is None:
            lines += [f"{section}:", f"  {key}: {value}"]
            continue
        end = start + 1
        while end < len(lines) and (not lines[end].strip() or lines[end].startswith((" ", "#"))):
            end += 1
        hit = next((i for i in range(start + 1, end) if re.match(rf"  {key}:", lines[i])), None)
        if hit is None:
            lines.insert(start + 1, f"  {key}: {value}")
        else:
            lines[hit] = f"  {key}: {value}"
    return "\n".join(lines) + "\n"


# ---- parsing the console's output ------------------------------------------

def split_row(line):
    return re.split(r"\s{2,}", line.strip())


def parse_table(lines):
    """A console table (header line, then rows) -> list of dicts."""
    if not lines:
        return []
    header = split_row(lines[0])
    return [dict(zip(header, split_row(l))) for l in lines[1:]]


def parse_counts(text):
    """name/count tables (`show drops`, the sections of `show stats`)."""
    return {r["name"]: int(r["count"]) for r in parse_table(text.strip("\n").splitlines())}


def parse_stats(text):
    """`show stats` -> {section: rows}: "ports" and "lcores" as lists of
    dicts, "drops", "connection events" and "control" as {name: count}."""
    sections, name = {}, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.endswith(":"):
            name = line[:-1].split(" (")[0]
            sections[name] = []
        elif name and line.strip():
            sections[name].append(line)
    out = {}
    for name, lines in sections.items():
        out[name] = parse_table(lines)
        if name in ("drops", "connection events", "control"):
            out[name] = {r["name"]: int(r["count"]) for r in out[name]}
    return out


def parse_clusters(text):
    """`show clusters` -> {(proto, port): {"fin": "6s", ..., "nodes":
    {address: row}}} for every cluster port, and under "orphans" the
    draining nodes of removed ports ({address: row})."""
    services, orphans = {}, {}
    current, table = None, []

    def flush():
        if current is not None and table:
            for row in parse_table(table):
                current["nodes"][row["node"].split()[0]] = row
        table.clear()

    for line in text.splitlines():
        m = re.match(r"  (tcp|udp) (\d+): (.*)", line)
        if m:
            flush()
            current = {"nodes": {}}
            for item in m.group(3).split(", "):
                k, _, v = item.rpartition(" ")
                current[k] = v
            services[(m.group(1), int(m.group(2)))] = current
        elif line.startswith("draining nodes of removed ports"):
            flush()
            current = {"nodes": orphans}
        elif line.startswith("cluster "):
            flush()
            current = None
        elif current is not None and line.strip() and line.strip() != "(no nodes)":
            table.append(line)
    flush()
    services["orphans"] = orphans
    return services


def node_new(clusters, proto, port):
    """{node address: new connections} of one cluster port."""
    return {a: int(r["new"]) for a, r in clusters[(proto, port)]["nodes"].items()}


# ---- spread ------------------------------------------------------------------

def spread_rows(seen, weights, tolerance=0.05):
    """Compares what a client saw with the configured weights. `seen` and
    `weights` map node -> count / weight. Returns (rows, failures): rows of
    (node, weight, seen, share, expected share), and a message for each node
    whose count is off its expected count by more than `tolerance`
    (relative: with 3:2:1 over 600, 300 +- 15, 200 +- 10, 100 +- 5)."""
    total = sum(seen.values())
    wsum = sum(weights.values())
    rows, failures = [], []
    for node, w in weights.items():
        got = seen.get(node, 0)
        want = total * w / wsum if wsum else 0
        rows.append((node, w, got, got / total if total else 0.0, w / wsum if wsum else 0.0))
        if abs(got - want) > tolerance * want:
            failures.append(f"{node}: {got} of {total}, expected {want:.1f} +- {tolerance * want:.1f}")
    for node in seen.keys() - weights.keys():
        failures.append(f"{node}: answered {seen[node]} times but has no weight")
    return rows, failures


def format_rows(header, rows):
    """Plain aligned text table, for the demo and failure messages."""
    cells = [list(map(str, header))] + [[str(c) for c in r] for r in rows]
    width = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.rjust(width[i]) if i else c.ljust(width[i]) for i, c in enumerate(r))
                     for r in cells)


# ---- the gateway -------------------------------------------------------------

GW_MEMORY_MB = 256   # conf/gateway.yaml eal.memory: what one gatewayd takes


# The programs the system tests and the demo run, as meson targets (paths
# under the build directory). scripts/demo builds exactly these
# (`demo.py --programs`), so a part that needs a new program cannot be
# forgotten there.
PROGRAMS = ("dataplane/gatewayd", "control/gwctl/gwctl", "control/controld/controld", "control/nodeagent/nodeagent")


def preflight(build, tools=("ip", "ethtool")):
    """Why gatewayd cannot run here, as a list of messages (empty: it can):
    each is a loud failure for the suite and the demo, never a skip."""
    problems = []
    if os.geteuid() != 0:
        problems.append("not root: network namespaces and DPDK need root (run as root)")
    for tool in tools:
        if not shutil.which(tool):
            problems.append(f"{tool} not found (scripts/install-deps)")
    for b in PROGRAMS:
        if not os.access(os.path.join(build, b), os.X_OK):
            problems.append(f"{os.path.join(build, b)} missing: build first (ninja -C {build})")
    with open("/proc/meminfo") as f:
        meminfo = dict(l.split(":", 1) for l in f)
    free = int(meminfo.get("HugePages_Free", "0").split()[0])
    size_kb = int(meminfo.get("Hugepagesize", "0 kB").split()[0])
    if free * size_kb < GW_MEMORY_MB * 1024:
        problems.append(f"no hugepages: {free} free pages of {size_kb} kB, one gatewayd needs {GW_MEMORY_MB} MB "
                        "(scripts/hugepages)")
    if not hugetlbfs_mounts():
        problems.append("hugetlbfs is not mounted (scripts/hugepages)")
    return problems


def hugetlbfs_mounts():
    with open("/proc/mounts") as f:
        return [l.split()[1] for l in f if l.split()[2:3] == ["hugetlbfs"]]


def remove_dpdk_files(name):
    """What an EAL primary with --file-prefix cg-<name> leaves behind."""
    for mount in hugetlbfs_mounts():
        for f in glob.glob(os.path.join(mount, f"cg-{name}map_*")):
            os.unlink(f)
    runtime = f"/var/run/dpdk/cg-{name}"
    if os.path.isdir(runtime):
        shutil.rmtree(runtime, ignore_errors=True)


def sweep_stale(log=print):
    """DPDK files and tmux servers of gateways of earlier runs that died
    without cleaning up (gateway names "cgt<pid>-..." whose pid is gone)."""
    for sock in glob.glob(f"/tmp/tmux-{os.getuid()}/cgt*"):
        m = re.match(r"cgt(\d+)-", os.path.basename(sock))
        if m and not pid_alive(int(m.group(1))):
            log(f"removing tmux server {sock}, left by dead process {m.group(1)}")
            r = run(["tmux", "-S", sock, "display-message", "-p", "#{pid}"], check=False, timeout=5)
            if r.returncode == 0 and r.stdout.strip().isdigit():
                stop_pid(int(r.stdout.strip()), timeout=5)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(sock)
    seen = set()
    for path in glob.glob("/var/run/dpdk/cg-cgt*") + [
            f for m in hugetlbfs_mounts() for f in glob.glob(os.path.join(m, "cg-cgt*map_*"))]:
        m = re.search(r"cg-(cgt(\d+)-[a-z0-9_]+?)(map_\d+)?$", os.path.basename(path))
        if m and not pid_alive(int(m.group(2))) and m.group(1) not in seen:
            seen.add(m.group(1))
            log(f"removing DPDK files of {m.group(1)}, left by dead process {m.group(2)}")
            remove_dpdk_files(m.group(1))


class Gateway:
    """One gatewayd in `topo`'s gateway namespace. A context manager: on
    exit it is stopped and its files removed; on an exception, the tail of
    its log is added to the exception's notes."""

    def __init__(self, topo, build, overrides=None, interactive=False, config=DEFAULT_CONFIG, ns=None, suffix=""):
        """`ns` and `suffix`: another gateway namespace than topo.gw, and what
        tells its files and DPDK prefix from the first gateway's ("b")."""
        self.topo = topo
        self.ns = ns or topo.gw
        self.gatewayd = os.path.join(build, "dataplane", "gatewayd")
        self.gwctl = os.path.join(build, "control", "gwctl", "gwctl")
        for b in (self.gatewayd, self.gwctl):
            if not os.access(b, os.X_OK):
                raise GatewayError(f"{b}: not built (ninja -C {build})")
        self.name = f"cgt{os.getpid()}-{topo.tag}{suffix}"
        self.socket = os.path.join(topo.dir, f"gw{suffix}.sock")
        self.config = os.path.join(topo.dir, f"gateway{suffix}.yaml")
        self.log = os.path.join(topo.dir, f"gatewayd{suffix}.log")
        self.interactive = interactive
        with open(config) as f:
            text = f.read()
        settings = {"gateway.name": self.name, "gateway.control_socket": self.socket}
        settings.update(overrides or {})
        with open(self.config, "w") as f:
            f.write(override_yaml(text, settings))
        self.pid = None
        self._proc = None
        self._tmux = None      # .name (-L socket), .pid (server), .path (socket file) when interactive

    def __enter__(self):
        try:
            self.start()
            self.wait_ready()
        except BaseException as e:
            self.__exit__(type(e), e, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc is not None:
            exc.add_note(self._log_note())
        with signals_held():
            rc = self.stop()
        # A clean SIGTERM (or `quit`) ends gatewayd with status 0: anything
        # else is a crash or a hang that the scenario itself did not see.
        if exc is None and rc not in (0, None):
            e = GatewayError(f"gatewayd ended with status {rc} when stopped")
            e.add_note(self._log_note())
            raise e
        return False

    def _log_note(self):
        return "gatewayd log, last lines:\n" + "".join("  " + l for l in self.log_tail(20).splitlines(True))

    # ---- start / stop ----------------------------------------------------

    def argv(self):
        return [self.gatewayd, "-c", self.config, "-s", self.socket] + (["-i"] if self.interactive else [])

    def start(self):
        if self.interactive:
            self._start_tmux()
        else:
            self._proc = self.topo.spawn(self.ns, self.argv(), name="gatewayd")
            self.log = self._proc.log
            self.pid = self._proc.pid

    def _start_tmux(self):
        """gatewayd -i on the terminal of a private tmux server (its own
        socket, no user config). The pane runs a shell that starts gatewayd
        and writes its exit status to a file: tmux 3.3a's
        #{pane_dead_status} is often empty for a pane whose process exited 0
        (a race in tmux, seen here 5 times in 6), and a crash must be told
        apart from a clean exit."""
        self.rc_file = os.path.join(self.topo.dir, "gatewayd.rc")
        conf = os.path.join(self.topo.dir, "tmux.conf")
        with open(conf, "w") as f:
            f.write("set -g remain-on-exit on\nset -g history-limit 5000\n")
        # stderr (the log) to a file; the console's own output stays on the
        # terminal. `ip netns exec` execs gatewayd: the shell's child is it.
        q = shlex.quote
        cmd = f"{shlex.join(['ip', 'netns', 'exec', self.ns] + self.argv())} 2>>{q(self.log)}; " \
              f"echo $? > {q(self.rc_file)}"
        self._tmux = types.SimpleNamespace(name=self.name, pid=None, path=None)
        self.tmux("-f", conf, "new-session", "-d", "-s", "gw", "-x", "160", "-y", "50", cmd)
        server, self._tmux.path = self.tmux("display-message", "-p", "#{pid} #{socket_path}").split()
        self._tmux.pid = int(server)
        shell = int(self.tmux("display-message", "-p", "-t", "gw", "#{pane_pid}").strip())

        def gatewayd_pid():
            with open(f"/proc/{shell}/task/{shell}/children") as f:
                kids = f.read().split()
            if len(kids) == 1:
                with open(f"/proc/{kids[0]}/comm") as f:
                    return int(kids[0]) if f.read().strip() == "gatewayd" else None
            return None
        self.pid = wait_for(gatewayd_pid, 10, "gatewayd started in tmux")

    def tmux(self, *args):
        env = dict(os.environ)
        env.pop("TMUX", None)   # a runner started inside tmux must not talk to the user's server
        r = subprocess.run(["tmux", "-L", self._tmux.name, *args], capture_output=True, text=True,
                           timeout=10, env=env)
        if r.returncode != 0:
            raise GatewayError(f"tmux {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    def running(self):
        if self._proc is not None:
            return self._proc.poll() is None
        return self.pid is not None and pid_alive(self.pid)

    def exit_status(self):
        """gatewayd's exit status once it ended, else None."""
        if self._proc is not None:
            return self._proc.poll()
        if self._tmux and not self.running():
            with contextlib.suppress(FileNotFoundError, ValueError):
                with open(self.rc_file) as f:
                    return int(f.read())
        return None

    def stop(self, timeout=10):
        """Stops gatewayd by PID (SIGTERM, SIGKILL after `timeout`), the tmux
        server if any, and removes DPDK's files. Idempotent. Returns
        gatewayd's exit status if known."""
        rc = None
        if self._proc is not None:
            rc = self.topo.stop(self._proc, timeout=timeout)
            self._proc = None
        elif self.pid is not None and self.running():
            stop_pid(self.pid, timeout=timeout)
        if self._tmux:
            rc = self.exit_status()
            if self._tmux.pid:
                stop_pid(self._tmux.pid, timeout=5)
            if self._tmux.path:  # tmux leaves its socket file behind
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self._tmux.path)
            self._tmux = None
        self.pid = None
        remove_dpdk_files(self.name)
        return rc

    # ---- talking to it -----------------------------------------------------

    def ctl(self, *words, timeout=10, check=True, socket=None):
        """Runs one console command through gwctl (on gatewayd's socket, or
        `socket`); returns its output. With `check`, a failed command raises
        GatewayError with the output."""
        argv = [self.gwctl, "-s", socket or self.socket, *words]
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise GatewayError(f"gwctl {' '.join(words)}: no answer after {timeout}s") from None
        if check and r.returncode != 0:
            raise GatewayError(f"gwctl {' '.join(words)}: exit {r.returncode}: {(r.stdout + r.stderr).strip()}")
        return r.stdout

    def clusters(self):
        return parse_clusters(self.ctl("show", "clusters"))

    def drops(self):
        return parse_counts(self.ctl("show", "drops"))

    def stats(self):
        return parse_stats(self.ctl("show", "stats"))

    def info(self):
        """`show info`: {"gateway": ..., "ports": [rows]}."""
        text = self.ctl("show", "info")
        head, _, rest = text.partition("ports:\n")
        ports, _, _ = rest.partition("lcores:\n")
        out = dict(split_row(l)[:2] for l in head.splitlines() if len(split_row(l)) >= 2)
        out["ports"] = parse_table(ports.splitlines())
        return out

    def log_tail(self, lines=30):
        return tail(self.log, lines)

    def wait_ready(self, timeout=30):
        """Until gatewayd answers on its socket and every node of every
        cluster port has a MAC (ARP done). A gatewayd that exits meanwhile
        fails at once, with its log."""
        def answering():
            if not self.running():
                raise GatewayError(f"gatewayd exited ({self.exit_status()}) during start:\n{self.log_tail()}")
            r = subprocess.run([self.gwctl, "-s", self.socket, "--wait", "0.5", "show", "info"],
                               capture_output=True, text=True, timeout=10)
            return r.returncode == 0

        def resolved():
            if not self.running():
                raise GatewayError(f"gatewayd exited ({self.exit_status()}):\n{self.log_tail()}")
            c = self.clusters()
            missing = [a for k, s in c.items() if k != "orphans" for a, r in s["nodes"].items()
                       if r["mac"] == "unresolved"]
            return not missing or None

        try:
            wait_for(answering, timeout, "gatewayd answers on its control socket", interval=0.1)
            wait_for(resolved, 10, "gatewayd resolved every node's MAC by ARP", interval=0.1)
        except GatewayError:
            raise
        except AssertionError as e:
            raise GatewayError(str(e)) from None

    # ---- the console in tmux ---------------------------------------------

    def pane(self):
        """The visible console text (history included), trailing blank lines
        dropped."""
        return self.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "gw").rstrip("\n")

    def cursor_line(self):
        """(text of the cursor's line, cursor column)."""
        x, y = self.tmux("display-message", "-p", "-t", "gw", "#{cursor_x} #{cursor_y}").split()
        screen = self.tmux("capture-pane", "-p", "-t", "gw").split("\n")
        y = int(y)
        return (screen[y] if y < len(screen) else ""), int(x)

    def type(self, text, enter=False):
        """Types `text` literally (no key names), then Enter if asked."""
        if text:
            self.tmux("send-keys", "-t", "gw", "-l", text)
        if enter:
            self.tmux("send-keys", "-t", "gw", "Enter")

    def key(self, name):
        self.tmux("send-keys", "-t", "gw", name)


# ---- the whole bench -----------------------------------------------------------

class Lab:
    """What lab() yields: topo, gw, client, and the node names by address."""

    def __init__(self, topo, gw, client):
        self.topo, self.gw, self.client = topo, gw, client
        self.node_by_ip = {ip: n for n, ip in topo.node_ips.items()}

    def http_new(self, count, timeout=60):
        """`count` new connections from the client; the node of each."""
        rep = self.client.call("http_new", timeout=timeout, address=CLUSTER_IP, count=count)
        return rep["nodes"], rep["errors"]

    def weights(self, proto, port):
        """{node name: weight} of a cluster port, as the gateway says."""
        nodes = self.gw.clusters()[(proto, port)]["nodes"]
        return {self.node_by_ip[a]: int(r["weight"].split()[0]) for a, r in nodes.items()}

    def new_by_node(self, proto, port):
        """The gateway's new-connection counters, by node name."""
        return {self.node_by_ip[a]: n for a, n in node_new(self.gw.clusters(), proto, port).items()}


@contextlib.contextmanager
def lab(tag, build, log=lambda m: None, overrides=None, interactive=False, client=True):
    """Topology + node servers + gatewayd (ready, nodes resolved) + client
    driver; everything stopped and removed on exit."""
    with Topology(tag, log=log) as topo:
        topo.start_node_servers()
        with Gateway(topo, build, overrides=overrides, interactive=interactive) as gw:
            log(f"gatewayd {gw.name} ready (pid {gw.pid})")
            yield Lab(topo, gw, topo.start_client() if client else None)


def counts(names):
    """A list of node names -> {name: how many times}."""
    out = {}
    for n in names:
        out[n] = out.get(n, 0) + 1
    return out


__all__ = ["CommandError", "Gateway", "GatewayError", "Lab", "counts", "format_rows", "lab",
           "parse_clusters", "parse_counts", "parse_stats", "remove_dpdk_files", "run", "spread_rows",
           "sweep_stale", "wait_for"]
