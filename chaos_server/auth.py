"""The chaos key: a secret read from a file, required on every call but `GET /healthz`."""

from pathlib import Path
from typing import Annotated

from fastapi import Header

from chaos_server.deps import Parts
from chaos_server.errors import Unauthorized
from lab.secrets import read_secret
from lab.tokens import same_token

PLACEHOLDERS = {"changeme", "change-me", "chaos", "secret"}


def load_key(path: Path) -> str:
    """The chaos key from its file; an empty, short or placeholder key is refused."""
    key = read_secret(path)
    if len(key) < 16 or key.lower() in PLACEHOLDERS:
        raise ValueError(f"the chaos key in {path} is too weak (16+ random characters needed)")
    return key


def require_chaos_key(
    parts: Parts,
    x_chaos_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """401 unless X-Chaos-Key or a Bearer token carries the chaos key (constant time)."""
    bearer = (authorization or "").removeprefix("Bearer ").strip()
    presented = x_chaos_key or bearer
    if not presented:
        raise Unauthorized("missing chaos key: send X-Chaos-Key or Authorization: Bearer")
    if not same_token(presented, parts.key):
        raise Unauthorized("invalid chaos key")
