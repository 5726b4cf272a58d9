"""db-pool-exhaustion: idle chaos-role sessions take every slot a non-superuser may use."""

import logging
import math
import threading
from typing import ClassVar

import psycopg2
from psycopg2.extensions import connection as PgConnection
from pydantic import BaseModel, ConfigDict, Field

from chaos_server.context import ChaosContext
from chaos_server.faults import chaos_db
from chaos_server.faults.base import Fault, FaultRefused, RevertData
from lab.postgres import Cluster

log = logging.getLogger("chaos_server.faults")
APP_NAME = "breakfix-chaos-hog"
TOPUP_INTERVAL_S = 0.25

# Slots a non-superuser may still take: max_connections less the reserved ones (PG16's
# reserved_connections too, where it exists) less the client backends already connected.
_FREE_SLOTS = (
    "SELECT current_setting('max_connections')::int"
    " - current_setting('superuser_reserved_connections')::int"
    " - coalesce(current_setting('reserved_connections', true)::int, 0)"
    " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
)


class PoolParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    share: float = Field(1.0, gt=0, le=1)  # of the free slots; 1.0 takes them all


def _free_slots(conn: PgConnection) -> int:
    with conn.cursor() as cur:
        cur.execute(_FREE_SLOTS)
        row = cur.fetchone()
    return int(row[0]) if row else 0


def _sessions(conn: PgConnection, held: list[PgConnection]) -> list[list[object]]:
    """[pid, backend_start] of each held connection, as the revert matches them."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pid, backend_start::text FROM pg_stat_activity WHERE pid = ANY(%s)"
            " ORDER BY pid",
            ([c.get_backend_pid() for c in held],),
        )
        return [[int(pid), started] for pid, started in cur.fetchall()]


def _close(held: list[PgConnection]) -> None:
    for conn in held:
        conn.close()  # never raises, even on a session someone terminated


class _Hog:
    """The held connections, and a thread that takes every slot freed while they are held.

    Without the top-up the fault would heal itself: an app restart frees the app's own
    slots and its new process takes them back. It stops for good, and lets go of all it
    holds, as soon as any of its sessions is ended by someone else (terminate-db-blockers,
    a database restart): that is the fix the catalogue expects.
    """

    def __init__(self, cluster: Cluster, held: list[PgConnection], limit: int) -> None:
        self.cluster, self.held, self.limit = cluster, held, limit
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="db-pool-hog", daemon=True)

    def fill(self) -> None:
        """Open connections until the server refuses one or `limit` are held."""
        while len(self.held) < self.limit and not self.stopped.is_set():
            try:
                self.held.append(chaos_db.connect(self.cluster, application_name=APP_NAME))
            except psycopg2.OperationalError as exc:
                if not chaos_db.server_full(exc):
                    raise
                return

    def intact(self) -> bool:
        """Whether every held session is still connected (asked on the first one)."""
        pids = [c.get_backend_pid() for c in self.held]
        try:
            with self.held[0].cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s)", (pids,))
                row = cur.fetchone()
        except psycopg2.Error:
            return False
        return row is not None and int(row[0]) == len(pids)

    def _run(self) -> None:
        while not self.stopped.wait(TOPUP_INTERVAL_S):
            try:
                if not self.intact():
                    log.info("db-pool-exhaustion: a hog session was ended; letting go of all")
                    break
                self.fill()
            except psycopg2.Error:
                break  # the server went away: whatever we held is gone with it
        self.stopped.set()
        _close(self.held)

    def stop(self) -> None:
        self.stopped.set()
        if self.thread.is_alive() and self.thread is not threading.current_thread():
            self.thread.join(timeout=chaos_db.SETTLE_TIMEOUT_S)
        _close(self.held)


class DbPoolExhaustion(Fault):
    """Open idle connections as the chaos role until the server refuses one (or the share
    of the free slots is reached), keep them in this process and take every slot freed
    meanwhile, until reverted or until someone ends one of them.

    Being a non-superuser, the hog leaves superuser_reserved_connections free: the lab's own
    tools and terminate-db-blockers (which ends idle sessions that are not the app's) still
    get in, while a new app connection is refused.
    """

    id = "db-pool-exhaustion"
    fault_class = "db"
    description = "idle connections take every free slot up to max_connections"
    targets: ClassVar[tuple[str, ...]] = ("target-db",)
    params_model = PoolParams
    intensity: ClassVar[dict[str, float]] = {"share": 1.0}

    def __init__(self) -> None:
        self._hogs: dict[str, _Hog] = {}
        self._mutex = threading.Lock()

    def prepare(self, ctx: ChaosContext, target: str, params: BaseModel) -> RevertData:
        try:
            conn = chaos_db.connect(ctx.target_db, application_name=f"{APP_NAME}-probe")
        except psycopg2.OperationalError as exc:
            if chaos_db.server_full(exc):
                raise FaultRefused("target-db has no free connection slot already") from None
            raise
        try:
            free = _free_slots(conn) + 1  # the probe's own slot is free again once closed
        finally:
            conn.close()
        return {"application_name": APP_NAME, "free_slots": free}

    def inject(
        self, ctx: ChaosContext, target: str, params: BaseModel, fault_key: str
    ) -> RevertData:
        assert isinstance(params, PoolParams)
        with self._mutex:
            if fault_key in self._hogs:  # already injected: change nothing
                return {}
        cluster = ctx.target_db
        held: list[PgConnection] = []
        try:
            held.append(chaos_db.connect(cluster, application_name=APP_NAME))
            free = _free_slots(held[0]) + 1  # the slot the first connection took was free
            # All of them (until refused, capped for safety), or the share of the free ones.
            limit = cluster.max_connections
            if params.share < 1:
                limit = max(1, math.floor(free * params.share))
            hog = _Hog(cluster, held, limit)
            hog.fill()
            sessions = _sessions(held[0], held)
        except BaseException:
            _close(held)
            raise
        with self._mutex:
            self._hogs[fault_key] = hog
        hog.thread.start()
        return {"fault_key": fault_key, "sessions": sessions, "held": len(held)}

    def revert(self, ctx: ChaosContext, revert_data: RevertData) -> None:
        with self._mutex:
            hog = self._hogs.pop(str(revert_data.get("fault_key")), None)
        if hog is not None:
            hog.stop()
        # Closing ends our own sessions; sessions left by another chaos instance are
        # terminated, each only if it is still ours (pid, start time, application name).
        chaos_db.end_sessions(
            ctx.target_db,
            sessions=revert_data.get("sessions") or [],
            application_name=APP_NAME,
        )
