"""Idempotency-Key: a replay returns the first response; concurrent requests act once."""

import hashlib
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert

from action_server.errors import IdempotencyConflict, IdempotencyInProgress
from action_server.models import IdempotencyRecord
from action_server.store import Store

IN_PROGRESS, DONE = "in_progress", "done"


def request_hash(*, method: str, path: str, query: dict[str, str], body: Any) -> str:
    """A fingerprint of what the request asks for."""
    canonical = json.dumps([method, path, sorted(query.items()), body], sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Replay:
    """The stored first response to replay."""

    status_code: int
    body: Any


def claim(*, store: Store, key_id: str, key: str, fingerprint: str, wait_s: float) -> Replay | None:
    """Claim `key` for this request (None: go ahead and act) or get the first response.

    The primary key (key_id, key) makes exactly one concurrent claimant win; the others wait
    for its response. The same key with another request is refused.
    """
    deadline = time.monotonic() + wait_s
    with store.session() as session:
        inserted = session.execute(
            insert(IdempotencyRecord)
            .values(
                key_id=key_id,
                idempotency_key=key,
                request_hash=fingerprint,
                state=IN_PROGRESS,
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyRecord.key_id)
        ).first()
        session.commit()
        if inserted is not None:
            return None
        while True:
            record = session.get(IdempotencyRecord, (key_id, key), populate_existing=True)
            if record is None:  # the first request gave up: claim again
                return claim(
                    store=store,
                    key_id=key_id,
                    key=key,
                    fingerprint=fingerprint,
                    wait_s=max(0.0, deadline - time.monotonic()),
                )
            if record.request_hash != fingerprint:
                raise IdempotencyConflict(
                    "this Idempotency-Key was used for a different request; use a new key"
                )
            if record.state == DONE and record.status_code is not None:
                return Replay(record.status_code, record.body)
            if time.monotonic() > deadline:
                raise IdempotencyInProgress("the first request with this key is still running")
            session.rollback()
            time.sleep(0.1)


def complete(*, store: Store, key_id: str, key: str, status_code: int, body: Any) -> None:
    """Store the response to replay."""
    with store.session() as session:
        record = session.get(IdempotencyRecord, (key_id, key))
        if record is not None:
            record.state, record.status_code, record.body = DONE, status_code, body
            session.commit()


def release(*, store: Store, key_id: str, key: str) -> None:
    """Forget a claim whose request did not act (refused for now, or crashed): retry may act."""
    with store.session() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.key_id == key_id,
                IdempotencyRecord.idempotency_key == key,
                IdempotencyRecord.state == IN_PROGRESS,
            )
        )
        session.commit()
