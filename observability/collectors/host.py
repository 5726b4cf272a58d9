"""The target's cache volume: bytes its files use, and free/total space of its filesystem."""

import os
from pathlib import Path

from observability.model import Collection, Sample

SERVICE = "target"


def used_bytes(root: Path) -> int:
    """Sum of the sizes of the regular files under `root` (0 when it does not exist)."""
    total = 0
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue  # removed while we walked
            total += st.st_size
    return total


def existing_ancestor(path: Path) -> Path:
    """`path` or its nearest existing parent: statvfs needs something that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


class HostCollector:
    """cache_used_bytes, cache_free_bytes and cache_fs_size_bytes of `cache_dir`."""

    name = "host"

    def __init__(self, *, cache_dir: Path, service: str = SERVICE) -> None:
        self.cache_dir, self.service = cache_dir, service

    def collect(self, now: float) -> Collection:
        """Walk the cache and statvfs its filesystem (a tmpfs when the lab mounted one)."""
        vfs = os.statvfs(existing_ancestor(self.cache_dir))
        return Collection(
            samples=[
                Sample(now, self.service, "cache_used_bytes", float(used_bytes(self.cache_dir))),
                Sample(now, self.service, "cache_free_bytes", float(vfs.f_bavail * vfs.f_frsize)),
                Sample(
                    now, self.service, "cache_fs_size_bytes", float(vfs.f_blocks * vfs.f_frsize)
                ),
            ]
        )
