"""controld in a Topology's gateway namespace, node agents on the nodes.

`Managed` is a Gateway whose process is controld (conf/managed.yaml, with a
name, sockets and agent key of the test's own): controld starts gatewayd
itself, probes the nodes and takes agent reports through the gateway
namespace's kernel interface mgmt0 (198.18.0.3), and answers the manager's
commands on its own socket. `mlab()` is the whole bench for the manager
scenarios: topology with mgmt0, node servers, controld + gatewayd, a
nodeagent per node, the client.

Python stdlib only.
"""

import contextlib
import os
import secrets

from gateway import Gateway, GatewayError, Lab, parse_table, split_row
from topology import CLUSTER_IP, Topology, pid_alive, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MANAGED_CONFIG = os.path.join(ROOT, "conf", "managed.yaml")
MGMT_IP = "198.18.0.3"
AGENT_PORT = 9651
SHADOW_PORT = 9652              # conf/managed.yaml manager.agents.shadow_port
PROMETHEUS = "127.0.0.1:9650"   # inside the gateway namespace: its own loopback


class Managed(Gateway):
    """controld (and through it gatewayd) in `topo`'s gateway namespace."""

    def __init__(self, topo, build, manager_lines=()):
        self.controld = os.path.join(build, "control", "controld", "controld")
        self.nodeagent = os.path.join(build, "control", "nodeagent", "nodeagent")
        for b in (self.controld, self.nodeagent):
            if not os.access(b, os.X_OK):
                raise GatewayError(f"{b}: not built (ninja -C {build})")
        self.ctl_socket = os.path.join(topo.dir, "controld.sock")
        self.key_file = os.path.join(topo.dir, "agent.key")
        with open(self.key_file, "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        os.chmod(self.key_file, 0o600)
        with open(MANAGED_CONFIG) as f:
            text = f.read()
        text = text.replace("control_socket: /run/clustergate/managed-controld.sock", f"control_socket: {self.ctl_socket}")
        text = text.replace("key_file: /etc/clustergate/agent.key", f"key_file: {self.key_file}")
        for line in manager_lines:  # more keys of the manager section, e.g. "  rules: [...]"
            text += line + "\n"
        source = os.path.join(topo.dir, "managed-source.yaml")
        with open(source, "w") as f:
            f.write(text)
        super().__init__(topo, build, config=source)

    def argv(self):
        return [self.controld, "-c", self.config, "-s", self.ctl_socket, "--gatewayd", self.gatewayd]

    def start(self):
        self._proc = self.topo.spawn(self.topo.gw, self.argv(), name="controld")
        self.log = self._proc.log
        self.pid = self._proc.pid

    def wait_ready(self, timeout=30):
        """gatewayd ready (Gateway.wait_ready), and controld has read its tables."""
        super().wait_ready(timeout)
        wait_for(lambda: len(self.manager()["nodes"]) == len(self.topo.nodes), 10,
                 "controld read the gateway's tables", interval=0.1)
        # controld starts gatewayd as standby, and makes it active once the
        # nodes' connections are back in it.
        wait_for(lambda: "role      active" in self.ctl("show", "info"), 10, "gatewayd made active", interval=0.1)

    def _log_note(self):
        return "controld and gatewayd log, last lines:\n" + "".join("  " + l for l in self.log_tail(30).splitlines(True))

    def gatewayd_pid(self):
        """The gatewayd that controld started (its only child), or None."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            return None
        for k in kids:
            with contextlib.suppress(OSError):
                with open(f"/proc/{k}/comm") as f:
                    if f.read().strip() == "gatewayd":
                        return k
        return None

    def mctl(self, *words, timeout=10, check=True):
        """A console command through controld's socket."""
        return self.ctl(*words, timeout=timeout, check=check, socket=self.ctl_socket)

    def manager(self):
        """`manager show` -> {"nodes": {address: row}, "counters": {name: int}}
        for the cluster's tcp/80."""
        text = self.mctl("manager", "show")
        sections, name = {}, None
        for line in text.splitlines():
            if not line.startswith(" ") and line.endswith(":"):
                name = line[:-1]
                sections[name] = []
            elif name and line.strip():
                sections[name].append(line)
        nodes = {r["node"]: r for r in parse_table(sections.get(f"{CLUSTER_IP} tcp/80", []))}
        counters = {r["counter"]: int(r["value"]) for r in parse_table(sections.get("counters", []))}
        return {"nodes": nodes, "counters": counters}

    def prometheus(self):
        r = self.topo.exec(self.topo.gw, "curl", "-s", "--max-time", "5", f"http://{PROMETHEUS}/metrics")
        return r.stdout

    def start_agents(self, interval="300ms", nodes=None):
        procs = {}
        for n in nodes or self.topo.nodes:
            procs[n] = self.topo.spawn(self.topo.ns(n), [
                self.nodeagent, "--node", self.topo.node_ips[n], "--gateway", f"{MGMT_IP}:{AGENT_PORT}",
                "--key-file", self.key_file, "--interval", interval,
                "--shadow-listen", f"0.0.0.0:{SHADOW_PORT}", "--cluster", CLUSTER_IP], name=f"agent-{n}")
        return procs


class ManagedLab(Lab):
    """A Lab whose gw is Managed, with the agents' processes by node name."""

    def __init__(self, topo, gw, client, agents):
        super().__init__(topo, gw, client)
        self.agents = agents

    def ip(self, node):
        return self.topo.node_ips[node]


@contextlib.contextmanager
def mlab(tag, build, log=lambda m: None, manager_lines=(), agents=True):
    with Topology(tag, log=log) as topo:
        topo.add_mgmt(MGMT_IP)
        topo.start_node_servers()
        with Managed(topo, build, manager_lines=manager_lines) as gw:
            log(f"controld (pid {gw.pid}) and gatewayd (pid {gw.gatewayd_pid()}) ready")
            procs = gw.start_agents() if agents else {}
            yield ManagedLab(topo, gw, topo.start_client(), procs)


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


__all__ = ["MGMT_IP", "SHADOW_PORT", "Managed", "ManagedLab", "mlab", "percentile", "pid_alive", "split_row", "wait_for"]
