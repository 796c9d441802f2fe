"""The gateway pair's hot standby by mirror (requirements 3.2, docs/operations.md
"A hot standby by mirror").

    mirror_takeover   two gatewayd, the active in the gateway namespace and
                      the standby in a second one, both on the LAN, joined by
                      a veth pair as mirror link; keep-alive connections
                      through the active show up on the standby on the same
                      nodes; kill -9 of the active and `set role active` on
                      the standby: every connection carries on (same socket,
                      same node, no RST on the client's link)
"""

import os
import signal
import time

from gateway import DEFAULT_CONFIG, Gateway, parse_table
from topology import CLUSTER_IP, wait_for

from scenarios.helpers import check
from scenarios.recovery import ResetCapture, carried_on, open_held

PORT = 8081          # nginx's, beside the node servers' port 80
STANDBY_IP = "198.18.0.4"


class StandbyGateway(Gateway):
    """A gatewayd that starts as the standby (--role standby): it must never
    answer ARP for the cluster address, not even for a moment."""

    def argv(self):
        return super().argv() + ["--role", "standby"]


def pair_config(topo, role_ip, path):
    """conf/gateway.yaml with a second port on the mirror link and the
    mirror section; the standby's LAN port gets an address of its own."""
    with open(DEFAULT_CONFIG) as f:
        text = f.read()
    lan = '    device: "net_af_packet0,iface=gw0"\n    address: 198.18.0.2\n'
    check(lan in text, "conf/gateway.yaml's port is not as this scenario expects")
    text = text.replace(lan, lan.replace("198.18.0.2", role_ip) +
                        '  - name: peer\n    device: "net_af_packet1,iface=mirror0"\n')
    text += "\nmirror:\n  port: peer\n  mode: state_changes\n  refresh: 1s\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def add_standby_host(topo):
    """A second gateway namespace on the LAN, and the mirror veth pair
    between the two gateway namespaces."""
    ns = topo.add_gateway("gw2")
    topo.add_mirror_link(topo.gw, ns)
    return ns


def conns(gw):
    """{client address:port: (node, state)} of the service PORT, every page of `show connections`."""
    out, cursor = {}, None
    for _ in range(200):
        words = ["show", "connections", "count", "1000"] + (["from", cursor] if cursor else [])
        text = gw.ctl(*words)
        rows = [l for l in text.splitlines() if l.strip() and not l.startswith("total")]
        for r in parse_table(rows) if rows and "proto" in rows[0] else []:
            if r["service"].endswith(f":{PORT}"):
                out[r["client"]] = (r["node"], r["state"])
        more = [l for l in text.splitlines() if "more: show connections from" in l]
        if not more:
            return out
        cursor = more[0].rsplit(" ", 1)[1]
    return out


def sc_mirror_takeover(L, step, count=300):
    topo = L.topo
    build = os.path.dirname(os.path.dirname(L.gw.gatewayd))
    # The bench's own gatewayd has no mirror: this scenario starts the pair itself.
    L.gw.stop()
    ns2 = add_standby_host(topo)
    topo.start_nginx(port=PORT, connections=4096)
    with Gateway(topo, build, suffix="-act",
                 config=pair_config(topo, "198.18.0.2", os.path.join(topo.dir, "act-src.yaml"))) as act, \
         StandbyGateway(topo, build, suffix="-sby", ns=ns2,
                        config=pair_config(topo, STANDBY_IP, os.path.join(topo.dir, "sby-src.yaml"))) as sby:
        step("active and standby ready, mirror link up")
        for g in (act, sby):
            g.ctl("add", "port", CLUSTER_IP, "tcp", str(PORT), "stale", "10m")
            for n in topo.nodes:
                g.ctl("add", "node", CLUSTER_IP, "tcp", str(PORT), topo.node_ips[n])
        for g in (act, sby):
            wait_for(lambda g=g: all(r["mac"] != "unresolved"
                                     for r in g.clusters().get(("tcp", PORT), {}).get("nodes", {}).values())
                     and len(g.clusters()[("tcp", PORT)]["nodes"]) == len(topo.nodes), 10,
                     f"{g.name}: port {PORT} with every node resolved")

        h, opened = open_held(topo, PORT, count)
        step(f"{count} keep-alive connections through the active: {opened['by_node']}")

        on_active = conns(act)
        check(len(on_active) == count, f"the active holds {len(on_active)} of {count} connections")
        on_standby = wait_for(lambda: c if len(c := conns(sby)) >= count else None, 10,
                              "the standby holds every connection")
        same = sum(1 for k, (node, _) in on_active.items() if on_standby.get(k, (None,))[0] == node)
        check(same == count, f"{same} of {count} on the same node on the standby")
        sst = sby.stats()["control"]
        ast = act.stats()["control"]
        step(f"standby follows: {len(on_standby)} connections on the same nodes; active mirror_sent "
             f"{ast['mirror_sent']}, dropped {ast['mirror_dropped']}; standby followed {sst['mirror_followed']}, "
             f"unknown {sst['mirror_unknown_service']}/{sst['mirror_unknown_node']}")
        check(ast["mirror_dropped"] == 0, f"copies dropped on the active: {ast}")

        capture = ResetCapture(topo)
        os.kill(act.pid, signal.SIGKILL)  # the active dies
        t0 = time.monotonic()
        act._proc.wait(timeout=5)
        act._proc = act.pid = None  # dead on purpose: nothing to stop, no exit status to hold against it
        sby.ctl("set", "role", "active")
        took = time.monotonic() - t0
        step(f"active killed; standby set active {took * 1000:.0f} ms later")
        h.call("send")
        after = h.call("collect 30")
        check(carried_on(after, count), f"after the takeover: {after}")
        h.call("send")
        again = h.call("collect 20")
        check(again["ok"] == count, f"a second round after the takeover: {again}")
        fwd = sum(int(r["fwd"]) for r in sby.stats()["lcores"] if r.get("fwd", "").isdigit())
        check(fwd >= 2 * count, f"the new active forwarded {fwd} frames, {2 * count} requests were sent through it")
        capture.expect_none()
        step(f"after the takeover: {after['ok']} answered on the same sockets; the new active forwarded {fwd}")
        return (f"{count} connections followed by the standby over the mirror (state_changes: "
                f"{ast['mirror_sent']} copies); after kill -9 of the active and set role active, "
                f"{after['ok']}/{count} carried on (same socket, same node, no RST), slowest {after['slowest_ms']} ms")
