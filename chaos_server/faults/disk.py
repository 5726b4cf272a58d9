"""disk-fill: ballast fills the target's cache volume until the target's writes fail."""

import errno
import os
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel

from chaos_server.context import ChaosContext
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.cache_volume import cache_budget, is_lab_mount
from lab.envfile import read_env

BALLAST_PREFIX = ".breakfix-ballast-"
HOST_DISK_RESERVE = 512 * 2**20  # never take the host disk below this, whatever the budget
_CHUNKS = (2**20, 64 * 2**10, 4 * 2**10)


def _used_bytes(directory: Path) -> int:
    """Bytes in the directory's files, counted as the target counts its budget."""
    total = 0
    with os.scandir(directory) as entries:
        for entry in entries:
            try:
                if entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:  # the target's temp files come and go
                continue
    return total


def _fill(path: Path, limit: int | None) -> int:
    """Append zeros to `path` until ENOSPC (limit None) or `limit` bytes; bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for chunk in _CHUNKS:  # smaller and smaller, so not even one page is left
            block = b"\0" * chunk
            while limit is None or written < limit:
                size = chunk if limit is None else min(chunk, limit - written)
                try:
                    written += os.write(fd, block[:size])
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
            if limit is not None:
                break
        os.fsync(fd)
    finally:
        os.close(fd)
    return written


class DiskFill(Fault):
    """Write ballast into the cache dir: a full tmpfs (ENOSPC from the kernel) or, with no
    tmpfs, exactly the target's byte budget (its own check answers ENOSPC)."""

    id = "disk-fill"
    fault_class = "compute"
    description = "fill the target's cache volume with ballast: its cache writes fail (ENOSPC)"
    targets: ClassVar[tuple[str, ...]] = ("target",)

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        cache = ctx.paths.target_cache
        if not cache.is_dir():
            raise FaultRefused(f"the target's cache dir {cache} does not exist")
        if is_lab_mount(cache):
            return {"mode": "tmpfs"}
        need = cache_budget(read_env(ctx.paths.target_env)) - _used_bytes(cache)
        disk = os.statvfs(cache)
        if disk.f_bavail * disk.f_frsize < need + HOST_DISK_RESERVE:
            raise FaultRefused(
                f"{cache} is not on a size-limited volume and filling the {need} bytes left of"
                " the cache budget would bring the host disk too close to full"
            )
        return {"mode": "budget"}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        cache = ctx.paths.target_cache
        ballast = cache / f"{BALLAST_PREFIX}{fault_key}"
        if is_lab_mount(cache):
            written = _fill(ballast, None)
        else:
            need = cache_budget(read_env(ctx.paths.target_env)) - _used_bytes(cache)
            written = _fill(ballast, max(0, need))
        return {"ballast": ballast.name, "bytes": written}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        cache = ctx.paths.target_cache
        name = revert_data.get("ballast")
        if name is None and revert_data.get("fault_key") is not None:
            name = f"{BALLAST_PREFIX}{revert_data['fault_key']}"  # the intent's own key
        if name is not None and Path(str(name)).name == name:
            names = [str(name)]
        else:  # the injection died before naming its ballast: any ballast is a fault's
            names = [p.name for p in cache.glob(f"{BALLAST_PREFIX}*")] if cache.is_dir() else []
        for found in names:
            # Gone already when clear-cache ran: nothing else of the cache is touched.
            (cache / found).unlink(missing_ok=True)
