"""Frames the gateway must refuse or answer itself: malformed frames, each
kind counted under its drop reason, and ARP and ICMP for its addresses."""

import random
import re
import struct

from gateway import counts
from topology import CLIENT_IP, CLUSTER_IP, GATEWAY_IP

from .helpers import check, settle


# Malformed frames: (what, drop reason, builder(i) -> frame bytes).
def ip_checksum(header):
    s = sum(struct.unpack(f"!{len(header) // 2}H", header))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def ipv4(payload, proto=6, ihl=5, frag=0, total=None, src=CLIENT_IP, dst=CLUSTER_IP):
    total = 20 + len(payload) if total is None else total
    h = bytearray(struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, total, 0x1234, frag, 64, proto, 0,
                              bytes(map(int, src.split("."))), bytes(map(int, dst.split(".")))))
    h[10:12] = struct.pack("!H", ip_checksum(bytes(h)))
    return bytes(h) + payload


def tcp(flags, sport):
    # Checksum left 0: every frame below is dropped before anyone checks it.
    return struct.pack("!HHIIBBHHH", sport, 80, 1, 0, 5 << 4, flags, 65535, 0, 0)


def malformed_kinds():
    rnd = random.Random(7)  # fixed seed: a failure replays the same bytes

    def junk(i):
        # Random bytes zero-padded to a minimum frame; the first nibble (the
        # IP version) is never 4, so the reason is always bad_ip_header.
        head = bytes([rnd.randrange(0, 0x40)]) + bytes(rnd.randrange(256) for _ in range(rnd.randrange(3, 20)))
        return 0x0800, head + bytes(46 - len(head))

    return [
        ("truncated (IP total length 1500, 40 bytes sent)", "truncated",
         lambda i: (0x0800, ipv4(tcp(0x02, 40000 + i), total=1500))),
        ("bad IHL (3)", "bad_ip_header", lambda i: (0x0800, ipv4(tcp(0x02, 40000 + i), ihl=3))),
        # DPDK's af_packet PMD joins a fanout group with
        # PACKET_FANOUT_FLAG_DEFRAG, so the kernel reassembles (or holds for
        # good) an untagged fragment before gatewayd could see it. Inside two
        # VLAN tags the kernel does not recognise it as IPv4 and hands it on
        # as sent; two tags are legal for the gateway, the fragment is not.
        ("IP fragment (MF, in 802.1ad + 802.1Q tags)", "ip_fragment",
         lambda i: (0x88A8, struct.pack("!HHH", 10, 0x8100, 20) + struct.pack("!H", 0x0800)
                    + ipv4(tcp(0x02, 40000 + i), frag=0x2000))),
        ("SYN+FIN", "bad_tcp_flags", lambda i: (0x0800, ipv4(tcp(0x03, 40000 + i)))),
        ("no TCP flags", "bad_tcp_flags", lambda i: (0x0800, ipv4(tcp(0x00, 40000 + i)))),
        ("IPv6", "not_ipv4", lambda i: (0x86DD, struct.pack("!IHBB", 0x60000000, 20, 6, 64)
                                         + bytes(32) + tcp(0x02, 40000 + i))),
        ("3 VLAN tags", "bad_l2", lambda i: (0x8100, struct.pack("!HHHHH", 10, 0x8100, 20, 0x8100, 30)
                                               + struct.pack("!H", 0x0800) + ipv4(tcp(0x02, 40000 + i)))),
        ("zero-padded junk", "bad_ip_header", junk),
    ]


def mac_bytes(mac):
    return bytes(int(b, 16) for b in mac.split(":"))


def sc_malformed(L, step, per_kind=50):
    gw_mac = L.gw.info()["ports"][0]["mac"]
    cl_mac = L.topo.mac(L.topo.client, "eth0")
    header = mac_bytes(gw_mac) + mac_bytes(cl_mac)
    base = L.gw.drops()
    expected = {}
    for what, reason, build in malformed_kinds():
        frames = []
        for i in range(per_kind):
            ethertype, payload = build(i)
            frames.append((header + struct.pack("!H", ethertype) + payload).hex())
        L.client.call("raw", iface="eth0", frames=frames)
        expected[reason] = expected.get(reason, 0) + per_kind

        # One kind at a time: a miscount names the kind that caused it.
        def delta():
            now = L.gw.drops()
            return {r: now[r] - base[r] for r in expected}
        got = settle(delta, expected)
        step(f"{per_kind} x {what}: drops {got}")
        check(got == expected, f"after {per_kind} x {what}: drop counters grew by {got}, expected {expected}")
        check(L.gw.running(), f"gatewayd exited after {what}")

    nodes, errors = L.http_new(50)
    step(f"50 requests after the burst: {counts(nodes)}, {len(errors)} errors")
    check(not errors and len(nodes) == 50, f"requests after the malformed burst failed: {errors[:3]}")
    sent = per_kind * len(malformed_kinds())
    grown = ", ".join(f"{r} +{n}" for r, n in expected.items())
    return f"{sent} bad frames counted exactly ({grown}); gatewayd alive, 50/50 requests ok"


def ping(L, address, count=5):
    """Pings from the client; (sent, received)."""
    r = L.topo.exec(L.topo.client, "ping", "-n", "-c", str(count), "-i", "0.2", "-W", "1",
                    "-w", str(count + 2), address, check=False, timeout=count + 5)
    m = re.search(r"(\d+) packets transmitted, (\d+) received", r.stdout)
    check(m, f"ping {address}: {r.stdout.strip()} {r.stderr.strip()}")
    return int(m.group(1)), int(m.group(2))


def sc_arp_icmp(L, step):
    gw_mac = L.gw.info()["ports"][0]["mac"].lower()
    check(gw_mac == L.topo.mac(L.topo.gw, "gw0"), f"show info says MAC {gw_mac}, gw0 has another")
    # A fresh ARP exchange, so the entry below is this test's.
    L.topo.ip(L.topo.client, "neigh", "flush", "dev", "eth0")
    replies_before = L.gw.stats()["control"]["icmp_replies"]
    for address in (CLUSTER_IP, GATEWAY_IP):
        sent, got = ping(L, address)
        step(f"ping {address}: {sent} sent, {got} answered")
        check(sent == 5 and got == 5, f"ping {address}: {got} of {sent} answered")
    replies = L.gw.stats()["control"]["icmp_replies"] - replies_before
    check(replies == 10, f"the gateway counted {replies} ICMP replies, the client got 10")
    for address in (CLUSTER_IP, GATEWAY_IP):
        entries = [e for e in L.topo.neigh(L.topo.client) if e.get("dst") == address]
        step(f"client ARP for {address}: {entries}")
        check(entries and entries[0].get("lladdr", "").lower() == gw_mac,
              f"client's ARP entry for {address} is {entries}, expected the gateway's MAC {gw_mac}")
    return f"10/10 pings answered; {CLUSTER_IP} and {GATEWAY_IP} -> {gw_mac}"
