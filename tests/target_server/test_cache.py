"""The price cache: checksummed entries, corruption raised, a full volume or budget refused."""

import errno
import json
import logging
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from target_server.cache import PriceCache, Quote
from target_server.errors import CacheCorruptError
from tests.support.asgi import TestClient
from tests.support.target_server import AppFactory

QUOTE = Quote(sku="COF-001", price_cents=450, currency="EUR", source="primary", fetched_at=0.0)


def fresh(quote: Quote = QUOTE) -> Quote:
    return Quote(**{**quote.__dict__, "fetched_at": time.time()})


def cache_at(path: Path, max_bytes: int = 1 << 20) -> PriceCache:
    return PriceCache(directory=path, max_bytes=max_bytes, ttl_s=30)


def test_round_trip_carries_a_checksum(tmp_path: Path) -> None:
    cache = cache_at(tmp_path)
    quote = fresh()
    assert cache.put(quote)
    entry = json.loads(cache.path_for(quote.sku).read_bytes())
    assert len(entry["sha256"]) == 64
    assert cache.get(quote.sku) == (quote, True)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda raw: b"\x00" + os.urandom(32),
        lambda raw: raw.replace(b"450", b"451"),  # still valid JSON: only the checksum sees it
        lambda raw: raw.replace(b"COF-001", b"COF-002"),
        lambda raw: b"[1, 2]",
    ],
    ids=["garbage", "checksum", "other-sku", "not-an-object"],
)
def test_corrupt_entry_raises_and_is_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mangle: object
) -> None:
    cache = cache_at(tmp_path)
    cache.put(fresh())
    path = cache.path_for(QUOTE.sku)
    path.write_bytes(mangle(path.read_bytes()))  # type: ignore[operator]
    with caplog.at_level(logging.ERROR), pytest.raises(CacheCorruptError):
        cache.get(QUOTE.sku)
    assert "cache entry corrupt" in caplog.text


def test_entry_without_checksum_is_a_miss(tmp_path: Path) -> None:
    cache = cache_at(tmp_path)
    legacy = {**fresh().__dict__}
    cache.path_for(QUOTE.sku).write_text(json.dumps(legacy))
    assert cache.get(QUOTE.sku) is None


def test_full_budget_fails_writes_and_the_probe(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = cache_at(tmp_path, max_bytes=4096)
    (tmp_path / ".ballast").write_bytes(b"\0" * 4096)
    assert cache.put(fresh()) is False
    assert "no space left on device" in caplog.text
    with pytest.raises(OSError) as failed:
        cache.probe()
    assert failed.value.errno == errno.ENOSPC
    assert "No space left on device" in str(failed.value)
    (tmp_path / ".ballast").unlink()
    cache.probe()
    assert cache.put(fresh())


@pytest.fixture
def tiny_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (root only): real ENOSPC from the kernel."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    point = tmp_path / "vol"
    point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "breakfix-test", str(point)], check=False
    )
    if mounted.returncode != 0:
        pytest.skip("mount refused here")
    try:
        yield point
    finally:
        subprocess.run(["umount", str(point)], check=True)


def test_full_filesystem_fails_writes_with_enospc(
    tiny_tmpfs: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = cache_at(tiny_tmpfs, max_bytes=1 << 30)  # the budget is not what stops it
    fd = os.open(tiny_tmpfs / ".ballast", os.O_WRONLY | os.O_CREAT)
    try:
        with pytest.raises(OSError):
            while True:
                os.write(fd, b"\0" * 8192)
    finally:
        os.close(fd)
    assert cache.put(fresh()) is False
    # The kernel's own words reach the log line (its `error` field).
    assert "No space left on device" in caplog.records[-1].error  # type: ignore[attr-defined]
    with pytest.raises(OSError) as failed:
        cache.probe()
    assert failed.value.errno == errno.ENOSPC
    assert sorted(p.name for p in tiny_tmpfs.iterdir()) == [".ballast"]  # no temp files left


def test_ready_reports_a_full_cache(make_app: AppFactory, tmp_path: Path) -> None:
    with TestClient(make_app(cache_max_bytes=1024)) as client:
        assert client.get("/ready").status_code == 200
        (tmp_path / "cache" / ".ballast").write_bytes(b"\0" * 1024)
        body = client.get("/ready").json()
    assert body["status"] == "not_ready"
    assert body["checks"]["cache"]["ok"] is False
    assert "No space left on device" in body["checks"]["cache"]["detail"]
