"""The scheduled snapshot never stands in a remediation's way: a real lab, real Postgres,
real pg_dump, the fix through the action server's HTTP API (issue 12, item 0).

The tests run the snapshot job themselves, against the lab's ops-db (the same advisory locks
and run records as its action server); the lab's own first scheduled snapshot is 15 min off.
"""

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import psycopg2
import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import select

from action_server import snapshot_schedule
from action_server.background import snapshot_job
from action_server.client import ActionClient
from action_server.config import Settings
from action_server.context import ActionContext, Plan
from action_server.locks import holder_of, target_lock
from action_server.models import ActionRun
from action_server.runs import RUNNING, SUCCEEDED, background_writer
from action_server.snapshot_schedule import ACTION, SnapshotJob
from action_server.snapshot_store import list_snapshots
from action_server.store import Store
from breakfix.background import BackgroundLab
from lab.envfile import read_env
from lab.paths import StatePaths

pytestmark = pytest.mark.slow
T = TypeVar("T")


@pytest.fixture(scope="module")
def ops_url(lab: BackgroundLab) -> str:
    return read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"]


@pytest.fixture(scope="module")
def store(ops_url: str) -> Iterator[Store]:
    """ops-db as the lab's action server sees it: the same advisory locks and run records."""
    ops = Store(ops_url)
    yield ops
    ops.dispose()


@pytest.fixture(scope="module")
def act_key(lab: BackgroundLab) -> str:
    """An `act` key, as the agent has."""
    created = lab.cli("keys", "create", "--scope", "act", "--name", "yield-test")
    return created.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def client(lab: BackgroundLab, act_key: str) -> Iterator[ActionClient]:
    """The agent's view of the lab's action server."""
    with ActionClient(f"http://127.0.0.1:{lab.port('ACTION')}", act_key) as actions:
        yield actions


@pytest.fixture
def intruder(action_ctx: ActionContext) -> Iterator[Any]:
    """db-lock: a session holding an ACCESS EXCLUSIVE lock on products."""
    conn = action_ctx.target_db.connect(
        "shop", application_name="db-lock-intruder", autocommit=False
    )
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
    try:
        yield conn
    finally:
        conn.close()


