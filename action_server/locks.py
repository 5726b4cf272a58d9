"""One mutating action per target at a time, across processes: Postgres advisory locks."""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text

from action_server.errors import TargetBusy
from action_server.store import Store


@contextmanager
def target_lock(*, store: Store, target: str, wait_s: float) -> Iterator[None]:
    """Hold the target's lock for the block; TargetBusy if it stays taken for `wait_s`."""
    deadline = time.monotonic() + wait_s
    with store.engine.connect() as conn:
        key = {"name": f"breakfix-action:{target}"}
        while not conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:name))"), key).scalar():
            if time.monotonic() >= deadline:
                raise TargetBusy(
                    f"another action is changing {target}; retry later or pass wait=true"
                )
            time.sleep(0.1)
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(hashtext(:name))"), key)
            conn.commit()
