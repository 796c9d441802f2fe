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


PAIR_PORT = 9653


class Managed(Gateway):
    """controld (and through it gatewayd) in `topo`'s gateway namespace, or,
    with side "b", in the pair's other gateway namespace `ns` (its own mgmt0
    address, port address and files). With `pair`, the two controlds of
    sides a and b are a gateway pair (manager.pair, one key file in topo.dir)."""

    SIDES = {"a": {"mgmt": MGMT_IP, "port": "198.18.0.2"}, "b": {"mgmt": "198.18.0.4", "port": "198.18.0.5"},
             "c": {"mgmt": "198.18.0.6", "port": "198.18.0.7"}}  # c: the pool host of auto-heal

    def __init__(self, topo, build, manager_lines=(), side="a", ns=None, pair=None, role="active", overrides=None,
                 mirror=None, agent_keys=None, supervision_lines=(), sections=(), working=None, edits=()):
        self.expect_role = role
        self.working = working or topo.nodes  # the cluster's nodes (the others are spares)
        self.controld = os.path.join(build, "control", "controld", "controld")
        self.nodeagent = os.path.join(build, "control", "nodeagent", "nodeagent")
        for b in (self.controld, self.nodeagent):
            if not os.access(b, os.X_OK):
                raise GatewayError(f"{b}: not built (ninja -C {build})")
        self.side = side
        suffix = "" if side == "a" else side
        self.mgmt_ip = self.SIDES[side]["mgmt"]
        self.ctl_socket = os.path.join(topo.dir, f"controld{suffix}.sock")
        self.key_file = shared_key(topo, "agent.key")
        with open(MANAGED_CONFIG) as f:
            text = f.read()
        text = text.replace("control_socket: /run/clustergate/managed-controld.sock", f"control_socket: {self.ctl_socket}")
        text = text.replace("key_file: /etc/clustergate/agent.key", f"key_file: {self.key_file}")
        text = text.replace(f"listen: {MGMT_IP}:{AGENT_PORT}", f"listen: {self.mgmt_ip}:{AGENT_PORT}")
        text = text.replace("address: 198.18.0.2", f"address: {self.SIDES[side]['port']}")
        shadow = f"    shadow_port: {SHADOW_PORT}"
        for k, v in (agent_keys or {}).items():  # more keys of manager.agents, e.g. alive_timeout
            if shadow not in text:
                raise GatewayError("conf/managed.yaml's agents section is not as the lab expects")
            text = text.replace(shadow, f"    {k}: {v}\n{shadow}")
        for line in manager_lines:  # more keys of the manager section, e.g. "  rules: [...]"
            text += line + "\n"
        if pair:  # {key: value} of manager.pair beyond the addresses and the key
            other = self.SIDES["b" if side == "a" else "a"]["mgmt"]
            keys = {"listen": f"{self.mgmt_ip}:{PAIR_PORT}", "peer": f"{other}:{PAIR_PORT}",
                    "key_file": shared_key(topo, "pair.key"), **pair}
            text += "  pair: {" + ", ".join(f"{k}: {v}" for k, v in keys.items()) + "}\n"
        if mirror:  # the mode: a second port on the pair's mirror link (topo.add_mirror_link), and the section
            lan = f'    device: "net_af_packet0,iface=gw0"\n    address: {self.SIDES[side]["port"]}\n'
            if lan not in text:
                raise GatewayError("conf/managed.yaml's port is not as the pair bench expects")
            text = text.replace(lan, lan + '  - name: peer\n    device: "net_af_packet1,iface=mirror0"\n')
            text += f"\nmirror:\n  port: peer\n  mode: {mirror}\n  refresh: 1s\n"
        # The restart ladder's counts: in the test's own directory, not the
        # appliance's /var/lib/clustergate.
        text += f"\nsupervision:\n  store: {os.path.join(topo.dir, f'escalation{suffix}.state')}\n"
        for line in supervision_lines:  # more keys of the supervision section, e.g. "  hung_after: 500ms"
            text += line + "\n"
        for line in sections:  # more top-level sections, e.g. "spares: [...]"
            text += line + "\n"
        for old, new in edits:  # (text, replacement) pairs: a port, a cluster port more
            if old not in text:
                raise GatewayError(f"conf/managed.yaml has no {old!r} to edit")
            text = text.replace(old, new, 1)
        source = os.path.join(topo.dir, f"managed-source{suffix}.yaml")
        with open(source, "w") as f:
            f.write(text)
        super().__init__(topo, build, config=source, ns=ns, suffix=suffix, overrides=overrides)

    def argv(self):
        return [self.controld, "-c", self.config, "-s", self.ctl_socket, "--gatewayd", self.gatewayd]

    def start(self):
        self._proc = self.topo.spawn(self.ns, self.argv(), name="controld" + ("" if self.side == "a" else "-" + self.side))
        self.log = self._proc.log
        self.pid = self._proc.pid

    def wait_ready(self, timeout=30, role=None):
        """gatewayd ready (Gateway.wait_ready), controld has read its tables,
        and gatewayd has `role` (a pair's backup keeps it standby)."""
        super().wait_ready(timeout)
        wait_for(lambda: len(self.manager()["nodes"]) == len(self.working), 10,
                 "controld read the gateway's tables", interval=0.1)
        # controld starts gatewayd as standby, and makes it active once the
        # nodes' connections are back in it.
        role = role or self.expect_role
        wait_for(lambda: f"role      {role}" in self.ctl("show", "info"), 10, f"gatewayd made {role}", interval=0.1)

    def ha(self):
        """`ha show` -> {"role", "epoch", "peer" (its line), "counters": {name: int}}."""
        text = self.mctl("ha", "show")
        head, _, rest = text.partition("counters:\n")
        rows = dict(split_row(l)[:2] for l in head.splitlines() if len(split_row(l)) >= 2)
        words = rows.get("this gateway", "").split()
        line = rows.get("this gateway", "")
        out = {"role": words[1] if len(words) > 1 else "", "epoch": int(words[4]) if len(words) > 4 else -1,
               "why": line[line.find("(") + 1:line.rfind(")")] if "(" in line else "",
               "peer": rows.get("peer", ""), "gatewayd": rows.get("its gatewayd", "")}
        out["counters"] = {r["name"]: int(r["count"]) for r in parse_table(rest.splitlines())} if rest else {}
        return out

    def _log_note(self):
        return "controld and gatewayd log, last lines:\n" + "".join("  " + l for l in self.log_tail(30).splitlines(True))

    def gatewayd_pid(self):
        """The gatewayd that controld started (its only child) or adopted
        (its pid as `show info` says), or None."""
        try:
            with open(f"/proc/{self.pid}/task/{self.pid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            with contextlib.suppress(OSError):
                with open(f"/proc/{k}/comm") as f:
                    if f.read().strip() == "gatewayd":
                        return k
        r = self.ctl("show", "info", check=False)
        pid = next((line.split()[1] for line in r.splitlines() if line.startswith("pid ")), None) if r else None
        return int(pid) if pid and pid != "0" else None

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

    def escalation(self):
        """`show escalation` -> {"ladder at", "next failure", ... (the head's
        rows), "history": [row], "counters": {name: int}}."""
        text = self.mctl("show", "escalation")
        head, _, rest = text.partition("rungs:\n")
        out = dict(split_row(l)[:2] for l in head.splitlines() if len(split_row(l)) >= 2)
        _, _, hist = rest.partition("recoveries (oldest first):\n")
        hist, _, counts = hist.partition("counters:\n")
        out["history"] = parse_table(hist.splitlines())
        out["counters"] = {r["name"]: int(r["count"]) for r in parse_table(counts.splitlines())} if counts else {}
        return out

    def prometheus(self):
        r = self.topo.exec(self.ns, "curl", "-s", "--max-time", "5", f"http://{PROMETHEUS}/metrics")
        return r.stdout

    def start_agents(self, interval="300ms", nodes=None, gateways=(MGMT_IP,), extra=()):
        procs = {}
        reports = [a for g in gateways for a in ("--gateway", f"{g}:{AGENT_PORT}")]
        for n in nodes or self.topo.nodes:
            procs[n] = self.topo.spawn(self.topo.ns(n), [
                self.nodeagent, "--node", self.topo.node_ips[n], *reports,
                "--key-file", self.key_file, "--interval", interval,
                "--shadow-listen", f"0.0.0.0:{SHADOW_PORT}", "--cluster", CLUSTER_IP, *extra], name=f"agent-{n}")
        return procs


def shared_key(topo, name):
    """A key file in topo.dir that every gateway and agent of the test reads:
    made by the first who asks."""
    path = os.path.join(topo.dir, name)
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_hex(16) + "\n")
        os.chmod(path, 0o600)
    return path


