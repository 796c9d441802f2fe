#!/usr/bin/env python3
"""The two ends of the system tests' traffic, run inside their namespaces.

    node_server.py serve --name n1 [--udp-address 198.18.0.100] [--delay-file F]
        A node: a real HTTP/1.1 server on port 80 (keep-alive, one thread per
        connection) answering GET / with the node's name, and a UDP server on
        5353 answering each datagram with the node's name. The UDP socket is
        bound to the cluster address so that replies leave from it (direct
        server return: the client's connected socket accepts only those).
        With --delay-file, each HTTP answer waits the number of milliseconds
        the file holds (no file: none): a node made slow on purpose.
        On 5354, a UDP server with a connected socket per client (as
        OpenSSL's DTLS servers make one after DTLSv1_listen): the node's
        kernel knows each flow, so a takeover's query finds it.

    node_server.py client
        The client's request driver: reads one JSON request per line on
        stdin, answers one JSON line on stdout (topology.Client is the other
        side). Every operation is bounded in count and in time.

Python stdlib only.
"""

import argparse
import http.client
import http.server
import json
import socket
import sys
import threading
import time

HTTP_PORT = 80
UDP_PORT = 5353
UDP_SESSION_PORT = 5354
IO_TIMEOUT = 2.0   # per connection or datagram: the network is a local bridge


# ---- node ----------------------------------------------------------------

def delay_of(path):
    """Milliseconds to wait before an answer, from `path` (None: none)."""
    if not path:
        return 0.0
    try:
        with open(path) as f:
            return float(f.read().strip() or 0)
    except (OSError, ValueError):
        return 0.0


def serve(name, udp_address, delay_file=None):
    body = (name + "\n").encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"   # keep-alive unless the client closes
        timeout = 300                   # an idle keep-alive connection ends eventually

        def do_GET(self):
            if self.path != "/":
                self.send_error(404)
                return
            delay = delay_of(delay_file)
            if delay > 0:
                time.sleep(delay / 1000)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *args):
            pass  # hundreds of requests per test; the client counts them

    class Server(http.server.ThreadingHTTPServer):
        # socketserver listens with a backlog of 5: hundreds of connections
        # opened at once overflow it, the node drops their first ACK and
        # request, and the client's retransmissions back off for up to a
        # minute before one finds room.
        request_queue_size = 4096

    http_server = Server(("0.0.0.0", HTTP_PORT), Handler)
    http_server.daemon_threads = True
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((udp_address, UDP_PORT))

    def udp_loop():
        while True:
            _, peer = udp.recvfrom(2048)
            udp.sendto(body, peer)

    threading.Thread(target=udp_loop, daemon=True).start()
    threading.Thread(target=udp_sessions, args=(udp_address, body), daemon=True).start()
    print(f"{name}: listening on tcp/{HTTP_PORT} and {udp_address}:udp/{UDP_PORT},{UDP_SESSION_PORT}", flush=True)
    http_server.serve_forever()


def udp_session_socket(address):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    s.bind((address, UDP_SESSION_PORT))
    return s


def udp_sessions(address, body):
    """The first datagram of a client comes to the listening socket, which
    makes the client's own connected socket and answers from it; the kernel
    delivers the client's later datagrams to that one (a connected socket
    matches the 4-tuple before the reuseport group)."""
    listener = udp_session_socket(address)

    def session(s):
        while True:
            s.send(body)
            s.recv(2048)

    while True:
        _, peer = listener.recvfrom(2048)
        s = udp_session_socket(address)
        s.connect(peer)
        threading.Thread(target=session, args=(s,), daemon=True).start()


# ---- client --------------------------------------------------------------

def udp_client(address, port):
    """A UDP socket connected to address:port (its own source port)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(IO_TIMEOUT)
    s.connect((address, port))
    return s


def get_node(conn):
    """One GET / on an open connection; the node's name."""
    conn.request("GET", "/")
    r = conn.getresponse()
    text = r.read().decode().strip()
    if r.status != 200:
        raise RuntimeError(f"HTTP {r.status}: {text}")
    return text


