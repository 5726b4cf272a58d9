"""One mutating action per target at a time, across processes: Postgres advisory locks."""

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, text

from action_server.errors import TargetBusy
from action_server.store import Store


@contextmanager
def target_lock(*, store: Store, targets: Iterable[str], wait_s: float) -> Iterator[None]:
    """Hold every target's lock for the block (taken in name order, so no deadlock);
    TargetBusy if one stays taken for `wait_s`."""
    names = sorted(set(targets))
    deadline = time.monotonic() + wait_s
    with store.engine.connect() as conn:
        held: list[str] = []
        try:
            for name in names:
                _acquire(conn, name, deadline)
                held.append(name)
            yield
        finally:
            for name in reversed(held):
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": _key(name)})
            conn.commit()


def _key(target: str) -> str:
    return f"breakfix-action:{target}"


def _acquire(conn: Connection, target: str, deadline: float) -> None:
    query = text("SELECT pg_try_advisory_lock(hashtext(:n))")
    while not conn.execute(query, {"n": _key(target)}).scalar():
        if time.monotonic() >= deadline:
            raise TargetBusy(f"another action is changing {target}; retry later or pass wait=true")
        time.sleep(0.1)
