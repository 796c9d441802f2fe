"""Where the benchmark's parts run and how they reach each other: cg-pktgen
on CPU 0 as the memif client, the device under test on CPU 1 as the memif
server, each DPDK process under its own file prefix."""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
RUN_DIR = "/run/clustergate"
MEMIF = f"{RUN_DIR}/bench.memif"          # gatewayd's port
REF_MEMIF = f"{RUN_DIR}/bench-ref.memif"  # testpmd's port
GW_NAME = "bench"
GW_SOCK = f"{RUN_DIR}/{GW_NAME}.sock"
GW_PREFIX = f"cg-{GW_NAME}"
GEN_PREFIX = "cg-bench-gen"
TP_PREFIX = "cg-bench-testpmd"
GW_MAC = "02:00:00:00:00:01"
GEN_MAC = "02:00:00:00:00:10"
VIP = "198.18.0.100"
NODES = [("198.18.0.11", "02:00:00:00:01:01", 3),
         ("198.18.0.12", "02:00:00:00:01:02", 2),
         ("198.18.0.13", "02:00:00:00:01:03", 1)]


def server_dev(sock):
    return f"net_memif0,role=server,socket={sock},socket-abstract=no,mac={GW_MAC}"


def client_dev(sock):
    # zero-copy: the generator's own copies would otherwise cap the rates (about 15 % lower).
    return f"net_memif0,role=client,socket={sock},socket-abstract=no,mac={GEN_MAC},zero-copy=yes"


GEN_CPU, DUT_MAIN_CPU, DUT_WORKER_CPU = 0, 0, 1
FULL_SLOTS_CONNS = 1572864  # 3/4 of 2^21: the most a 2 Mi-slot table may hold (load factor 3/4)
