"""One mutating action per target at a time, across processes: Postgres advisory locks.

The ops-db session that holds a target's lock names its holder (its application_name), so
that a refusal can say what holds the target and since when. Background work takes a lock
as *yielding*: it gives the target up as soon as anyone waits for it (`waiting_for`), and a
request never gives up on a yielding holder before `YIELD_GRACE_S`, even without wait=true.
"""

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import OperationalError

from action_server.errors import TargetBusy
from action_server.models import ActionRun
from action_server.store import Store

LOCK_APP = "breakfix-lock"
YIELD_GRACE_S = 15.0
BUSY_RETRY_AFTER_S = 5
YIELD_RETRY_AFTER_S = 2
_LOCK_NOT_AVAILABLE = "55P03"
# pg_locks shows an advisory lock on one bigint as two oids (high and low 32 bits).
_KEY_MATCH = (
    "l.locktype = 'advisory' AND l.objsubid = 1"
    " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    " AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtext(:n)::bigint"
)


@dataclass(frozen=True)
class Holder:
    """Who holds a target's lock: the run it is doing (when it said), since when."""

    target: str
    ops_pid: int
    yields: bool
    since: datetime | None
    run_id: str | None = None
    action: str | None = None

    def describe(self) -> dict[str, Any]:
        """JSON-ready, for a refusal's body."""
        held = (datetime.now(UTC) - self.since).total_seconds() if self.since else None
        return {
            "target": self.target,
            "run_id": self.run_id,
            "action": self.action,
            "yields": self.yields,
            "since": self.since.astimezone(UTC).isoformat() if self.since else None,
            "held_s": round(held, 1) if held is not None else None,
        }

    def sentence(self) -> str:
        """`target-db is held by run R (action) for 12 s (since ...)`."""
        what = f"run {self.run_id} ({self.action})" if self.run_id else "another action request"
        held = self.describe()["held_s"]
        since = self.since.astimezone(UTC) if self.since else None
        when = f" for {held:.0f} s (since {since:%H:%M:%S} UTC)" if since else ""
        kind = ", background work that gives way to remediations" if self.yields else ""
        return f"{self.target} is held by {what}{when}{kind}"


@dataclass
class _Held:
    conn: Connection
    yields: bool


_HELD: ContextVar[_Held | None] = ContextVar("breakfix_target_lock", default=None)


@contextmanager
def target_lock(
    *, store: Store, targets: Iterable[str], wait_s: float, yields: bool = False
) -> Iterator[None]:
    """Hold every target's lock for the block (taken in name order, so no deadlock);
    TargetBusy, naming the holder, if one stays taken for `wait_s`. A `yields` holder
    (background work) promises to give its targets up as soon as anyone waits for them."""
    names = sorted(set(targets))
    deadline = time.monotonic() + wait_s
    with store.engine.connect() as conn:
        held: list[str] = []
        token = None
        try:
            # Named first, so that no one sees this session holding a lock without its name.
            _name_session(conn, _app_name(yields, None))
            for name in names:
                _acquire(conn, name, deadline, yields=yields)
                held.append(name)
            conn.commit()  # idle from here on: its state_change says since when it holds
            token = _HELD.set(_Held(conn, yields))
            yield
        finally:
            if token is not None:
                _HELD.reset(token)
            conn.rollback()
            for name in reversed(held):
                conn.execute(text("SELECT pg_advisory_unlock(hashtext(:n))"), {"n": _key(name)})
            conn.execute(text("RESET application_name"))
            conn.commit()


def label_holder(run_id: uuid.UUID) -> None:
    """Name the run this thread does under the lock it holds (none held: nothing to do)."""
    held = _HELD.get()
    if held is not None:
        _name_session(held.conn, _app_name(held.yields, run_id))


def waiting_for(store: Store, target: str) -> int:
    """How many ops-db sessions are waiting for `target`'s lock now."""
    query = text(f"SELECT count(*) FROM pg_locks l WHERE NOT l.granted AND {_KEY_MATCH}")
    with store.engine.connect() as conn:
        return int(conn.execute(query, {"n": _key(target)}).scalar() or 0)


def holder_of(store: Store, target: str) -> Holder | None:
    """Who holds `target`'s lock now, or None."""
    with store.engine.connect() as conn:
        return _holder(conn, target)


def _key(target: str) -> str:
    return f"breakfix-action:{target}"


def _app_name(yields: bool, run_id: uuid.UUID | None) -> str:
    name = f"{LOCK_APP} yield" if yields else LOCK_APP
    return f"{name} run {run_id}" if run_id is not None else name


def _name_session(conn: Connection, name: str) -> None:
    conn.execute(text("SELECT set_config('application_name', :a, false)"), {"a": name})
    conn.commit()


def _acquire(conn: Connection, target: str, deadline: float, *, yields: bool) -> None:
    n = {"n": _key(target)}
    if conn.execute(text("SELECT pg_try_advisory_lock(hashtext(:n))"), n).scalar():
        return
    holder = _holder(conn, target)
    wait_s = deadline - time.monotonic()
    if holder is not None and holder.yields and not yields:
        wait_s = max(wait_s, YIELD_GRACE_S)
    if wait_s > 0:
        # Queued in Postgres (not polling): a yielding holder sees us in pg_locks.
        wait_ms = f"{max(1, round(wait_s * 1000))}ms"
        conn.execute(text("SELECT set_config('lock_timeout', :t, true)"), {"t": wait_ms})
        try:
            conn.execute(text("SELECT pg_advisory_lock(hashtext(:n))"), n)
            conn.commit()
            return
        except OperationalError as exc:
            conn.rollback()
            if getattr(exc.orig, "pgcode", None) != _LOCK_NOT_AVAILABLE:
                raise
        holder = _holder(conn, target)
    raise _busy(target, holder, waited=wait_s > 0)


def _busy(target: str, holder: Holder | None, *, waited: bool) -> TargetBusy:
    if holder is None:  # released between our try and our look
        return TargetBusy(f"{target} was busy; retry now", retry_after_s=1)
    retry = YIELD_RETRY_AFTER_S if holder.yields else BUSY_RETRY_AFTER_S
    hint = "" if waited else " or pass wait=true"
    return TargetBusy(
        f"{holder.sentence()}; retry in {retry} s{hint}",
        holder=holder.describe(),
        retry_after_s=retry,
    )


def _holder(conn: Connection, target: str) -> Holder | None:
    row = conn.execute(
        text(
            "SELECT a.pid, a.application_name, a.state_change FROM pg_locks l"
            f" JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.granted AND {_KEY_MATCH}"
        ),
        {"n": _key(target)},
    ).first()
    conn.commit()
    if row is None:
        return None
    words = str(row[1] or "").split()
    run_id = words[words.index("run") + 1] if "run" in words[:-1] else None
    holder = Holder(
        target=target, ops_pid=int(row[0]), yields="yield" in words, since=row[2], run_id=run_id
    )
    return _with_run(conn, holder)


def _with_run(conn: Connection, holder: Holder) -> Holder:
    """The holder with its run's action and start time, when its run is recorded."""
    try:
        run_id = uuid.UUID(holder.run_id or "")
    except ValueError:
        return holder
    row = conn.execute(
        select(ActionRun.action, ActionRun.started_at).where(ActionRun.id == run_id)
    ).first()
    conn.commit()
    if row is None:
        return holder
    return Holder(
        target=holder.target,
        ops_pid=holder.ops_pid,
        yields=holder.yields,
        since=row[1],
        run_id=holder.run_id,
        action=str(row[0]),
    )
