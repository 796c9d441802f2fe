"""The test network: a client, a gateway namespace and nodes on one bridge.

    lan ns:     br0  <- v-cl, v-gw, v-n1 .. v-nN   (veth peers)
    client ns:  eth0 198.18.0.10/24
    gateway ns: gw0  (no address: gatewayd owns it through net_af_packet)
    node nK:    eth0 198.18.0.1K/24, cluster address 198.18.0.100/32 on lo,
                arp_ignore=1 / arp_announce=2 (direct server return)

Every name starts with "cgt<pid>-<tag>-" so that concurrent runs, demos and
other engineers' namespaces never collide; interface names are local to their
namespace (veths are created straight into their namespaces), so nothing is
ever added to the host's own namespace. Only 198.18.0.0/15 is used. IPv6 is
off everywhere and the bridge bypasses netfilter, so that the gateway sees
exactly the frames a test sends and nothing else moves its drop counters.

`Topology` is a context manager: leaving it (normally, on an exception, or on
SIGINT/SIGTERM, which it turns into exceptions) stops every process it
started, by PID, and deletes its namespaces, which takes their veths and the
bridge with them. Python stdlib only.
"""

import contextlib
import glob
import hashlib
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
NODE_SERVER = os.path.join(HERE, "node_server.py")

SUBNET_PREFIX = 24
CLIENT_IP = "198.18.0.10"
GATEWAY_IP = "198.18.0.2"          # conf/gateway.yaml ports[lan].address
CLUSTER_IP = "198.18.0.100"        # conf/gateway.yaml clusters[web].address
NAME_RE = re.compile(r"^cgt(\d+)-")


def node_ip(index):
    """Address of node n<index> (1-based): 198.18.0.11, .12, ..."""
    return f"198.18.0.{10 + index}"


class WaitTimeout(AssertionError):
    """A condition did not come true before its deadline. An AssertionError:
    for a test, a condition that never came is a failed expectation."""


def wait_for(cond, timeout, what, interval=0.05):
    """Polls cond() until it returns something truthy, and returns that.
    Raises WaitTimeout naming `what` and the last value or error seen, so a
    failure says what was still wrong, not only that time ran out."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            value = cond()
            if value:
                return value
            last = value
        except Exception as e:  # the condition may fail until it holds (socket not there yet)
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"{what}: not true after {timeout:g}s (last: {last!r})")
        time.sleep(interval)


def pid_alive(pid):
    """True while `pid` exists and is not a zombie we have yet to reap."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False


