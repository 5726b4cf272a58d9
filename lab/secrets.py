"""Secrets kept in the state dir: created once, readable by the owner only."""

import secrets
from pathlib import Path

from lab.files import write_atomic


def ensure_secret(path: Path, *, nbytes: int = 24) -> str:
    """Return the secret stored at `path`, creating it (mode 0600) when absent."""
    if path.exists():
        return read_secret(path)
    value = secrets.token_urlsafe(nbytes)
    write_atomic(path, value + "\n", mode=0o600)
    return value


def read_secret(path: Path) -> str:
    """Read a secret file, stripped of surrounding whitespace."""
    value = path.read_text().strip()
    if not value:
        raise ValueError(f"secret file {path} is empty")
    return value


def replace_secret(path: Path, value: str) -> None:
    """Overwrite a secret atomically."""
    write_atomic(path, value + "\n", mode=0o600)
