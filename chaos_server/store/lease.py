"""Injector leases: each chaos process holds an advisory lock in ops-db while it lives.

A ledger row names the lease key of the process that injected it; when nobody holds that
key any more, the injector died (SIGKILL included: Postgres drops the lock with the session).
"""

import secrets

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from chaos_server.store import Store

ADMISSION_KEY = 0x0B4EA4F1C0A05  # serialises admission checks of every chaos process


class Lease:
    """This process's lease: a session-level advisory lock on a random key."""

    def __init__(self, store: Store) -> None:
        self.key = secrets.randbits(62) + 1
        self._store = store
        self._conn: Connection | None = None

    def acquire(self) -> None:
        """Take the lock on a connection kept for the life of the process."""
        self._conn = self._store.engine.connect()
        self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        self._conn.commit()

    def release(self) -> None:
        """Let the lock go (at shutdown; a crash lets it go by itself)."""
        if self._conn is not None:
            try:  # a pooled connection outlives close(): let the lock go explicitly
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self.key})
                self._conn.commit()
            except Exception:  # ops-db gone: the lock went with the session
                self._conn.invalidate()
            finally:
                self._conn.close()
                self._conn = None


def injector_alive(session: Session, key: int) -> bool:
    """Whether some live session holds lease `key` (a transaction lock, let go at commit)."""
    free = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar()
    return not free


def lock_admission(session: Session) -> None:
    """Serialise admission until the session's transaction ends."""
    session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": ADMISSION_KEY})