class ManagedLab(Lab):
    """A Lab whose gw is Managed, with the agents' processes by node name."""

    def __init__(self, topo, gw, client, agents):
        super().__init__(topo, gw, client)
        self.agents = agents

    def ip(self, node):
        return self.topo.node_ips[node]


@contextlib.contextmanager
def mlab(tag, build, log=lambda m: None, manager_lines=(), agents=True, agent_keys=None, supervision_lines=(),
         spares=0, edits=(), sections=(), before=None):
    """conf/managed.yaml's gateway under controld, its three nodes n1-n3
    with agents, and a client. With `spares`, that many more node
    namespaces (n4, ...: the cluster address on lo, the node servers), the
    spares of the last working nodes by the config's `spares` section
    (n3 -> n4 with one), without agents: ManagedLab.spare_of names them.
    `edits` and `sections` change the configuration (Managed's); `before`
    is called with the topology before controld starts."""
    with Topology(tag, nodes=3 + spares, log=log) as topo:
        topo.add_mgmt(MGMT_IP)
        topo.start_node_servers()
        working = topo.nodes[:3]
        pairs = list(zip(working[3 - spares:], topo.nodes[3:]))
        spare_lines = ["spares:"] + [f"  - {{node: {topo.node_ips[a]}, spare: {topo.node_ips[b]}}}" for a, b in pairs]
        if before:
            before(topo)
        with Managed(topo, build, manager_lines=manager_lines, agent_keys=agent_keys,
                     supervision_lines=supervision_lines, working=working,
                     edits=edits(topo) if callable(edits) else edits,
                     sections=(spare_lines if spares else []) + list(sections)) as gw:
            log(f"controld (pid {gw.pid}) and gatewayd (pid {gw.gatewayd_pid()}) ready")
            procs = gw.start_agents(nodes=working) if agents else {}
            L = ManagedLab(topo, gw, topo.start_client(), procs)
            L.working, L.spare_of = working, dict(pairs)
            yield L


