"""Network variants on the API-to-database path (the API reaches Postgres through the
db-proxy on 127.0.0.1): firewall rules on the proxy's port only,
the proxy replaced by one whose backend is gone, the proxy starved of CPU."""

import subprocess
import sys
from dataclasses import dataclass, field

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import ensure_target, port_of
from gameday.mechanisms.cgroups import Cgroup

TAG = "breakfix-mech"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)


@dataclass
class Firewall:
    """An iptables rule on loopback for the db-proxy's port: DROP (a firewall change) or
    REJECT with host-unreachable (a network the proxy is no longer attached to)."""

    fault: str = "net-db-partition"
    target: tuple[str, ...] = ("DROP",)
    rule: tuple[str, ...] = field(default=(), init=False)

    def make(self, lab: GamedayLab) -> None:
        port = str(port_of(lab, "db-proxy"))
        self.rule = ("OUTPUT", "-o", "lo", "-p", "tcp", "--dport", port,
                     "-m", "comment", "--comment", TAG, "-j", *self.target)  # fmt: skip
        done = _run("iptables", "-I", *self.rule)
        if done.returncode != 0:
            raise GamedayError(f"iptables: {done.stderr.strip()}")

    def clean(self, lab: GamedayLab) -> list[str]:
        removed = 0
        while self.rule and _run("iptables", "-D", *self.rule).returncode == 0:
            removed += 1
        left = ["the firewall rule was still there"] if removed else []
        return left + ensure_target(lab)


_DEAD_BACKEND = """
import socket, sys
server = socket.create_server(("127.0.0.1", int(sys.argv[1])), reuse_port=False)
while True:
    conn, _ = server.accept()
    conn.close()  # the backend it would forward to refuses: close at once
"""


@dataclass
class ProxyWrongBackend:
    """net-db-partition--proxy-points-at-wrong-backend: the proxy on its port still accepts,
    its backend is an address where nothing listens, so it closes every connection."""

    fault: str = "net-db-partition"
    proxy: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        lab.runtime.stop("db-proxy")
        port = str(port_of(lab, "db-proxy"))
        self.proxy = subprocess.Popen([sys.executable, "-c", _DEAD_BACKEND, port])

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.proxy is None:
            return []
        self.proxy.kill()
        self.proxy.wait(timeout=10)
        lab.runtime.start("db-proxy")
        return ["the proxy still pointed at a dead backend", *ensure_target(lab)]


@dataclass
class ProxyStarved:
    """net-db-latency--proxy-cpu-starved: the db-proxy under a 2 % CPU quota."""

    fault: str = "net-db-latency"
    group: Cgroup | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        pid = lab.runtime.status("db-proxy").pid
        if pid is None:
            raise GamedayError("db-proxy is not running")
        self.group = Cgroup("cpu", f"breakfix-mech-proxy-{pid}")
        self.group.create(**{"cpu.cfs_period_us": "100000"})
        self.group.add(pid)
        self.group.set("cpu.cfs_quota_us", "2000")

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.group is None:
            return []
        left = ["db-proxy was still starved"] if self.group.members() else []
        self.group.remove()
        return left
