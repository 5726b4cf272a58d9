"""Price cache on disk: one checksummed JSON file per SKU, atomic writes, a TTL, a budget."""

import errno
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.files import write_atomic
from target_server.errors import CacheCorruptError

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}$")
_PROBE_NAME = ".ready-probe"


@dataclass(frozen=True)
class Quote:
    """A price quoted by the pricing upstream."""

    sku: str
    price_cents: int
    currency: str
    source: str
    fetched_at: float


class PriceCache:
    """A directory of cached quotes; a full volume is logged, a corrupt entry raised."""

    def __init__(self, *, directory: Path, max_bytes: int, ttl_s: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s

    def path_for(self, sku: str) -> Path:
        """The file that holds `sku`'s quote (hashed when the SKU is not a safe file name)."""
        stem = sku if _SAFE_NAME.match(sku) else hashlib.sha256(sku.encode()).hexdigest()
        return self.directory / f"price-{stem}.json"

    def get(self, sku: str) -> tuple[Quote, bool] | None:
        """The cached quote and whether it is still fresh; None on a miss.

        A corrupt entry raises CacheCorruptError: serving or silently replacing garbage
        would hide a broken cache volume from everyone who watches the service.
        """
        path = self.path_for(sku)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache read failed", extra={"sku": sku, "error": str(exc)})
            return None
        try:
            quote = _decode(raw, sku)
        except (ValueError, KeyError, TypeError) as exc:
            log.error(
                "cache entry corrupt", extra={"sku": sku, "path": str(path), "error": str(exc)}
            )
            raise CacheCorruptError(f"the cached price of {sku} is corrupt") from None
        if quote is None:
            return None
        return quote, time.time() - quote.fetched_at < self.ttl_s

    def put(self, quote: Quote) -> bool:
        """Store `quote` atomically within the budget; False (and a log line) when it cannot."""
        path = self.path_for(quote.sku)
        data = _encode(quote)
        try:
            replaced = path.stat().st_size if path.exists() else 0
            self._check_budget(len(data) - replaced)
            self._write_atomic(path, data)
        except OSError as exc:
            msg = (
                "cache write failed: no space left on device"
                if exc.errno == errno.ENOSPC
                else "cache write failed"
            )
            log.error(msg, extra={"sku": quote.sku, "error": str(exc)})
            return False
        return True

    def size_bytes(self) -> int:
        """Bytes used by the cache's files (0 when the directory is missing)."""
        total = 0
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    if entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:
            return 0
        return total

    def probe(self) -> None:
        """Write and delete a probe file; raises OSError when the cache is not writable."""
        self.directory.mkdir(parents=True, exist_ok=True)
        self._check_budget(len(b"ok"))
        path = self.directory / _PROBE_NAME
        self._write_atomic(path, b"ok")
        path.unlink()

    def _write_atomic(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)

    def _check_budget(self, extra: int) -> None:
        if self.size_bytes() + extra > self.max_bytes:
            raise OSError(
                errno.ENOSPC,
                f"No space left on device (cache budget of {self.max_bytes} bytes used)",
            )


def _checksum(fields: dict[str, object]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def _encode(quote: Quote) -> bytes:
    fields: dict[str, object] = asdict(quote)
    return json.dumps({**fields, "sha256": _checksum(fields)}).encode()


def _decode(raw: bytes, sku: str) -> Quote | None:
    """The entry's quote; None for an entry written before checksums (a miss, rewritten)."""
    data = json.loads(raw)
    if not isinstance(data, dict):
        raise ValueError("entry is not an object")
    checksum = data.pop("sha256", None)
    quote = Quote(
        sku=str(data["sku"]),
        price_cents=int(data["price_cents"]),
        currency=str(data["currency"]),
        source=str(data["source"]),
        fetched_at=float(data["fetched_at"]),
    )
    if quote.sku != sku or quote.price_cents < 0:
        raise ValueError("entry does not describe this sku")
    if checksum is None:
        return None
    if checksum != _checksum(data):
        raise ValueError("checksum mismatch")
    return quote
