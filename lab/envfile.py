"""Reading and atomically rewriting `KEY=value` env files, keeping earlier versions."""

import time
from pathlib import Path

from lab.files import write_atomic


def read_env(path: Path) -> dict[str, str]:
    """Parse an env file: `KEY=value` lines; blank lines and `#` comments are skipped."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip()
    return values


def write_env(path: Path, values: dict[str, str], *, keep_previous: bool = True) -> None:
    """Write `values` atomically (mode 0600); the file it replaces goes to `versions/`."""
    if keep_previous and path.exists():
        versions = path.parent / "versions"
        versions.mkdir(exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime()) + f"{time.time() % 1:.6f}"[1:]
        write_atomic(versions / f"{path.name}.{stamp}", path.read_text(), mode=0o600)
    body = "".join(f"{key}={value}\n" for key, value in values.items())
    write_atomic(path, body, mode=0o600)
