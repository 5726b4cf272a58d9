"""cache-corruption: garbage overwrites real price entries in the target's cache dir."""

import os
import shutil
from pathlib import Path
from typing import ClassVar

import httpx
from pydantic import BaseModel, ConfigDict, Field

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.files import write_atomic
from lab.tls import client_tls

ENTRY_GLOB = "price-*.json"
GARBAGE_PREFIX = b"\x00breakfix-garbage:"


class CorruptionParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    entries: int = Field(3, ge=1, le=100, description="how many cache entries to corrupt")


def side_root(ctx: ChaosContext) -> Path:
    """Where originals wait for the revert: the chaos server's, outside the cache dir
    (which clear-cache empties)."""
    return ctx.paths.root / "chaos" / "cache-corruption"


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob(ENTRY_GLOB)) if cache.is_dir() else []


def _warm(ctx: ChaosContext, count: int) -> None:
    """Ask the target for prices, as any client would, so that it caches them."""
    with httpx.Client(
        base_url=ctx.target_url, timeout=10.0, trust_env=False, verify=client_tls()
    ) as client:
        listing = client.get("/products", params={"limit": count})
        listing.raise_for_status()
        for product in listing.json():
            client.get(f"/products/{int(product['id'])}/price")


class CacheCorruption(Fault):
    """Overwrite cached price entries with garbage; the originals are kept aside first, so
    a revert puts back exactly the bytes that were there, where the garbage still is."""

    id = "cache-corruption"
    fault_class = "config"
    description = "write garbage into the target's cached price entries"
    targets: ClassVar[tuple[str, ...]] = ("target",)
    params_model = CorruptionParams
    intensity: ClassVar[dict[str, float]] = {"entries": 20}

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        assert isinstance(params, CorruptionParams)
        cache = ctx.paths.target_cache
        if len(_entries(cache)) < params.entries:
            try:
                _warm(ctx, params.entries)
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                if not _entries(cache):
                    raise FaultRefused(
                        f"the target's cache is empty and warming it failed: {exc}"
                    ) from None
        if not _entries(cache):
            raise FaultRefused(f"the target's cache {cache} holds no price entries")
        return {}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, CorruptionParams)
        side = side_root(ctx) / fault_key
        side.mkdir(parents=True, exist_ok=True, mode=0o700)
        corrupted = []
        for live in _entries(ctx.paths.target_cache)[: params.entries]:
            garbage_file = side / f"{live.name}.garbage"
            if garbage_file.exists():  # injected already (a retried call): keep the original
                corrupted.append(live.name)
                continue
            try:
                original, mode = live.read_bytes(), live.stat().st_mode & 0o777
            except FileNotFoundError:  # expired and removed meanwhile
                continue
            garbage = GARBAGE_PREFIX + os.urandom(48)
            # Kept aside before the entry changes: a revert after a crash mid-way finds both.
            write_atomic(side / f"{live.name}.original", original, mode=0o600)
            write_atomic(garbage_file, garbage, mode=0o600)
            write_atomic(live, garbage, mode=mode)
            corrupted.append(live.name)
        if not corrupted:
            raise RuntimeError("no cache entry was left to corrupt")
        return {"side_dir": fault_key, "entries": corrupted}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        root = side_root(ctx)
        name = revert_data.get("side_dir") or revert_data.get("fault_key")
        if name is not None and Path(str(name)).name == name:
            sides = [root / str(name)]
        else:  # the injection died before naming its side dir
            sides = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        for side in sides:
            if side.is_dir():
                _restore(ctx.paths.target_cache, side)
            shutil.rmtree(side, ignore_errors=True)


def _restore(cache: Path, side: Path) -> None:
    """Put originals back into entries that still hold our garbage, and nowhere else."""
    for garbage_file in sorted(side.glob("*.garbage")):
        live = cache / garbage_file.name.removesuffix(".garbage")
        original = side / f"{live.name}.original"
        try:
            current = live.read_bytes()
        except FileNotFoundError:  # cleared (clear-cache): an entry is not brought back
            continue
        if current != garbage_file.read_bytes() or not original.exists():
            continue  # rewritten since by someone else: theirs is kept
        write_atomic(live, original.read_bytes(), mode=live.stat().st_mode & 0o777)
