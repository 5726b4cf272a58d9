"""Reading the end of a service's log file without loading all of it."""

from pathlib import Path

_CHUNK = 64 * 1024


def tail(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of `path` (fewer if the file is shorter, none if absent)."""
    if lines <= 0 or not path.exists():
        return []
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        end = handle.tell()
        data = b""
        while end > 0 and data.count(b"\n") <= lines:
            start = max(0, end - _CHUNK)
            handle.seek(start)
            data = handle.read(end - start) + data
            end = start
    return data.decode("utf-8", errors="replace").splitlines()[-lines:]
