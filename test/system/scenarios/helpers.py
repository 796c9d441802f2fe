"""What more than one scenario needs: a check that fails with a message,
console durations read as seconds, and counters read until they settle."""

import re

from gateway import wait_for


def check(cond, message):
    if not cond:
        raise AssertionError(message)


def seconds(text):
    """A console duration ("6s", "2h15m", "250ms") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6}
    parts = re.findall(r"(\d+)(ms|us|h|m|s)", text)
    check(parts and "".join(n + u for n, u in parts) == text, f"cannot read duration {text!r}")
    return sum(int(n) * units[u] for n, u in parts)


def settle(read, expected, timeout=5):
    """Polls read() until it returns `expected` or `timeout` passes; returns
    its last value, for an exact comparison by the caller. Counters are
    read while the worker may still be counting the last packets."""
    try:
        return wait_for(lambda: (v := read()) == expected and (v,), timeout, "settle")[0]
    except AssertionError:
        return read()
