"""Pricing upstream variants: the primary's process stopped, or replaced on its port by a
stub that answers 503, answers after 45 s, or answers 200 with an HTML page; its name gone
from the hosts file the target resolves through."""

import subprocess
import sys
from dataclasses import dataclass, field

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import port_of, settle
from gameday.side_actions import restore_primary_routes
from lab.services import PRIMARY_HOST

_STUB = """
import http.server, sys, time
MODE = sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if MODE == "slow":
            time.sleep(45)
        if MODE == "503":
            body, status, kind = b"Service Unavailable", 503, "text/plain"
        else:
            body, status, kind = b"<html><body>Down for maintenance</body></html>", 200, "text/html"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    do_POST = do_GET
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
"""


def _back_to_primary(lab: GamedayLab) -> list[str]:
    switched = restore_primary_routes(lab)
    return [f"{d} switched back to its primary" for d in switched]


@dataclass
class StoppedUpstream:
    """The primary pricing process stopped (crashed, scaled to zero); with `mode`, a stub of
    that mode listening on its port instead."""

    fault: str = "upstream-outage"
    mode: str | None = None
    stub: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        lab.runtime.stop("upstream-primary")
        if self.mode is not None:
            port = str(port_of(lab, "upstream-primary"))
            self.stub = subprocess.Popen([sys.executable, "-c", _STUB, port, self.mode])

    def clean(self, lab: GamedayLab) -> list[str]:
        left = []
        if self.stub is not None:
            self.stub.kill()
            self.stub.wait(timeout=10)
            left.append(f"the {self.mode} stub was still on the primary's port")
        if lab.runtime.status("upstream-primary").pid is None:
            lab.runtime.start("upstream-primary")
            left.append("the primary pricing upstream was still stopped")
        settle(lab)
        return left + _back_to_primary(lab)


@dataclass
class HostsEntryRemoved:
    """upstream-dns--hosts-entry-removed: the hosts file rewritten from a template that lacks
    the primary pricing host's line."""

    fault: str = "upstream-dns"
    before: str | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        hosts = lab.paths.hosts_file
        self.before = hosts.read_text()
        kept = [
            line
            for line in self.before.splitlines(keepends=True)
            if PRIMARY_HOST not in line.split("#", 1)[0].split()[1:]
        ]
        hosts.write_text("".join(kept))

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.before is None:
            return []
        hosts = lab.paths.hosts_file
        left = []
        if PRIMARY_HOST not in hosts.read_text():
            hosts.write_text(self.before)
            left.append("the primary's hosts line was still missing")
        return left + _back_to_primary(lab)
