"""What an operator uses on a running gateway: the console under tmux, and
DPDK's own tools (the telemetry socket, dpdk-dumpcap)."""

import json
import os
import re
import socket
import subprocess
import time

from gateway import PROMPT, counts, wait_for

from .helpers import check


def sc_console(L, step):
    gw = L.gw

    def at_prompt():
        line, x = gw.cursor_line()
        return line.rstrip() == PROMPT.rstrip() and x == len(PROMPT)

    def after_last(command):
        """The pane's text after the last time `command` was typed."""
        text = gw.pane()
        i = text.rfind(PROMPT + command)
        return text[i + len(PROMPT + command):] if i >= 0 else ""

    wait_for(at_prompt, 10, "the console shows its prompt")
    gw.type("show clusters", enter=True)
    wait_for(lambda: all(ip in after_last("show clusters") for ip in L.topo.node_ips.values()) and at_prompt(),
             5, "show clusters lists the three nodes, then the prompt")
    step("show clusters: nodes listed")

    gw.type("sh")
    gw.key("Tab")
    wait_for(lambda: gw.cursor_line() == (PROMPT + "show", len(PROMPT + "show ")), 5,
             "'sh' + Tab completes to 'show ' (cursor after the blank)")
    gw.type("info", enter=True)
    wait_for(lambda: "software" in after_last("show info") and at_prompt(), 5, "the completed command runs")
    step("sh<Tab> -> 'show ', + info ran")

    gw.type("show bogus", enter=True)
    wait_for(lambda: "error:" in after_last("show bogus") and at_prompt(), 5,
             "a bad command says error: and the prompt comes back")
    step("bad command: " + after_last("show bogus").strip().splitlines()[0])
    check(gw.running(), "gatewayd exited after a bad command")

    pid = gw.pid
    gw.type("quit", enter=True)
    wait_for(lambda: not gw.running(), 15, f"gatewayd (pid {pid}) exits after quit")
    # tmux learns of the exit a moment after the PID is gone.
    rc = wait_for(lambda: (s := gw.exit_status()) is not None and (s,), 5, "tmux reports the exit status")[0]
    step(f"quit: pid {pid} gone, exit status {rc}")
    check(rc == 0, f"gatewayd exited with status {rc} after quit")
    return f"prompt, show clusters, completion, error + prompt, quit (pid {pid} gone, status 0)"


def telemetry(gateway_name, *commands):
    """Asks DPDK's telemetry socket of a gateway (EAL file prefix
    cg-<gateway.name>), as dpdk-telemetry.py does; {command: reply}."""
    path = f"/var/run/dpdk/cg-{gateway_name}/dpdk_telemetry.v2"
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.settimeout(5)
        s.connect(path)
        json.loads(s.recv(1 << 16))  # greeting: version, pid, max_output_len
        out = {}
        for c in commands:
            s.send(c.encode())
            out.update(json.loads(s.recv(1 << 20)))
        return out


def sc_tools(L, step):
    """DPDK's own tools on a running gateway: our counters on the telemetry
    socket, and a capture of its port with dpdk-dumpcap while traffic flows."""
    nodes, errors = L.http_new(30)
    check(not errors, f"{len(errors)} of 30 requests failed, first: {errors[:3]}")
    t = telemetry(L.gw.name, "/clustergate/info", "/clustergate/connections", "/clustergate/nodes")
    check(t["/clustergate/info"]["gateway"] == L.gw.name, f"telemetry names another gateway: {t['/clustergate/info']}")
    created = t["/clustergate/connections"]["created"]
    check(created >= 30, f"telemetry says {created} connections were created, the client made 30")
    per_node = {}
    for key, value in t["/clustergate/nodes"].items():
        cluster, proto, port, node, counter = key.split("/")
        if (proto, port, counter) == ("tcp", "80", "new"):
            per_node[L.node_by_ip[node.replace("_", ".")]] = value
    check(per_node == counts(nodes), f"telemetry's new connections per node {per_node} != the client's {counts(nodes)}")
    step(f"telemetry: created {created}, per node {per_node}")

    capture = os.path.join(L.topo.dir, "port.pcapng")
    dumpcap = subprocess.Popen(["dpdk-dumpcap", f"--file-prefix=cg-{L.gw.name}", "-i", "net_af_packet0", "-c", "20",
                                "-w", capture], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while dumpcap.poll() is None and time.monotonic() < deadline:
            L.http_new(5)  # traffic for it to see, until it has its 20 packets
        out = dumpcap.communicate(timeout=5)[0]
    finally:
        if dumpcap.poll() is None:
            dumpcap.kill()
            dumpcap.wait()
    check(dumpcap.returncode == 0, f"dpdk-dumpcap exited {dumpcap.returncode}: {out[-300:]}")
    # It rewrites its count in place with backspaces ("0 \b\b4 \b\b20") and
    # stops after the burst that reaches -c: the last count is at least 20.
    line = re.search(r"Packets captured:([^\n]*)", out)
    captured = int(re.findall(r"\d+", line.group(1))[-1]) if line and re.search(r"\d", line.group(1)) else 0
    check(captured >= 20, f"dpdk-dumpcap did not report 20 packets: {out[-300:]}")
    check(os.path.getsize(capture) > 20 * 54, f"{capture} is too small for 20 packets")
    return f"telemetry: {created} connections, per node {per_node}; dumpcap captured {captured} packets of the port"
