"""A client that holds many keep-alive HTTP connections and checks, after a
failure, that each one carries on: the same socket, no reset, the right
bytes from the same node.

Runs in the client namespace; one command per line on stdin, one JSON line
per command on stdout:

    open N       opens N connections to ADDRESS:PORT, one GET / on each;
                 remembers the node that answered (the body: its name)
    send         one GET / on every connection, without waiting
    collect T    waits up to T seconds for the answers of the last send
    idle T N     sends nothing, and watches every connection for up to T
                 seconds, or until N of them are reset (a client waiting
                 for an answer: only the gateway can tell it its node died)
    quit

`collect` reports, over all connections: ok (an answer from the node that
answered at open), wrong_node, reset (ECONNRESET), closed (EOF), timeout,
the slowest answer and the slowest reset in ms (from the send), the
answers by how long they took (answered_within_ms: {bound: count}, bounds
powers of two, each count the answers above the bound before it), and the
outcomes by node. Single-threaded, selectors; Python stdlib only.
"""

import errno
import json
import resource
import selectors
import socket
import sys
import time

REQUEST = b"GET / HTTP/1.1\r\nHost: cluster\r\n\r\n"


class Conn:
    __slots__ = ("sock", "port", "node", "buf", "want", "sent_at", "took", "error", "reset_ms")

    def __init__(self, sock):
        self.sock = sock
        self.port = sock.getsockname()[1]  # the client's: bound by connect
        self.node = None     # the body of the first answer
        self.buf = b""
        self.want = False    # an answer is due
        self.sent_at = 0.0
        self.took = None     # ms of the last answer
        self.error = None    # "reset", "closed", or None
        self.reset_ms = None  # from the last send to the reset


