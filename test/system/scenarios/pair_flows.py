"""The gateway pair's takeover with cg-pktgen flows over memif, no
namespaces (test/bench/takeover_flows.py, the benchmark's own code at a
smaller scale):

    pair_flows   gatewayd a active, b standby following a's mirror
                 (state_changes) over a memif link; cg-pktgen opens 20,000
                 flows through a and sends at 300,000 packets a second,
                 with a second port to b. kill -9 of a, b set active: b
                 must have held every flow before the kill, the generator
                 must have moved to b, every packet back must come from
                 its flow's original node (the generator's check), and b
                 must drop no packet as an unknown connection.
"""

import os
import sys
from contextlib import contextmanager

from scenarios.helpers import check

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench"))
import takeover_flows  # noqa: E402

FLOWS, RATE = 20_000, 300_000


class MemifBench:
    def __init__(self, build, log):
        self.build, self.log = build, log


@contextmanager
def memif_bench(name, build, log=lambda m: None):
    """No namespaces: the scenario starts (and stops) its own processes."""
    yield MemifBench(build, log)


def sc_pair_flows(L, step):
    r = takeover_flows.measure_retried(L.build, FLOWS, RATE, L.log)
    step(f"measured: {r}")
    check(r["followed_before_kill"] == FLOWS, f"b held {r['followed_before_kill']} of {FLOWS} flows at the kill")
    check(r["moved"], "the generator never moved its traffic to b")
    check(r["consistent"] and r["node_mismatch"] == 0 and r["rx_unknown_node"] == 0,
          f"packets from another node than their flow's: {r['node_mismatch']}, from no node: {r['rx_unknown_node']}")
    check("no_connection" not in r["b_drops"], f"b dropped packets of connections it did not know: {r['b_drops']}")
    check(r["b_conns_after"] >= FLOWS, f"b holds {r['b_conns_after']} connections after the takeover")
    # Lost: what a sent into its death and what came before b was active; a
    # bound far above what is seen (a few ms), far below a lost table.
    check(r["outage_ms"] < 500, f"{r['lost']} packets lost, {r['outage_ms']} ms at the offered rate")
    return (f"a killed with {FLOWS} flows: b (holding {r['followed_before_kill']} from the mirror) active "
            f"{r['active_ms']} ms later, {r['lost']} packets lost ({r['outage_ms']} ms at {RATE // 1000}k/s), "
            f"every packet from its flow's node, b's drops {r['b_drops'] or 'none'}"
            + (f"; the generator crashed in {r['generator_crashes']} run(s) first (DPDK memif)"
               if r["generator_crashes"] else ""))
