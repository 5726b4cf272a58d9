"""Loopback ports: whether one is taken, and picking free ones for labs on free ports."""

import os
import socket
import threading
from pathlib import Path

# Picked ports come from below the kernel's ephemeral range (client sockets take their local
# port from it): a lab binds its ports up to a minute after they are picked, and a port from
# that range was once taken meanwhile by one of the thousands of client connections a
# parallel test run makes ("ports already in use: chaos").
PICK_FLOOR = 20_000
SLICE = 1_000  # ports per picking process (one slice per pytest-xdist worker)
_EPHEMERAL = Path("/proc/sys/net/ipv4/ip_local_port_range")

_lock = threading.Lock()
_cursor: dict[int, int] = {}


def port_in_use(host: str, port: int) -> bool:
    """Whether something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _ephemeral_floor() -> int:
    try:
        return int(_EPHEMERAL.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _slot() -> int:
    """This process's slice: the pytest-xdist worker number (gw0, gw1...), else the pid, so
    parallel workers never pick the same port before either has bound it."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        return int(worker[2:])
    return os.getpid()


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now and that this process has
    not handed out lately: taken in turn from this process's slice of the ports below the
    ephemeral range (any free port from the kernel if that range leaves no room)."""
    slices = (_ephemeral_floor() - PICK_FLOOR) // SLICE
    if slices < 1:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    base = PICK_FLOOR + (_slot() % slices) * SLICE
    with _lock:
        for _ in range(SLICE):
            offset = _cursor.get(base, 0)
            _cursor[base] = (offset + 1) % SLICE
            if _bindable(base + offset):
                return base + offset
    raise OSError(f"no free port in 127.0.0.1:{base}-{base + SLICE - 1}")
