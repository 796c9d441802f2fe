"""Connection table files (common/conn_file.hpp) written from Python, for
the bulk insert bench: N established TCP flows toward the bench's nodes."""
import struct

MAGIC, VERSION = 0x54434743, 1
_POLY = 0x82F63B78  # CRC-32C, reflected
_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ _POLY if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _TABLE
    for b in data:
        c = t[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def ip4(s):
    a, b, c, d = map(int, s.split("."))
    return (a << 24) | (b << 16) | (c << 8) | d


def write(path, count, vip, port, nodes):
    """`count` ACTIVE TCP flows from 10.x.y.z clients to vip:port, spread over `nodes` (addresses) in turn."""
    v, ns = ip4(vip), [ip4(n) for n in nodes]
    rec = struct.Struct("<IIHHBIB")  # flow (saddr, daddr, sport, dport, proto), node, state: 18 bytes
    body = bytearray(rec.size * count)
    for i in range(count):
        rec.pack_into(body, i * rec.size, 0x0A000000 + i // 60000, v, 1024 + i % 60000, port, 6, ns[i % len(ns)], 1)
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHII", MAGIC, VERSION, 0, count, crc32c(body)))
        f.write(body)
