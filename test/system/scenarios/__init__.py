"""The system suite's scenarios, grouped by theme; run.py runs them.

    routing         spread by weight, long-lived connections, UDP, draining
    frames          malformed frames, ARP and ICMP
    operator_tools  the console under tmux, DPDK telemetry and dpdk-dumpcap
    mirror          the gateway pair's hot standby by mirror, and its takeover
    span            the mirror parser on a SPAN port: real NFS, SMB and HTTP
                    through the gateway, show mirror and show mirror conns
    manager         controld's closed loop (mgr_*): adaptive weights, probes,
                    gatewayd's restart, node agents
    recovery        failures established connections must not notice
                    (kill9_conns)
    pair            the gateway pair: takeover, a frozen gatewayd, switchover

Each scenario takes (lab, step) and returns a one-line summary, or raises
AssertionError with what a user would see as wrong. The modules import the
bench (gateway, manager_lab, topology) as top-level modules: run.py puts
test/system on sys.path first.
"""