def answer_in(buf):
    """(body, rest) once buf holds a whole HTTP answer, else None."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return None
    length = 0
    for line in buf[:end].split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if len(buf) < end + 4 + length:
        return None
    return buf[end + 4:end + 4 + length], buf[end + 4 + length:]


class Holder:
    def __init__(self, address, port):
        self.address, self.port = address, port
        self.conns = []
        self.sel = selectors.DefaultSelector()

    def _pump(self, pending, deadline, on_answer):
        """Reads until no connection in `pending` waits, or the deadline."""
        while pending and time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=min(0.1, max(0.0, deadline - time.monotonic()))):
                c = key.data
                if c not in pending:
                    continue
                try:
                    data = c.sock.recv(65536)
                except ConnectionResetError:
                    c.error = "reset"
                    c.reset_ms = (time.monotonic() - c.sent_at) * 1000
                    pending.discard(c)
                    continue
                except BlockingIOError:
                    continue
                if not data:
                    c.error = "closed"
                    pending.discard(c)
                    continue
                c.buf += data
                got = answer_in(c.buf)
                if got:
                    body, c.buf = got
                    c.want = False
                    c.took = (time.monotonic() - c.sent_at) * 1000
                    on_answer(c, body.decode(errors="replace").strip())
                    pending.discard(c)

    def idle(self, timeout, expect):
        t0 = time.monotonic()
        pending = {c for c in self.conns if not c.error}
        for c in pending:
            c.sent_at = t0  # reset_ms counts from now
        stray = []

        def answered(c, body):  # an answer to nothing asked
            stray.append(c.port)
        deadline = t0 + timeout
        while time.monotonic() < deadline and sum(1 for c in self.conns if c.error == "reset") < expect:
            self._pump(pending, min(deadline, time.monotonic() + 0.05), answered)
        resets = [c.reset_ms for c in self.conns if c.reset_ms is not None]
        by_node = {}
        for c in self.conns:
            outcome = c.error or "quiet"
            by_node.setdefault(c.node, {}).setdefault(outcome, 0)
            by_node[c.node][outcome] += 1
        return {"reset": len(resets), "slowest_reset_ms": round(max(resets), 1) if resets else None,
                "by_node": by_node, "stray_answers": len(stray), "seconds": round(time.monotonic() - t0, 2)}

    def open(self, n, batch=500, timeout=60):
        t0 = time.monotonic()
        errors = []
        for start in range(0, n, batch):
            fresh = []
            for _ in range(min(batch, n - start)):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.setblocking(False)
                err = s.connect_ex((self.address, self.port))
                if err not in (0, errno.EINPROGRESS):
                    errors.append(f"connect: {errno.errorcode.get(err, err)}")
                    s.close()
                    continue
                fresh.append(Conn(s))
            # Writable once connected; then the first request.
            wsel = selectors.DefaultSelector()
            for c in fresh:
                wsel.register(c.sock, selectors.EVENT_WRITE, c)
            waiting, deadline = set(fresh), time.monotonic() + timeout
            while waiting and time.monotonic() < deadline:
                for key, _ in wsel.select(timeout=0.5):
                    c = key.data
                    wsel.unregister(c.sock)
                    waiting.discard(c)
                    err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        errors.append(f"connect: {errno.errorcode.get(err, err)}")
                        c.error = "connect"
                        continue
                    c.sock.send(REQUEST)
                    c.sent_at, c.want = time.monotonic(), True
            wsel.close()
            ok = [c for c in fresh if c.want]
            for c in ok:
                self.sel.register(c.sock, selectors.EVENT_READ, c)

            def first(c, body):
                c.node = body
            pending = set(ok)
            self._pump(pending, time.monotonic() + timeout, first)
            errors += [f"first answer: {c.error or 'timeout'} (client port {c.port})" for c in ok if c.node is None]
            self.conns += [c for c in ok if c.node is not None]
        by_node = {}
        for c in self.conns:
            by_node[c.node] = by_node.get(c.node, 0) + 1
        return {"opened": len(self.conns), "errors": errors[:20], "error_count": len(errors),
                "by_node": by_node, "seconds": round(time.monotonic() - t0, 2)}

    def send(self):
        t0 = time.monotonic()
        sent, failed = 0, 0
        for c in self.conns:
            if c.error:
                continue
            c.took, c.buf = None, b""
            try:
                c.sock.send(REQUEST)
                c.sent_at, c.want = time.monotonic(), True
                sent += 1
            except ConnectionResetError:
                c.error = "reset"
                failed += 1
            except OSError as e:
                c.error = f"send: {e.strerror}"
                failed += 1
        return {"sent": sent, "failed": failed, "seconds": round(time.monotonic() - t0, 3)}

    def collect(self, timeout):
        t0 = time.monotonic()
        wrong = []

        def check(c, body):
            if body != c.node:
                wrong.append(f"{c.node} -> {body}")
        pending = {c for c in self.conns if c.want and not c.error}
        self._pump(pending, time.monotonic() + timeout, check)
        took = [c.took for c in self.conns if c.took is not None]
        resets = [c.reset_ms for c in self.conns if c.reset_ms is not None]
        reset_ports = {c.reset_ms: c.port for c in self.conns if c.reset_ms is not None}
        by_node = {}
        for c in self.conns:
            outcome = c.error or ("ok" if c.took is not None else "timeout")
            by_node.setdefault(c.node, {}).setdefault(outcome, 0)
            by_node[c.node][outcome] += 1
        # Answers by when they came (ms after the send, powers of two up to
        # 65,536): a slow few are the client's own retransmission backoff.
        when = {}
        for t in took:
            bound = 1
            while bound < t and bound < 65536:
                bound *= 2
            when[bound] = when.get(bound, 0) + 1
        out = {"ok": sum(1 for c in self.conns if c.took is not None) - len(wrong), "wrong_node": len(wrong),
               "answered_within_ms": dict(sorted(when.items())),
               "reset": sum(1 for c in self.conns if c.error == "reset"),
               "closed": sum(1 for c in self.conns if c.error == "closed"),
               "other_errors": sum(1 for c in self.conns if c.error not in (None, "reset", "closed")),
               "timeout": len(pending), "slowest_ms": round(max(took), 1) if took else None,
               "slowest_reset_ms": round(max(resets), 1) if resets else None,
               "slowest_reset_port": reset_ports[max(resets)] if resets else None, "by_node": by_node,
               "seconds": round(time.monotonic() - t0, 2), "examples": wrong[:5],
               "timeout_ports": sorted(c.port for c in pending)[:50]}
        return out


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    # One descriptor per connection: as many as the kernel lets a process
    # have (root may raise its hard limit that far), else the hard limit.
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/sys/fs/nr_open") as f:
        most = int(f.read())
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (most, most))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    h = Holder(address, port)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            if words[0] == "open":
                out = h.open(int(words[1]))
            elif words[0] == "send":
                out = h.send()
            elif words[0] == "collect":
                out = h.collect(float(words[1]))
            elif words[0] == "idle":
                out = h.idle(float(words[1]), int(words[2]))
            elif words[0] == "quit":
                break
            else:
                out = {"error": f"unknown command {words[0]!r}"}
        except Exception as e:  # reported, not fatal: the test reads it
            out = {"error": f"{type(e).__name__}: {e}"}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
