"""API keys: created once (shown once), stored hashed, scoped, revocable."""

import hashlib
import re
import secrets
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from action_server.models import ApiKey
from lab.secrets import read_secret, replace_secret
from lab.tokens import same_token

_FORMAT = re.compile(r"^bfx_([0-9a-f]{12})_([A-Za-z0-9_-]{32,64})$")


class Scope(StrEnum):
    """What a key may do; each scope includes the ones before it."""

    read = "read"
    act = "act"
    admin = "admin"

    def allows(self, needed: "Scope") -> bool:
        order = list(Scope)
        return order.index(self) >= order.index(needed)


def _hash(key: str) -> str:
    # Keys carry 256 random bits: a plain SHA-256 is enough (no password stretching needed).
    return hashlib.sha256(key.encode()).hexdigest()


def key_id_of(presented: str) -> str | None:
    """The public id part of a presented key, without checking it (for the audit log)."""
    match = _FORMAT.match(presented)
    return match.group(1) if match else None


def new_plaintext() -> str:
    """A fresh key in the `bfx_<id>_<secret>` format, not yet recorded anywhere."""
    return f"bfx_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def create_key(*, session: Session, name: str, scope: Scope) -> tuple[ApiKey, str]:
    """A new key: the row (hash only) and the plaintext, which is never stored."""
    plaintext = new_plaintext()
    return _record(session=session, plaintext=plaintext, name=name, scope=scope), plaintext


def adopt_key(*, session: Session, plaintext: str, name: str, scope: Scope) -> bool:
    """Record a key made elsewhere (a secret file mounted read-only); False when ops-db
    already holds it. ValueError when it is malformed or its id is taken by another key."""
    key_id = key_id_of(plaintext)
    if key_id is None:
        raise ValueError("not a key in the bfx_<id>_<secret> format")
    row = session.get(ApiKey, key_id)
    if row is not None:
        if not same_token(_hash(plaintext), row.key_hash) or row.scope != scope.value:
            raise ValueError(f"key id {key_id} belongs to another key")
        return False
    _record(session=session, plaintext=plaintext, name=name, scope=scope)
    return True


def _record(*, session: Session, plaintext: str, name: str, scope: Scope) -> ApiKey:
    key_id = key_id_of(plaintext)
    assert key_id is not None
    row = ApiKey(
        id=key_id,
        name=name,
        scope=scope.value,
        key_hash=_hash(plaintext),
        created_at=datetime.now(UTC),
    )
    session.add(row)
    session.commit()
    return row


def verify_key(*, session: Session, presented: str) -> ApiKey | None:
    """The live key matching `presented`, or None (unknown, malformed, wrong or revoked)."""
    key_id = key_id_of(presented)
    if key_id is None:
        return None
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return None
    if not same_token(_hash(presented), row.key_hash):
        return None
    session.execute(
        update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=datetime.now(UTC))
    )
    session.commit()
    return row


def list_keys(*, session: Session) -> list[ApiKey]:
    """Every key, newest first (hashes included: callers must not print them)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.created_at.desc())))


def revoke_key(*, session: Session, key_id: str) -> bool:
    """Revoke a key; False when there is no live key with that id."""
    row = session.get(ApiKey, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = datetime.now(UTC)
    session.commit()
    return True


def ensure_key(*, session: Session, key_file: Path, name: str, scope: Scope) -> tuple[str, bool]:
    """The plaintext of a live key of `scope` kept in `key_file`, or a new one named `name`
    written there (0600; only its hash in ops-db). True with it when the key is new."""
    if key_file.exists():
        presented = read_secret(key_file)
        row = verify_key(session=session, presented=presented)
        if row is not None and row.scope == scope.value:
            return presented, False
    _, plaintext = create_key(session=session, name=name, scope=scope)
    replace_secret(key_file, plaintext)
    return plaintext, True