class PairLab(ManagedLab):
    """Two gateways, a (active) and b (its backup), in front of the same
    nodes; gw is a; gws both. With a pool, c is the pool host's gateway
    (its files written, not started: auto-heal starts it)."""

    def __init__(self, topo, a, b, client, agents, c=None):
        super().__init__(topo, a, client, agents)
        self.a, self.b, self.c = a, b, c
        self.gws = [a, b]


def pool_start_command(topo, c):
    """The start command of pool host c, as manager.pair.pool takes it: c's
    controld in c's namespace, given the peer that started it ({peer}); its
    own session (it outlives the command), its pid in <dir>/controld-c.pid."""
    pid_file = os.path.join(topo.dir, "controld-c.pid")
    log = os.path.join(topo.dir, "controld-c.log")
    argv = " ".join(["exec", "ip", "netns", "exec", c.ns, *c.argv(), "--peer", "{peer}"])
    return pid_file, log, f"setsid sh -c 'echo $$ > {pid_file}; {argv}' </dev/null >>{log} 2>&1 &"


def attach_pool_gateway(c, pid_file, log):
    """c as the test's own once auto-heal has started it: its pid and log."""
    with open(pid_file) as f:
        c.pid = int(f.read())
    c._proc, c.log = None, log
    return c


PAIR_B_MGMT = Managed.SIDES["b"]["mgmt"]
POOL_MGMT = Managed.SIDES["c"]["mgmt"]


