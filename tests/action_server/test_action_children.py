"""An action's child processes die with the action server (issue 13, item 2): a real lab,
real Postgres, a real pg_restore held on a lock, and the action server killed with SIGKILL.

As found: the orphaned pg_restore ran on for seconds, the restarted server marked the run
interrupted and admitted a snapshot-db on target-db while the old restore still ran, and the
restore committed later.
"""

import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import httpx
import psutil
import pytest
from sqlalchemy import select

from action_server.client import ActionClient
from action_server.context import ActionContext
from action_server.models import ActionRun, AuditEntry
from action_server.store import Store
from breakfix.background import BackgroundLab
from lab.envfile import read_env
from lab.paths import StatePaths
from tests.support.pg import scalar

pytestmark = pytest.mark.slow
T = TypeVar("T")
CLIENT_TOOLS = {"pg_restore", "pg_dump", "psql"}


@pytest.fixture(scope="module")
def store(lab: BackgroundLab) -> Iterator[Store]:
    """ops-db as the lab's action server sees it."""
    ops = Store(read_env(StatePaths.at(lab.state_dir).action_env)["ACTION_OPS_DB_URL"])
    yield ops
    ops.dispose()


@pytest.fixture(scope="module")
def act_key(lab: BackgroundLab) -> str:
    created = lab.cli("keys", "create", "--scope", "act", "--name", "children-test")
    return created.stdout.strip().splitlines()[-1]


def eventually(check: Callable[[], T], *, deadline_s: float = 30.0, what: str = "") -> T:
    """`check()`'s first truthy value, polled until a deadline."""
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"not reached in {deadline_s:g} s: {what}"
        time.sleep(0.1)


def action_server(lab: BackgroundLab) -> dict[str, Any]:
    return dict(lab.status()["services"]["action"])


def client_children(server: psutil.Process) -> list[psutil.Process]:
    """The Postgres client tools running under `server` now."""
    found = []
    for proc in server.children(recursive=True):
        try:
            if proc.name() in CLIENT_TOOLS:
                found.append(proc)
        except psutil.Error:
            continue
    return found


def restoring(server: psutil.Process) -> list[psutil.Process]:
    """The pg_restore of a restore-db (not the `--list` check of a snapshot) under `server`."""
    found = []
    for proc in client_children(server):
        try:
            if proc.name() == "pg_restore" and "--single-transaction" in proc.cmdline():
                found.append(proc)
        except psutil.Error:
            continue
    return found


def blocked_restore(ctx: ActionContext) -> bool:
    """Whether the action server's session on shop waits for a lock."""
    return bool(
        scalar(
            ctx.target_db,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = 'shop'"
            " AND application_name = 'breakfix-action' AND wait_event_type = 'Lock'",
        )
    )


def marker_rows(ctx: ActionContext, sku: str) -> int:
    return int(scalar(ctx.target_db, "SELECT count(*) FROM products WHERE sku = %s", [sku]))


def rows_for(store: Store, correlation_id: str) -> tuple[list[ActionRun], list[AuditEntry]]:
    with store.session() as session:
        runs = session.scalars(select(ActionRun).where(ActionRun.correlation_id == correlation_id))
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.correlation_id == correlation_id)
        )
        return list(runs), list(audit)


def restarted(lab: BackgroundLab, old_pid: int) -> int:
    """The pid of the action server the supervisor started after `old_pid`, once it answers."""

    def answering() -> int:
        entry = action_server(lab)
        if entry.get("pid") in (None, old_pid) or entry.get("health") != "healthy":
            return 0
        return int(entry["pid"])

    return eventually(answering, deadline_s=60, what="the action server restarted")


def test_a_killed_action_server_takes_its_restore_with_it(
    lab: BackgroundLab, action_ctx: ActionContext, store: Store, act_key: str
) -> None:
    """restore-db's pg_restore waits behind a session's lock; the action server is killed
    with SIGKILL. The pg_restore dies with it, the restore never commits, the restarted
    server marks the run interrupted and completes the request's audit row, and a
    snapshot-db is admitted only once no child of the old server runs."""
    base_url = f"http://127.0.0.1:{lab.port('ACTION')}"
    with ActionClient(base_url, act_key) as client:
        snapshot = client.act("snapshot-db", {"label": "before-kill"}, wait=True)
    assert snapshot.status == "succeeded", snapshot
    name = snapshot.details["result"]["name"]
    sku = f"kept-{uuid.uuid4().hex[:8]}"
    insert = "INSERT INTO products (sku, name) VALUES (%s, 'written after the snapshot')"
    scalar(action_ctx.target_db, insert, [sku])  # a restore of the snapshot would remove it

    # ACCESS SHARE lets the restore's own pre-restore pg_dump through, and holds its
    # pg_restore (which drops the tables) until the lock timeout.
    intruder = action_ctx.target_db.connect(
        "shop", application_name="children-test-intruder", autocommit=False
    )
    with intruder.cursor() as cur:
        cur.execute("LOCK TABLE products IN ACCESS SHARE MODE")
    server = psutil.Process(int(action_server(lab)["pid"]))
    correlation_id = f"children-test-{uuid.uuid4().hex[:12]}"
    answers: list[object] = []

    def ask_for_restore() -> None:
        with ActionClient(base_url, act_key, timeout=60) as killed:
            try:
                answers.append(
                    killed.act(
                        "restore-db", {"snapshot": name}, wait=True, correlation_id=correlation_id
                    )
                )
            except httpx.HTTPError as exc:  # the server dies under it
                answers.append(exc)

    asking = threading.Thread(target=ask_for_restore, daemon=True)
    old_children: list[psutil.Process] = []
    try:
        asking.start()
        eventually(lambda: restoring(server), what="pg_restore started")
        eventually(lambda: blocked_restore(action_ctx), what="pg_restore waits for the lock")
        old_children = client_children(server)
        os.kill(server.pid, signal.SIGKILL)

        _gone, alive = psutil.wait_procs(old_children, timeout=5)
        assert alive == [], f"outlived the action server: {[p.pid for p in alive]}"
        # Its session gives up its lock wait (and what it locked) without waiting it out.
        eventually(lambda: not blocked_restore(action_ctx), deadline_s=5, what="session ends")

        new_pid = restarted(lab, server.pid)
        assert not [p for p in old_children if p.is_running()], "old child runs at restart"
        runs, audit = rows_for(store, correlation_id)
        assert [(r.action, r.status) for r in runs] == [("restore-db", "interrupted")]
        assert len(audit) == 1, audit
        assert audit[0].outcome == "interrupted" and audit[0].action == "restore-db"
        assert audit[0].run_id == runs[0].id and audit[0].error_code == "interrupted"

        with ActionClient(base_url, act_key) as client:
            admitted = client.act("snapshot-db", {"label": "after-kill"}, wait=True)
        assert admitted.status == "succeeded", admitted
        assert not [p for p in old_children if p.is_running()]
        assert new_pid == int(action_server(lab)["pid"])

        intruder.rollback()
        time.sleep(1.0)  # what an orphan would need to commit once the lock is gone
        assert marker_rows(action_ctx, sku) == 1, "the killed restore committed"
    finally:
        intruder.close()
        for proc in old_children:
            try:
                proc.kill()
            except psutil.Error:
                pass
        asking.join(timeout=30)