def stop_pid(pid, timeout=5.0, sig=signal.SIGTERM):
    """Asks `pid` to stop (SIGTERM by default), SIGKILLs it after `timeout`.
    Returns True if it stopped on its own. Reaping is the caller's business
    (Popen.wait); here a zombie counts as gone."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.02)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return False


def tail(path, lines=30):
    """The last lines of a log file, for failure messages."""
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError as e:
        return f"(cannot read {path}: {e})"


@contextlib.contextmanager
def signals_held():
    """Holds SIGINT/SIGTERM back while cleaning up, so that a second Ctrl-C
    cannot leave half a network (or a gatewayd's hugepages) behind; a signal
    that came meanwhile is delivered when the block ends."""
    blocked = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, blocked)


class Interrupted(BaseException):
    """SIGTERM while a topology is up; like KeyboardInterrupt for SIGINT, it
    unwinds every `with` so that everything is cleaned up."""


class CommandError(RuntimeError):
    pass


def run(argv, timeout=20, check=True, input=None):
    """Runs argv (a list) to completion with a time limit; returns the
    CompletedProcess (text). With `check`, a non-zero exit raises
    CommandError carrying the command and its output."""
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as e:
        raise CommandError(f"{' '.join(argv)}: no answer after {timeout}s "
                           f"(output: {e.stdout!r} {e.stderr!r})") from None
    if check and r.returncode != 0:
        raise CommandError(f"{' '.join(argv)}: exit {r.returncode}: {(r.stdout + r.stderr).strip()}")
    return r


def backlog_drops():
    """Frames the kernel dropped for a full per-CPU input queue
    (netdev_max_backlog), all CPUs, since boot. Every veth queues what it
    receives there: a burst past it is lost on the way, whoever sent it
    (a SPAN port's copies, or a client's requests all sent at once)."""
    with open("/proc/net/softnet_stat") as f:
        return sum(int(line.split()[1], 16) for line in f)


class Topology:
    """The namespaces, veths and bridge described above, and the processes
    started in them. `tag` makes names readable ("spread", "demo")."""

    def __init__(self, tag, nodes=3, log=None):
        if not re.fullmatch(r"[a-z0-9_]{1,12}", tag):
            raise ValueError(f"topology tag {tag!r}: 1-12 of a-z 0-9 _")
        self.tag = tag
        self.prefix = f"cgt{os.getpid()}-{tag}-"
        self.lan = self.prefix + "lan"
        self.gw = self.prefix + "gw"
        self.client = self.prefix + "cl"
        self.nodes = [f"n{i}" for i in range(1, nodes + 1)]
        self.node_ips = {n: node_ip(i) for i, n in enumerate(self.nodes, 1)}
        self.log = log or (lambda msg: None)
        self.dir = None            # a private directory for logs, configs, sockets
        self._namespaces = []      # created, in order
        self._procs = []           # (name, Popen) started by spawn()
        self._old_handlers = {}
        self._host_sysctls = {}    # key -> the value to put back on close

    def ns(self, node):
        """Namespace of node `node` ("n1")."""
        return self.prefix + node

    # ---- life cycle -------------------------------------------------------

    def __enter__(self):
        self._trap_signals()
        try:
            self.dir = tempfile.mkdtemp(prefix=self.prefix)
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def _trap_signals(self):
        def on_signal(signum, frame):
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Interrupted(f"signal {signum}")
        for s in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(s) is not signal.SIG_IGN:  # ignored on purpose (nohup, a background job)
                self._old_handlers[s] = signal.signal(s, on_signal)

    def close(self):
        """Stops every process started here (by PID), deletes the namespaces
        and the private directory. Idempotent; signals wait until it is done."""
        with signals_held():
            try:
                for name, p in reversed(self._procs):
                    if p.poll() is None:
                        stop_pid(p.pid, timeout=5)
                    try:
                        p.wait(timeout=5)
                    except subprocess.TimeoutExpired:
                        self.log(f"warning: {name} (pid {p.pid}) did not exit")
                self._procs.clear()
                for ns in reversed(self._namespaces):
                    self._kill_leftovers(ns)
                    run(["ip", "netns", "del", ns], check=False)
                self._namespaces.clear()
            finally:
                if self.dir:
                    shutil.rmtree(self.dir, ignore_errors=True)
                    self.dir = None
                for s, h in self._old_handlers.items():
                    signal.signal(s, h)
                self._old_handlers.clear()
                for key, old in self._host_sysctls.items():
                    with open(key, "w") as f:
                        f.write(old)
                self._host_sysctls.clear()

    @staticmethod
    def _kill_leftovers(ns):
        """Processes still inside a namespace that this run created can only
        be ours (a helper a test started outside spawn(), a forked child):
        stop them by PID so that the namespace really goes away."""
        r = run(["ip", "netns", "pids", ns], check=False)
        for pid in r.stdout.split():
            if pid.isdigit() and int(pid) != os.getpid():
                stop_pid(int(pid), timeout=2)

    @classmethod
    def sweep_stale(cls, log=print):
        """Removes the namespaces and private directories of earlier runs
        that died without cleaning up (SIGKILL): names "cgt<pid>-..." whose
        pid no longer exists."""
        r = run(["ip", "netns", "list"], check=False)
        for line in r.stdout.splitlines():
            name = line.split()[0] if line.split() else ""
            m = NAME_RE.match(name)
            if m and not pid_alive(int(m.group(1))):
                log(f"removing namespace {name} left by dead process {m.group(1)}")
                cls._kill_leftovers(name)
                run(["ip", "netns", "del", name], check=False)
        for path in glob.glob(os.path.join(tempfile.gettempdir(), "cgt*-*")):
            m = NAME_RE.match(os.path.basename(path))
            if m and os.path.isdir(path) and not pid_alive(int(m.group(1))):
                log(f"removing {path} left by dead process {m.group(1)}")
                shutil.rmtree(path, ignore_errors=True)

    # ---- building ---------------------------------------------------------

    def _add_ns(self, name):
        run(["ip", "netns", "add", name])
        self._namespaces.append(name)
        # No IPv6: its router solicitations and MLD reports would reach the
        # gateway and move its drop counters, which the tests read exactly.
        self.sysctl(name, "net.ipv6.conf.all.disable_ipv6", 1)
        self.sysctl(name, "net.ipv6.conf.default.disable_ipv6", 1)
        self.ip(name, "link", "set", "lo", "up")

    def _add_host(self, ns, ifname, lan_end):
        """A host namespace with interface `ifname` on the bridge."""
        self._add_ns(ns)
        self.ip(self.lan, "link", "add", lan_end, "type", "veth", "peer", "name", ifname, "netns", ns)
        self.ip(self.lan, "link", "set", lan_end, "master", "br0", "up")
        self.ip(ns, "link", "set", ifname, "up")

    def _build(self):
        self.log(f"topology {self.prefix}*: lan, gw, cl, {', '.join(self.nodes)}")
        self._add_ns(self.lan)
        # No multicast snooping: with it the bridge joins the all-snoopers
        # group and reports that by IGMP from 0.0.0.0 (it has no address) in
        # the first second or two; gatewayd counts such a frame as
        # bad_ip_header (a martian source), and the tests read that exactly.
        self.ip(self.lan, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        # br_netfilter (often loaded on hosts with containers) would send
        # bridged frames through iptables and drop IPv4 frames whose headers
        # do not add up before the gateway sees them: the bridge must be a
        # plain switch, so that malformed frames arrive as they were sent.
        for family in ("iptables", "ip6tables", "arptables"):
            key = f"net.bridge.bridge-nf-call-{family}"
            if os.path.exists("/proc/sys/" + key.replace(".", "/")):
                self.sysctl(self.lan, key, 0)
        self.ip(self.lan, "link", "set", "br0", "up")

        # Gateway: gw0 with no address; the gateway is gatewayd alone.
        self._add_host(self.gw, "gw0", "v-gw")
        # GRO would hand af_packet merged super-frames instead of the wire's.
        self.exec(self.gw, "ethtool", "-K", "gw0", "gro", "off")

        self._add_host(self.client, "eth0", "v-cl")
        self.ip(self.client, "addr", "add", f"{CLIENT_IP}/{SUBNET_PREFIX}", "dev", "eth0")
        # Without this the client's frames carry partial checksums (the
        # kernel expects the NIC to finish them); af_packet forwards them as
        # they are and the nodes drop them.
        self.exec(self.client, "ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off")

        for n in self.nodes:
            ns = self.ns(n)
            self._add_host(ns, "eth0", "v-" + n)
            self.ip(ns, "addr", "add", f"{self.node_ips[n]}/{SUBNET_PREFIX}", "dev", "eth0")
            self.ip(ns, "addr", "add", f"{CLUSTER_IP}/32", "dev", "lo")
            # Direct server return: accept the cluster address, but never
            # answer ARP for it (the gateway does) nor use it as ARP source.
            for conf in ("all", "eth0"):
                self.sysctl(ns, f"net.ipv4.conf.{conf}.arp_ignore", 1)
                self.sysctl(ns, f"net.ipv4.conf.{conf}.arp_announce", 2)

    # ---- commands and processes -------------------------------------------

    def exec(self, ns, *argv, timeout=20, check=True, input=None):
        """Runs a command inside namespace `ns`."""
        return run(["ip", "netns", "exec", ns, *argv], timeout=timeout, check=check, input=input)

    def ip(self, ns, *args, check=True):
        return run(["ip", "-n", ns, *args], check=check)

    def sysctl(self, ns, key, value):
        self.exec(ns, "sysctl", "-qw", f"{key}={value}")

    def raise_host_backlog(self, frames):
        """The kernel's per-CPU input queue (net.core.netdev_max_backlog, one
        value for the whole machine) at least `frames` until close(). A veth
        queues every frame it receives there; a SPAN port's copies come in
        bursts of a node's whole window, and past the default 1,000 a copy
        is dropped (its original is not): a gap the mirror parser cannot
        cross. Only ever raised, and put back as it was."""
        key = "/proc/sys/net/core/netdev_max_backlog"
        with open(key) as f:
            old = f.read().strip()
        if int(old) >= frames:
            return
        self._host_sysctls.setdefault(key, old)
        with open(key, "w") as f:
            f.write(str(frames))

    def mac(self, ns, ifname):
        """MAC address of an interface, lower case."""
        info = json.loads(self.ip(ns, "-j", "link", "show", ifname).stdout)
        return info[0]["address"].lower()

    def neigh(self, ns):
        """The neighbour (ARP) table of a namespace, as `ip -j neigh` gives it."""
        return json.loads(self.ip(ns, "-j", "neigh", "show").stdout or "[]")

    def spawn(self, ns, argv, name, stdin=None, stdout=None):
        """Starts argv in the background inside `ns` (None: the host's own
        namespace), tracked for stop-by-PID. Output goes to <dir>/<name>.log
        unless `stdout` is given (subprocess.PIPE). `ip netns exec` execs the
        command, so the PID is the command's own. Returns the Popen, with
        .log set to the log path."""
        log_path = os.path.join(self.dir, name + ".log")
        log_file = open(log_path, "ab")
        prefix = ["ip", "netns", "exec", ns] if ns else []
        try:
            # A session of its own: a Ctrl-C at the terminal reaches only this
            # runner, which then stops its processes in order.
            p = subprocess.Popen(prefix + list(argv), stdin=stdin or subprocess.DEVNULL,
                                 stdout=stdout or log_file, stderr=log_file, start_new_session=True)
        finally:
            log_file.close()
        p.log = log_path
        self._procs.append((name, p))
        return p

    def stop(self, p, timeout=5):
        """Stops one process started by spawn(); returns its exit status."""
        if p.poll() is None:
            stop_pid(p.pid, timeout=timeout)
        rc = p.wait(timeout=5)
        self._procs = [(n, q) for n, q in self._procs if q is not p]
        return rc

    def start_node_servers(self, timeout=10, nodes=None):
        """The HTTP (port 80) and UDP (5353) server of every node (or of
        `nodes`); returns once each has said it listens. Each answers HTTP
        after the delay in delay_file(node) (none while there is no file)."""
        procs = {}
        for n in nodes or self.nodes:
            procs[n] = self.spawn(self.ns(n), [sys.executable, NODE_SERVER, "serve", "--name", n,
                                               "--udp-address", CLUSTER_IP, "--delay-file", self.delay_file(n)],
                                  name=f"server-{n}")
        for n, p in procs.items():
            wait_for(lambda: p.poll() is not None or "listening" in tail(p.log, 5),
                     timeout, f"node server {n} listening")
            if p.poll() is not None:
                raise CommandError(f"node server {n} exited {p.returncode}:\n{tail(p.log)}")
        self.servers = getattr(self, "servers", {})
        self.servers.update(procs)
        return procs

    def delay_file(self, node):
        return os.path.join(self.dir, f"delay-{node}")

    def slow_down(self, node, ms):
        """Node `node`'s HTTP server answers `ms` milliseconds late from now on."""
        with open(self.delay_file(node), "w") as f:
            f.write(str(ms))

    def stop_node_server(self, node):
        """Stops node `node`'s servers: connections to it are refused."""
        self.stop(self.servers.pop(node))

    def add_mgmt(self, address="198.18.0.3", ns=None):
        """A kernel interface for the gateway namespace (or `ns`): mgmt0 with
        `address`, what controld probes nodes, takes agent reports and
        speaks to its pair peer through; gw0 stays gatewayd's alone."""
        ns = ns or self.gw
        lan_end = "v-mgmt" + ns[len(self.prefix):]
        self.ip(self.lan, "link", "add", lan_end, "type", "veth", "peer", "name", "mgmt0", "netns", ns)
        self.ip(self.lan, "link", "set", lan_end, "master", "br0", "up")
        self.ip(ns, "addr", "add", f"{address}/{SUBNET_PREFIX}", "dev", "mgmt0")
        self.ip(ns, "link", "set", "mgmt0", "up")
        return address

    def add_gateway(self, tag="gwb"):
        """A second gateway namespace, the pair's other gateway: gw0 on the
        bridge for its gatewayd, like the first. Returns its name."""
        ns = self.prefix + tag
        self._add_host(ns, "gw0", "v-" + tag)
        self.exec(ns, "ethtool", "-K", "gw0", "gro", "off")
        return ns

    def add_mirror_link(self, ns_a, ns_b, name="mirror0"):
        """A veth pair between two gateway namespaces, `name` in each: the
        pair's mirror link (the active copies frames to it, the standby
        follows what arrives)."""
        self.ip(ns_a, "link", "add", name, "type", "veth", "peer", "name", name, "netns", ns_b)
        for n in (ns_a, ns_b):
            self.ip(n, "link", "set", name, "up")
            self.exec(n, "ethtool", "-K", name, "gro", "off", "tx", "off")

    def set_links(self, ns, up):
        """Cuts (or mends) every link of namespace `ns` to the bridge, at the
        bridge's end: its processes live on, and nobody hears them."""
        for line in self.ip(self.lan, "-o", "link", "show", "master", "br0").stdout.splitlines():
            name = line.split(":")[1].strip().split("@")[0]
            peer_ns = self._link_ns(name)
            if peer_ns == ns:
                self.ip(self.lan, "link", "set", name, "up" if up else "down")

    def _link_ns(self, lan_end):
        """The namespace at the other end of bridge port `lan_end`."""
        if lan_end.startswith("v-mgmt"):
            return self.prefix + lan_end[len("v-mgmt"):]
        return {"v-gw": self.gw, "v-cl": self.client}.get(lan_end, self.prefix + lan_end[2:])

    def start_nginx(self, port=80, nodes=None, connections=8192):
        """nginx (one worker) on every node (or `nodes`), answering GET / on
        `port` with the node's name, and GET /files/NAME with the file
        <dir>/www/NAME (put_file) at 8 MB/s per download; keep-alive
        connections stay open for 300 s and any number of requests. Returns
        once each listens."""
        procs = []
        for n in nodes or self.nodes:
            d = os.path.join(self.dir, f"nginx-{n}-{port}")
            os.makedirs(d, exist_ok=True)
            conf = os.path.join(d, "nginx.conf")
            with open(conf, "w") as f:
                f.write(f"""worker_processes 1;
worker_rlimit_nofile {2 * connections + 64};
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections {connections}; }}
http {{
    access_log off;
    keepalive_timeout 3600s;
    keepalive_requests 1000000;
    client_body_temp_path {d}/body;
    proxy_temp_path {d}/proxy;
    fastcgi_temp_path {d}/fastcgi;
    uwsgi_temp_path {d}/uwsgi;
    scgi_temp_path {d}/scgi;
    server {{
        listen {port} backlog=8192;
        location / {{ return 200 "{n}\\n"; }}
        location /files/ {{ alias {self.dir}/www/; limit_rate 8m; }}
    }}
}}
""")
            procs.append(self.spawn(self.ns(n), ["nginx", "-c", conf, "-g", "daemon off;"], name=f"nginx-{n}"))
        for n in nodes or self.nodes:
            wait_for(lambda n=n: self.exec(self.ns(n), "ss", "-Hltn", f"sport = :{port}").stdout.strip(), 10,
                     f"nginx on {n} listening on {port}")
        return procs

    def put_file(self, name, size):
        """A file of `size` random bytes that every nginx serves as
        /files/<name>; returns its SHA-256 (hex)."""
        www = os.path.join(self.dir, "www")
        os.makedirs(www, exist_ok=True)
        # nginx's worker runs as nobody: it must reach the file (the
        # directory's other files keep their own modes).
        os.chmod(self.dir, 0o711)
        os.chmod(www, 0o755)
        data = os.urandom(size)
        path = os.path.join(www, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, 0o644)
        return hashlib.sha256(data).hexdigest()

    def start_client(self):
        """The request driver in the client namespace (node_server.py
        client), talked to through Client."""
        p = self.spawn(self.client, [sys.executable, NODE_SERVER, "client"], name="client",
                       stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        c = Client(p)
        c.call("hello", timeout=10)
        return c


class Client:
    """Drives node_server.py's client mode: one JSON request per line on its
    stdin, one JSON answer per line on its stdout. One long-running process,
    so that a keep-alive connection outlives the commands the test sends to
    the gateway in between."""

    def __init__(self, proc):
        self.proc = proc
        self._buf = b""

    def call(self, op, timeout=30, **args):
        """Sends one request, waits at most `timeout` s for its answer, and
        returns it (a dict). The client bounds its own work by the
        `timeout` it gets, below ours by more than one request's own limit,
        so that it answers, if late, with what it got."""
        req = dict(args, op=op, timeout=max(1.0, timeout - 5))
        try:
            self.proc.stdin.write((json.dumps(req) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise CommandError(f"client exited ({self.proc.poll()}):\n{tail(self.proc.log)}") from None
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandError(f"client: no answer to {op} after {timeout}s:\n{tail(self.proc.log)}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise CommandError(f"client exited ({self.proc.poll()}) during {op}:\n{tail(self.proc.log)}")
                self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        rep = json.loads(line)
        if not rep.get("ok"):
            raise CommandError(f"client: {op} failed: {rep.get('error')}")
        return rep
