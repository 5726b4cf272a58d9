"""Host name resolution: lab names from the lab hosts file only, other names from the system."""

import ipaddress
import logging
import socket
import threading
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

SystemLookup = Callable[[str, int], str]

# The lab's own zone: these names exist only in the hosts file, and a query for one must never
# leave the machine (it would leak the lab's names to whatever DNS server is configured).
LAB_SUFFIX = ".breakfix.lab"


class NameResolutionError(Exception):
    """A host name resolved nowhere."""


def system_lookup(host: str, port: int) -> str:
    """The first address the system resolver returns for `host`."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return str(infos[0][4][0])


def parse_hosts(text: str) -> dict[str, str]:
    """Map each name in an /etc/hosts-style text to the first address listed for it."""
    table: dict[str, str] = {}
    for raw in text.splitlines():
        fields = raw.split("#", 1)[0].split()
        if len(fields) < 2:
            continue
        try:
            address = str(ipaddress.ip_address(fields[0]))
        except ValueError:
            continue
        for name in fields[1:]:
            table.setdefault(name.lower(), address)
    return table


def is_lab_name(name: str) -> bool:
    """Whether `name` belongs to the lab's zone (resolved from the hosts file only)."""
    name = name.lower().rstrip(".")
    return name == LAB_SUFFIX[1:] or name.endswith(LAB_SUFFIX)


class Resolver:
    """Resolve names the way the lab's upstream-dns fault expects: lab names from the file."""

    def __init__(self, *, hosts_file: Path | None, lookup: SystemLookup = system_lookup) -> None:
        self.hosts_file = hosts_file
        self.lookup = lookup
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._table: dict[str, str] = {}

    def resolve(self, host: str, port: int) -> str:
        """An IP address for `host`; raises NameResolutionError when there is none."""
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
        name = host.lower().rstrip(".")
        address = self._hosts_table().get(name)
        if address is not None:
            return address
        if is_lab_name(name):
            log.warning(
                "name resolution failure", extra={"host": host, "error": "not in the hosts file"}
            )
            raise NameResolutionError(f"name resolution failure for {host}")
        try:
            return self.lookup(host, port)
        except (OSError, UnicodeError) as exc:
            log.warning("name resolution failure", extra={"host": host, "error": str(exc)})
            raise NameResolutionError(f"name resolution failure for {host}") from exc

    def _hosts_table(self) -> dict[str, str]:
        if self.hosts_file is None:
            return {}
        with self._lock:
            try:
                st = self.hosts_file.stat()
            except OSError:
                # A missing file is an empty table: lab names fail, others go to the system.
                self._stamp, self._table = None, {}
                return self._table
            # mtime alone can repeat within one clock tick; size and inode catch a rewrite.
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp != self._stamp:
                try:
                    self._table = parse_hosts(self.hosts_file.read_text(errors="replace"))
                except OSError:
                    self._table = {}
                self._stamp = stamp
            return self._table
