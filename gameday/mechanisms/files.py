"""Variants made on files: the cache volume filled (a log, a backup, a deleted file still
held open), cache entries damaged, the target's env file edited by hand."""

import contextlib
import errno
import gzip
import json
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from gameday.lab_handle import GamedayLab
from gameday.mechanisms.base import ensure_target, restart_target
from lab.cache_volume import cache_budget, is_lab_mount
from lab.envfile import read_env

CHUNK = 2**20


def _room(lab: GamedayLab) -> int | None:
    """How much may be written: None on the lab's own volume (until ENOSPC), else the
    target's byte budget."""
    cache = lab.paths.target_cache
    return None if is_lab_mount(cache) else cache_budget(read_env(lab.paths.target_env))


@dataclass
class BigFile:
    """One file on the cache volume written with `line` until the volume is full: a debug
    log without rotation, a dump copied to "somewhere with space"."""

    fault: str
    name: str
    line: bytes
    path: Path | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        self.path = lab.paths.target_cache / self.name
        limit, written = _room(lab), 0
        block = self.line * max(1, CHUNK // len(self.line))
        # unbuffered: a buffered writer's flush at close raised ENOSPC once more
        with self.path.open("wb", buffering=0) as handle:
            while limit is None or written < limit:
                try:
                    written += handle.write(block)
                    handle.flush()
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        with contextlib.suppress(OSError):  # top up the last free pages
            with self.path.open("ab", buffering=0) as handle:
                while True:
                    handle.write(self.line)
                    handle.flush()

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.path is None or not self.path.exists():
            return []
        self.path.unlink()
        return [f"{self.name} was still on the cache volume"]


_HOLDER = """
import os, sys, time
path, limit = sys.argv[1], int(sys.argv[2])
f = open(path, "wb")
block, written = b"0" * 2**20, 0
try:
    while limit < 0 or written < limit:
        written += f.write(block)
        f.flush()
except OSError:
    pass
os.unlink(path)
print("held", flush=True)
time.sleep(1e6)
"""


@dataclass
class DeletedButOpen:
    """disk-fill--deleted-file-still-open: a writer fills a file, someone `rm`s it, the
    writer keeps it open; the space stays taken until the writer exits."""

    fault: str = "disk-fill"
    holder: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        limit = _room(lab)
        path = lab.paths.target_cache / "app.log"
        self.holder = subprocess.Popen(
            [sys.executable, "-c", _HOLDER, str(path), str(-1 if limit is None else limit)],
            stdout=subprocess.PIPE,
        )
        assert self.holder.stdout is not None
        self.holder.stdout.readline()  # "held": written and deleted

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.holder is None:
            return []
        alive = self.holder.poll() is None
        self.holder.kill()
        self.holder.wait(timeout=10)
        return ["the deleted file was still held open"] if alive else []


def _warm_cache(lab: GamedayLab) -> list[Path]:
    """Ask for every product's price so the cache holds entries; the entries."""
    for n in range(1, 21):
        with contextlib.suppress(Exception):
            lab.target.get(f"/products/{n}/price", timeout=5.0)
    return sorted(lab.paths.target_cache.glob("price-*.json"))


def _truncated(raw: bytes) -> bytes:
    return raw[:7]


def _old_format(raw: bytes) -> bytes:
    data = json.loads(raw)
    return json.dumps(
        {"SKU": data.get("sku"), "amount": data.get("price_cents"), "ccy": data.get("currency")}
    ).encode()


def _gzipped(raw: bytes) -> bytes:
    return gzip.compress(raw)


@dataclass
class DamagedEntries:
    """Cache entries rewritten in place by `damage` (every `every`-th entry)."""

    fault: str
    damage: str  # truncated | old_format | gzipped
    every: int = 1
    written: dict[Path, bytes] = field(default_factory=dict)

    def make(self, lab: GamedayLab) -> None:
        change = {"truncated": _truncated, "old_format": _old_format, "gzipped": _gzipped}
        for path in _warm_cache(lab)[:: self.every]:
            with contextlib.suppress(OSError, ValueError):
                new = change[self.damage](path.read_bytes())
                path.write_bytes(new)
                self.written[path] = new

    def clean(self, lab: GamedayLab) -> list[str]:
        left = 0
        for path, new in self.written.items():
            with contextlib.suppress(OSError):
                if path.read_bytes() == new:
                    path.unlink()
                    left += 1
        return [f"{left} damaged cache entries were still there"] if left else []


@dataclass
class EnvEdit:
    """The target's env file edited by hand (`edit` maps its text to the new text), then
    the API restarted."""

    fault: str
    edit: str  # remove_db_url | typo_db_host | stale_template | crlf_quoted
    before: str | None = field(default=None, init=False)

    def make(self, lab: GamedayLab) -> None:
        path = lab.paths.target_env
        self.before = path.read_text()
        path.write_text(_EDITS[self.edit](self.before))
        restart_target(lab)

    def clean(self, lab: GamedayLab) -> list[str]:
        if self.before is None:
            return []
        path = lab.paths.target_env
        left = []
        if read_env(path) != _plain(self.before) or path.read_text() != self.before:
            path.write_text(self.before)
            restart_target(lab)
            left.append("the env file was still edited")
        return left + ensure_target(lab)


def _plain(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _lines(text: str, change: dict[str, str | None]) -> str:
    out = []
    for line in text.splitlines():
        key = line.partition("=")[0]
        if key in change:
            if change[key] is not None:
                out.append(f"{key}={change[key]}")
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def _url(text: str) -> str:
    return _plain(text)["TARGET_DATABASE_URL"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stale(text: str) -> str:
    """An older copy: the primary pricing URL on a port the service no longer has (nothing
    listens there), and settings since changed."""
    primary = _plain(text)["TARGET_PRICING_PRIMARY_URL"]
    retired = f"{primary.rsplit(':', 1)[0]}:{_free_port()}"
    kept = _lines(text, {"TARGET_PRICING_PRIMARY_URL": retired})
    return kept + "TARGET_DB_POOL_SIZE=3\nTARGET_CACHE_TTL_S=60\n"


_EDITS: dict[str, Callable[[str], str]] = {
    "remove_db_url": lambda t: _lines(t, {"TARGET_DATABASE_URL": None}),
    "typo_db_host": lambda t: _lines(
        t, {"TARGET_DATABASE_URL": _url(t).replace("@127.0.0.1:", "@taget-db:")}
    ),
    "stale_template": _stale,
    "crlf_quoted": lambda t: (t.rstrip("\n") + '\nTARGET_DB_POOL_SIZE="10 "\n').replace(
        "\n", "\r\n"
    ),
}