class Driver:
    def __init__(self):
        self.kept = {}   # id -> an open keep-alive HTTPConnection

    def op_hello(self, req):
        return {}

    def op_http_new(self, req):
        """`count` GET / requests, each on a new TCP connection that the
        client closes first (so its ports sit in TIME_WAIT and are not
        reused within the run). Stops at the time limit."""
        deadline = time.monotonic() + req["timeout"]
        nodes, errors = [], []
        for _ in range(int(req["count"])):
            if time.monotonic() >= deadline:
                errors.append("time limit reached")
                break
            conn = http.client.HTTPConnection(req["address"], HTTP_PORT, timeout=IO_TIMEOUT)
            try:
                nodes.append(get_node(conn))
            except Exception as e:
                errors.append(f"{type(e).__name__}: {e}")
            finally:
                conn.close()
        return {"nodes": nodes, "errors": errors}

    def op_http_timed(self, req):
        """New connections back to back for `seconds` (each closed by the
        client), `pause` s apart; for each: [wall-clock start, node or None,
        latency ms, error or None]. Wall clock, so that the test can line
        the requests up with what it did meanwhile."""
        end = time.monotonic() + min(float(req["seconds"]), req["timeout"])
        out = []
        while time.monotonic() < end:
            t_wall, t0 = time.time(), time.monotonic()
            conn = http.client.HTTPConnection(req["address"], HTTP_PORT, timeout=IO_TIMEOUT)
            try:
                node, error = get_node(conn), None
            except Exception as e:
                node, error = None, f"{type(e).__name__}: {e}"
            finally:
                conn.close()
            out.append([t_wall, node, (time.monotonic() - t0) * 1000, error])
            if req.get("pause"):
                time.sleep(float(req["pause"]))
        return {"requests": out}

    def op_keep_open(self, req):
        conn = http.client.HTTPConnection(req["address"], HTTP_PORT, timeout=IO_TIMEOUT)
        self.kept[req["id"]] = conn
        node = get_node(conn)
        return {"node": node, "local_port": conn.sock.getsockname()[1]}

    def op_keep_get(self, req):
        """`count` requests on the kept connection; it must stay the same
        TCP connection (http.client would silently reconnect after a close,
        which would hide a broken connection)."""
        conn = self.kept[req["id"]]
        sock = conn.sock
        nodes = [get_node(conn) for _ in range(int(req.get("count", 1)))]
        if conn.sock is not sock:
            raise RuntimeError("the kept connection was closed and reopened")
        return {"nodes": nodes}

    def op_keep_close(self, req):
        self.kept.pop(req["id"]).close()
        return {}

    def op_udp(self, req):
        """`flows` UDP flows (a socket each, so each has its own source port),
        `per_flow` datagrams each, one at a time; answers[i] lists the node
        that answered each datagram of flow i (None: no answer)."""
        deadline = time.monotonic() + req["timeout"]
        socks = []
        try:
            for _ in range(int(req["flows"])):
                socks.append(udp_client(req["address"], UDP_PORT))
            answers = [[] for _ in socks]
            for _ in range(int(req["per_flow"])):
                for i, s in enumerate(socks):
                    if time.monotonic() >= deadline:
                        raise RuntimeError("time limit reached")
                    s.send(b"which node?")
                    try:
                        answers[i].append(s.recv(2048).decode().strip())
                    except socket.timeout:
                        answers[i].append(None)
            return {"answers": answers, "ports": [s.getsockname()[1] for s in socks]}
        finally:
            for s in socks:
                s.close()

    def op_udp_hold(self, req):
        """`flows` UDP sockets to `address`:`port`, kept under `id`, one
        datagram each; the node that answered each (None: no answer)."""
        self.kept[req["id"]] = [udp_client(req["address"], int(req["port"])) for _ in range(int(req["flows"]))]
        return self.op_udp_ask(req)

    def op_udp_ask(self, req):
        """One datagram on each socket kept under `id`, each tried up to
        `tries` times (a datagram lost during a takeover is not resent by
        anybody): the node that answered each (None: none did). With
        `reverse`, the sockets take turns from the last one (the answers stay
        in the sockets' order)."""
        socks = self.kept[req["id"]]
        nodes = [None] * len(socks)
        for i in (reversed(range(len(socks))) if req.get("reverse") else range(len(socks))):
            s = socks[i]
            for _ in range(int(req.get("tries", 1))):
                s.send(b"which node?")
                try:
                    nodes[i] = s.recv(2048).decode().strip()
                    break
                except socket.timeout:
                    pass
        return {"nodes": nodes}

    def op_raw(self, req):
        """Sends each frame (hex) as it is on interface `iface`."""
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        try:
            s.bind((req["iface"], 0))
            for h in req["frames"]:
                s.send(bytes.fromhex(h))
        finally:
            s.close()
        return {"sent": len(req["frames"])}


def client():
    d = Driver()
    for line in sys.stdin:
        req = json.loads(line)
        try:
            rep = getattr(d, "op_" + req["op"])(req)
            rep["ok"] = True
        except Exception as e:
            rep = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        print(json.dumps(rep), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--udp-address", default="0.0.0.0")
    s.add_argument("--delay-file", default=None)
    sub.add_parser("client")
    a = ap.parse_args()
    if a.mode == "serve":
        serve(a.name, a.udp_address, a.delay_file)
    else:
        client()


if __name__ == "__main__":
    main()