@contextlib.contextmanager
def pair_lab(tag, build, log=lambda m: None, pair_keys=None, overrides=None, mirror=None, pool=False,
             supervision_lines=(), edits=()):
    """The pair bench: a second gateway namespace with its own mgmt0, a's
    controld started first (it becomes active: nobody else is there), then
    b's (the backup), agents reporting to both. With `mirror` (a mode), the
    two gateways are joined by a mirror link and follow each other. With
    `pool`, a third gateway namespace c, prepared and idle, is the pair's
    auto-heal pool (manager.pair.pool; a string: its heal_after, else
    500ms), and the agents report to it too. `supervision_lines`: more of
    the supervision section, on every gateway; `edits`: (text, replacement)
    pairs of a's and b's configuration (Managed)."""
    keys = {"interval": "10ms", "dead_time": "100ms", **(pair_keys or {})}
    # The pair's scenarios freeze a gatewayd to see the peer take over, and
    # check that it resumes as the backup: controld's own watchdog (which
    # would kill it) is given its longest deadline.
    sup = ["  hung_after: 1m", *supervision_lines]
    with Topology(tag, log=log) as topo:
        topo.add_mgmt(MGMT_IP)
        nsb = topo.add_gateway("gwb")
        topo.add_mgmt(PAIR_B_MGMT, ns=nsb)
        if mirror:
            topo.add_mirror_link(topo.gw, nsb)
        topo.start_node_servers()
        c, gateways = None, (MGMT_IP, PAIR_B_MGMT)
        if pool:
            nsc = topo.add_gateway("gwc")
            topo.add_mgmt(POOL_MGMT, ns=nsc)
            c = Managed(topo, build, side="c", ns=nsc, pair=keys, role="standby", overrides=overrides,
                        supervision_lines=sup)
            pid_file, pool_log, command = pool_start_command(topo, c)
            c.pool_files = (pid_file, pool_log)
            keys = {**keys, "heal_after": pool if isinstance(pool, str) else "500ms",
                    "pool": f'[{{address: "{POOL_MGMT}:{PAIR_PORT}", start: "{command}"}}]'}
            gateways += (POOL_MGMT,)
        with Managed(topo, build, pair=keys, overrides=overrides, mirror=mirror, supervision_lines=sup,
                     edits=edits) as a:
            wait_for(lambda: a.ha()["role"] == "active", 10, "a active", interval=0.1)
            with Managed(topo, build, side="b", ns=nsb, pair=keys, role="standby", overrides=overrides,
                         mirror=mirror, supervision_lines=sup, edits=edits) as b:
                wait_for(lambda: b.ha()["role"] == "backup" and "alive" in b.ha()["peer"], 10, "b a's backup",
                         interval=0.1)
                log(f"a: controld {a.pid}, gatewayd {a.gatewayd_pid()} active; b: controld {b.pid}, "
                    f"gatewayd {b.gatewayd_pid()} backup")
                procs = a.start_agents(gateways=gateways)
                try:
                    yield PairLab(topo, a, b, topo.start_client(), procs, c)
                finally:
                    if c is not None and c.pid:  # started by auto-heal: stopped here
                        c.stop()


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, -(-len(s) * p // 100) - 1))
    return s[int(k)]


__all__ = ["MGMT_IP", "SHADOW_PORT", "Managed", "ManagedLab", "PairLab", "mlab", "pair_lab", "percentile", "pid_alive", "split_row", "wait_for"]