def eventually(check: Callable[[], T], *, deadline_s: float = 30.0) -> T:
    """`check()`'s first truthy value, polled until a generous deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        time.sleep(0.1)


def scheduled_records(store: Store) -> list[ActionRun]:
    with store.session() as session:
        query = select(ActionRun).where(ActionRun.action == ACTION).order_by(ActionRun.started_at)
        return list(session.scalars(query))


def new_records(store: Store, before: set[Any], *, status: str) -> list[ActionRun]:
    return [r for r in scheduled_records(store) if r.id not in before and r.status == status]


def scheduled_snapshots(ctx: ActionContext) -> list[dict[str, Any]]:
    return [m for m in list_snapshots(ctx) if m.get("label") == "scheduled"]


def leftovers(ctx: ActionContext) -> list[str]:
    """Partial files a dump may leave (temporary dumps, dumps without a manifest)."""
    folder = ctx.snapshots_dir
    names = {p.name for p in folder.iterdir()} if folder.exists() else set()
    return sorted(
        n
        for n in names
        if n.startswith(".") or (n.endswith(".dump") and f"{n[:-5]}.json" not in names)
    )


def is_gone(conn: Any) -> bool:
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
    except psycopg2.OperationalError:
        return True
    return False


def clear_scheduled(ctx: ActionContext) -> None:
    for manifest in scheduled_snapshots(ctx):
        for suffix in (".dump", ".json"):
            (ctx.snapshots_dir / f"{manifest['name']}{suffix}").unlink(missing_ok=True)


def test_db_lock_when_a_snapshot_is_due_is_cleared_and_the_snapshot_retried(
    action_ctx: ActionContext, store: Store, client: ActionClient, ops_url: str, intruder: Any
) -> None:
    """db-lock injected, then the scheduled snapshot forced to start through the scheduler:
    it is skipped (naming the lock's pid) without taking target-db's action lock,
    terminate-db-blockers clears the lock, and a retry writes a verified snapshot."""
    clear_scheduled(action_ctx)
    before = {r.id for r in scheduled_records(store)}
    settings = Settings(
        ops_db_url=ops_url,
        snapshot_interval_s=3600,
        snapshot_retry_s=1,
        snapshot_retries=120,
        known_good_interval_s=3600,
    )
    scheduler = BackgroundScheduler(daemon=True)
    job = snapshot_job(settings=settings, ctx=action_ctx, store=store, scheduler=scheduler)
    scheduler.add_job(job.tick, id="snapshot")  # due now
    scheduler.start()
    try:
        pid = intruder.get_backend_pid()
        skipped = eventually(
            lambda: [
                r for r in scheduled_records(store) if r.id not in before and r.status == "skipped"
            ]
        )
        assert skipped[0].summary.startswith(f"skipped: target-db locked by pid {pid} ")
        assert "db-lock-intruder" in skipped[0].summary
        assert scheduled_snapshots(action_ctx) == []

        run = client.act("terminate-db-blockers", wait=True)
        assert run.status == "succeeded", run
        assert pid in {s["pid"] for s in run.details["result"]["terminated"]}
        assert is_gone(intruder)

        # the record is written last: the snapshot is listed a moment before it
        retried = eventually(lambda: new_records(store, before, status=SUCCEEDED), deadline_s=60)
        done = scheduled_snapshots(action_ctx)
        assert [m["name"] for m in done] == [retried[0].details["result"]["name"]]
        assert done[0]["verified"] is True and done[0]["row_counts"]["products"] > 0
        statuses = [r.status for r in scheduled_records(store) if r.id not in before]
        assert statuses[-1] == SUCCEEDED and "skipped" in statuses[:-1]
        assert leftovers(action_ctx) == []
    finally:
        scheduler.shutdown(wait=True)


def test_a_snapshot_waiting_on_the_lock_yields_to_terminate_db_blockers(
    action_ctx: ActionContext,
    store: Store,
    client: ActionClient,
    intruder: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The bug as found: the snapshot already holds target-db's action lock and its dump
    queues behind the lock (here the check before it is blinded: the lock came just after
    it, and the lock timeout is long). The fix asks for target-db: the snapshot is
    cancelled, its files removed, the fix goes through; a retry writes a verified one."""
    clear_scheduled(action_ctx)
    retries: list[float] = []
    job = SnapshotJob(
        ctx=action_ctx,
        store=store,
        keep=24,
        lock_timeout_s=300,
        retry_s=42,
        retries=3,
        schedule_retry=retries.append,
    )
    monkeypatch.setattr(snapshot_schedule, "locks_on_shop", lambda ctx: [])
    outcome: list[str] = []
    worker = threading.Thread(target=lambda: outcome.append(job.tick()), daemon=True)
    worker.start()
    try:
        eventually(lambda: _snapshot_waits_on_a_lock(action_ctx))
        holder = holder_of(store, "target-db")
        assert holder is not None and holder.yields and holder.action == ACTION

        run = client.act("terminate-db-blockers", wait=True)
        assert run.status == "succeeded", run
        assert intruder.get_backend_pid() in {s["pid"] for s in run.details["result"]["terminated"]}
        assert is_gone(intruder)
    finally:
        worker.join(timeout=60)
    assert outcome == ["cancelled"]
    record = scheduled_records(store)[-1]
    assert record.status == "cancelled"
    assert record.summary.startswith("cancelled: yielded target-db to 1 waiting request(s)")
    assert scheduled_snapshots(action_ctx) == [] and leftovers(action_ctx) == []
    assert retries == [42]

    monkeypatch.undo()
    assert job.attempt() == SUCCEEDED  # the retry
    assert [m["verified"] for m in scheduled_snapshots(action_ctx)] == [True]
    assert scheduled_records(store)[-1].status == SUCCEEDED


def _snapshot_waits_on_a_lock(ctx: ActionContext) -> bool:
    conn = ctx.target_db.connect("shop")
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND application_name LIKE 'breakfix-snapshot-%'"
            )
            row = cur.fetchone()
        return bool(row and row[0])
    finally:
        conn.close()


def test_a_dump_behind_a_lock_times_out_and_is_skipped(
    action_ctx: ActionContext, store: Store, intruder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a remediation, the lock timeout ends the wait: skipped, naming the pid."""
    clear_scheduled(action_ctx)
    job = SnapshotJob(ctx=action_ctx, store=store, keep=24, lock_timeout_s=0.5, retries=0)
    monkeypatch.setattr(snapshot_schedule, "locks_on_shop", lambda ctx: [])
    assert job.attempt() == "skipped"
    record = scheduled_records(store)[-1]
    assert record.summary.startswith(
        f"skipped: target-db locked by pid {intruder.get_backend_pid()} ('db-lock-intruder', "
        "holds ACCESS EXCLUSIVE on products"
    ), record.summary
    assert record.details["result"]["locks"][0]["pid"] == intruder.get_backend_pid()
    assert scheduled_snapshots(action_ctx) == [] and leftovers(action_ctx) == []
    assert holder_of(store, "target-db") is None  # the action lock went with it


def test_target_busy_names_the_holder_and_when_to_retry(
    lab: BackgroundLab, store: Store, act_key: str
) -> None:
    writer = background_writer(store=store, action="test:holding")
    with target_lock(store=store, targets=("target-db",), wait_s=0.0):
        writer.write(status=RUNNING, plan=Plan(summary="holding target-db"))
        response = httpx.post(
            f"http://127.0.0.1:{lab.port('ACTION')}/action/terminate-db-blockers",
            headers={"X-API-Key": act_key},
        )
    writer.write(status=SUCCEEDED, plan=Plan(summary="held target-db"))
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["code"] == "target_busy"
    assert body["holder"]["run_id"] == str(writer.run_id)
    assert body["holder"]["action"] == "test:holding" and body["holder"]["yields"] is False
    assert body["holder"]["since"] and body["holder"]["held_s"] >= 0
    assert f"target-db is held by run {writer.run_id} (test:holding) for " in body["detail"]
    assert response.headers["Retry-After"] == "5"
