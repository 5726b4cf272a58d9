"""Price cache on disk: one JSON file per SKU, atomic writes, a TTL and a byte budget."""

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
    """A directory of cached quotes; never raises on a bad entry or a full volume."""

    def __init__(self, *, directory: Path, max_bytes: int, ttl_s: float) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s

    def path_for(self, sku: str) -> Path:
        """The file that holds `sku`'s quote (hashed when the SKU is not a safe file name)."""
        stem = sku if _SAFE_NAME.match(sku) else hashlib.sha256(sku.encode()).hexdigest()
        return self.directory / f"price-{stem}.json"

    def get(self, sku: str) -> tuple[Quote, bool] | None:
        """The cached quote and whether it is still fresh; None on a miss or a corrupt entry."""
        path = self.path_for(sku)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            log.warning("cache read failed", extra={"sku": sku, "error": str(exc)})
            return None
        try:
            data = json.loads(raw)
            quote = Quote(
                sku=str(data["sku"]),
                price_cents=int(data["price_cents"]),
                currency=str(data["currency"]),
                source=str(data["source"]),
                fetched_at=float(data["fetched_at"]),
            )
            if quote.sku != sku or quote.price_cents < 0:
                raise ValueError("entry does not describe this sku")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "cache entry corrupt", extra={"sku": sku, "path": str(path), "error": str(exc)}
            )
            return None
        return quote, time.time() - quote.fetched_at < self.ttl_s

    def put(self, quote: Quote) -> bool:
        """Store `quote` atomically within the budget; False (and a log line) when it cannot."""
        path = self.path_for(quote.sku)
        data = json.dumps(asdict(quote)).encode()
        try:
            replaced = path.stat().st_size if path.exists() else 0
            if self.size_bytes() - replaced + len(data) > self.max_bytes:
                raise OSError(errno.ENOSPC, "cache budget exceeded")
            self._write_atomic(path, data)
        except OSError as exc:
            msg = "no space left" if exc.errno == errno.ENOSPC else "cache write failed"
            log.warning(msg, extra={"sku": quote.sku, "error": str(exc)})
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
        path = self.directory / _PROBE_NAME
        self._write_atomic(path, b"ok")
        path.unlink()

    def _write_atomic(self, path: Path, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        write_atomic(path, data)
