"""The target's cache volume: a size-limited tmpfs at the cache dir, so a full disk is real."""

import logging
import os
import re
import subprocess
from pathlib import Path

log = logging.getLogger("breakfix.cache_volume")

SOURCE = "breakfix-cache"  # the mount's source name: how our own mounts are told apart
FSTYPE = "tmpfs"
MOUNTS = Path("/proc/self/mounts")
DEFAULT_BUDGET = 64 * 2**20
_MIB = 2**20
_OCTAL = re.compile(r"\\([0-7]{3})")


def volume_size(budget_bytes: int) -> int:
    """A little over the target's byte budget (tmpfs counts whole pages, the budget bytes)."""
    return budget_bytes + max(budget_bytes // 8, _MIB)


def _unescape(field: str) -> str:
    # /proc/self/mounts escapes space, tab, newline and backslash as \ooo (octal).
    return _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), field)


def is_lab_mount(path: Path) -> bool:
    """Whether `path` itself is a tmpfs mounted by the lab (exact path, type and source)."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return False
    wanted = str(path)
    for line in lines:
        fields = line.split()
        if len(fields) < 3:
            continue
        source, point, fstype = _unescape(fields[0]), _unescape(fields[1]), fields[2]
        if point == wanted and fstype == FSTYPE and source == SOURCE:
            return True
    return False


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as exc:  # no mount binary, or it hung
        return subprocess.CompletedProcess(argv, 127, "", str(exc))


def mount_cache(path: Path, *, budget_bytes: int, enabled: bool = True) -> bool:
    """Mount (or resize) the lab's tmpfs at `path`; False, logged, when it cannot or must not.

    Without it the target's own byte budget is the only limit a disk-fill fault can hit.
    """
    if not enabled:
        log.info("cache tmpfs disabled (BREAKFIX_CACHE_TMPFS=false): %s is a plain dir", path)
        return False
    if os.geteuid() != 0:
        log.info("not root: no tmpfs for %s; the target's cache budget is the limit", path)
        return False
    size = volume_size(budget_bytes)
    path.mkdir(parents=True, exist_ok=True)
    if is_lab_mount(path):  # left by a run that died: reuse it, at this run's size
        result = _run("mount", "-o", f"remount,size={size}", str(path))
        if result.returncode != 0:
            log.warning("could not resize the cache tmpfs at %s: %s", path, result.stderr.strip())
        return True
    result = _run("mount", "-t", FSTYPE, "-o", f"size={size},mode=0755", SOURCE, str(path))
    if result.returncode != 0:
        log.warning(
            "mounting a tmpfs at %s was refused (%s); the target's cache budget is the limit",
            path,
            result.stderr.strip() or f"exit {result.returncode}",
        )
        return False
    log.info("cache tmpfs of %d bytes mounted at %s", size, path)
    return True


def unmount_cache(path: Path) -> bool:
    """Unmount the lab's tmpfs at `path` if it is one; anything else is never touched."""
    if not is_lab_mount(path):
        return False
    result = _run("umount", str(path))
    if result.returncode != 0 and is_lab_mount(path):
        # Still busy (a process left in it): detach it now, freed once the last user goes.
        log.warning("umount %s failed (%s); detaching it lazily", path, result.stderr.strip())
        _run("umount", "-l", str(path))
    gone = not is_lab_mount(path)
    if gone:
        log.info("cache tmpfs at %s unmounted", path)
    return gone


def unmount_all_under(root: Path) -> list[Path]:
    """Unmount every lab cache tmpfs under `root` (before the directory is deleted)."""
    try:
        lines = MOUNTS.read_text().splitlines()
    except OSError:
        return []
    prefix = str(root.resolve()).rstrip("/") + "/"
    points = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 3 and _unescape(fields[0]) == SOURCE and fields[2] == FSTYPE:
            point = _unescape(fields[1])
            if point.startswith(prefix):
                points.append(Path(point))
    # Deepest first, in case one was mounted inside another.
    return [p for p in sorted(points, key=lambda p: -len(p.parts)) if unmount_cache(p)]


def cache_budget(target_env: dict[str, str]) -> int:
    """The target's cache byte budget as its env file sets it (the lab's default if unset)."""
    try:
        return max(0, int(target_env.get("TARGET_CACHE_MAX_BYTES", DEFAULT_BUDGET)))
    except ValueError:
        return DEFAULT_BUDGET
