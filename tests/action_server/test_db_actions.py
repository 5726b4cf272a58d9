"""The database actions end to end against a running lab: real processes, real Postgres."""

import hashlib
import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest
from pydantic import ValidationError

from action_server.actions.blockers import TERMINATE_DB_BLOCKERS
from action_server.actions.migrations import RUN_MIGRATIONS
from action_server.actions.snapshots import RESTORE_DB, SNAPSHOT_DB, list_snapshots, take_snapshot
from action_server.catalogue import NoParams
from action_server.context import ActionContext, ActionFailed, PreconditionFailed
from action_server.snapshot_restore import restored_differences
from lab.postgres import SUPERUSER, set_role_password
from target_server import migrations

pytestmark = pytest.mark.slow
SEEDED = 20


def counts(ctx: ActionContext) -> dict[str, int]:
    conn = ctx.target_db.connect("shop")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [row[0] for row in cur.fetchall()]
            found = {}
            for table in tables:
                cur.execute(f'SELECT count(*) FROM public."{table}"')
                found[table] = cur.fetchone()[0]
            return found
    finally:
        conn.close()


def table_owners(ctx: ActionContext) -> set[str]:
    conn = ctx.target_db.connect("shop")
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'public'")
            return {row[0] for row in cur.fetchall()}
    finally:
        conn.close()


def execute_sql(ctx: ActionContext, statement: str) -> None:
    conn = ctx.target_db.connect("shop")
    try:
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


def products_served(ctx: ActionContext, expected: int) -> bool:
    """Whether the target API lists `expected` products (its pool may need a retry)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            response = httpx.get(f"{ctx.target_url}/products?limit=200", timeout=5)
            if response.status_code == 200 and len(response.json()) == expected:
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    return False


def files(ctx: ActionContext) -> set[str]:
    return {p.name for p in ctx.snapshots_dir.iterdir()} if ctx.snapshots_dir.exists() else set()


def connect(ctx: ActionContext, app_name: str, **options: Any) -> Any:
    conn = psycopg2.connect(
        host=str(ctx.target_db.socket_dir),
        port=ctx.target_db.port,
        user=SUPERUSER,
        dbname="shop",
        application_name=app_name,
        **options,
    )
    return conn


def test_snapshot_writes_a_verified_dump_and_manifest(action_ctx: ActionContext) -> None:
    before = files(action_ctx)
    plan = SNAPSHOT_DB.plan(action_ctx, SNAPSHOT_DB.params(label="unit"))
    assert plan.details["row_counts"]["products"] == SEEDED
    assert files(action_ctx) == before  # the plan writes nothing

    outcome = SNAPSHOT_DB.execute(action_ctx, SNAPSHOT_DB.params(label="unit"))
    manifest = outcome.details
    assert outcome.undo is None and manifest["verified"] is True
    assert manifest["name"].endswith("-unit")
    dump = action_ctx.snapshots_dir / f"{manifest['name']}.dump"
    assert hashlib.sha256(dump.read_bytes()).hexdigest() == manifest["sha256"]
    assert manifest["size_bytes"] == dump.stat().st_size
    assert manifest["row_counts"] == counts(action_ctx)
    assert manifest["alembic_revision"] == migrations.head_revision()
    assert files(action_ctx) - before == {f"{manifest['name']}.dump", f"{manifest['name']}.json"}
    assert list_snapshots(action_ctx)[0] == manifest

    default = SNAPSHOT_DB.execute(action_ctx, SNAPSHOT_DB.params())
    assert default.details["name"].endswith("-manual")
    assert [m["name"] for m in list_snapshots(action_ctx)[:2]] == [
        default.details["name"],
        manifest["name"],
    ]
    for bad in ("Bad", "../x", "-x", "a" * 42):
        with pytest.raises(ValidationError):
            SNAPSHOT_DB.params(label=bad)
    with pytest.raises(ValidationError):
        SNAPSHOT_DB.params(label="ok", extra=1)


def test_restore_brings_back_truncated_data_and_its_undo_goes_back(
    action_ctx: ActionContext,
) -> None:
    good = take_snapshot(action_ctx, label="good")
    execute_sql(action_ctx, "TRUNCATE products CASCADE")
    assert counts(action_ctx)["products"] == 0

    plan = RESTORE_DB.plan(action_ctx, RESTORE_DB.params())
    assert plan.details["snapshot"] == good["name"]
    assert plan.details["row_counts"]["products"] == {"snapshot": SEEDED, "current": 0}
    assert counts(action_ctx)["products"] == 0  # the plan changed nothing

    outcome = RESTORE_DB.execute(action_ctx, RESTORE_DB.params())
    assert counts(action_ctx) == good["row_counts"]
    assert table_owners(action_ctx) == {"breakfix_app"}
    assert products_served(action_ctx, SEEDED)
    assert outcome.undo is not None
    pre = outcome.undo["snapshot"]
    assert pre.endswith("-pre-restore") and outcome.details["pre_restore_snapshot"] == pre

    assert RESTORE_DB.revert is not None
    RESTORE_DB.revert(action_ctx, outcome.undo)
    assert counts(action_ctx)["products"] == 0
    assert products_served(action_ctx, 0)

    # The default never picks a pre-restore snapshot: it restores `good` again.
    assert RESTORE_DB.plan(action_ctx, RESTORE_DB.params()).details["snapshot"] == good["name"]
    RESTORE_DB.execute(action_ctx, RESTORE_DB.params(snapshot=good["name"]))
    assert counts(action_ctx) == good["row_counts"]
    assert products_served(action_ctx, SEEDED)


def superuser_password(ctx: ActionContext, password: str | None) -> None:
    """Set (or, None, remove) the superuser's password, over the trusted socket."""
    conn = ctx.target_db.connect()
    try:
        if password is None:
            with conn.cursor() as cur:
                cur.execute(f"ALTER ROLE {SUPERUSER} PASSWORD NULL")
        else:
            set_role_password(conn, role=SUPERUSER, password=password)
    finally:
        conn.close()


@pytest.fixture
def over_network(action_ctx: ActionContext, tmp_path: Path) -> Iterator[ActionContext]:
    """The context as the action server on Compose has it: target-db administered over TCP
    with the superuser's password; the Unix socket out of reach (its dir is not on this
    host), so anything that still used it would fail."""
    password = secrets.token_urlsafe(18)
    superuser_password(action_ctx, password)
    remote = replace(action_ctx.target_db, data_dir=tmp_path / "not-here", admin_password=password)
    assert remote.admin_host == remote.host and not remote.socket_dir.exists()
    try:
        yield replace(action_ctx, target_db=remote)
    finally:
        superuser_password(action_ctx, None)


def test_snapshot_and_restore_over_the_network(over_network: ActionContext) -> None:
    """pg_dump and pg_restore over TCP as the superuser, the Compose action server's path."""
    good = SNAPSHOT_DB.execute(over_network, SNAPSHOT_DB.params(label="network")).details
    assert good["verified"] is True and good["row_counts"]["products"] == SEEDED
    execute_sql(over_network, "TRUNCATE products CASCADE")
    assert counts(over_network)["products"] == 0
    outcome = RESTORE_DB.execute(over_network, RESTORE_DB.params(snapshot=good["name"]))
    assert outcome.details["snapshot"] == good["name"]
    assert counts(over_network) == good["row_counts"]
    assert products_served(over_network, SEEDED)


def test_a_wrong_admin_password_fails_clearly_and_changes_nothing(
    over_network: ActionContext,
) -> None:
    wrong = "not-" + secrets.token_urlsafe(12)
    ctx = replace(over_network, target_db=replace(over_network.target_db, admin_password=wrong))
    before_files, before_counts = files(ctx), counts(over_network)
    with pytest.raises(ActionFailed) as failed:
        SNAPSHOT_DB.execute(ctx, SNAPSHOT_DB.params(label="wrong"))
    assert "password authentication failed" in str(failed.value)
    assert wrong not in str(failed.value)
    assert files(ctx) == before_files and counts(over_network) == before_counts


def test_restore_leaves_the_chaos_schema_alone(action_ctx: ActionContext) -> None:
    """db-data-loss keeps the rows it truncated in the chaos role's schema for its revert; a
    restore neither drops that schema (it failed to, before) nor brings back old copies."""
    good = take_snapshot(action_ctx, label="chaos-schema")
    execute_sql(action_ctx, "CREATE TABLE breakfix_chaos.kept_rows AS SELECT * FROM orders")
    try:
        execute_sql(action_ctx, "TRUNCATE order_lines")
        RESTORE_DB.execute(action_ctx, RESTORE_DB.params(snapshot=good["name"]))
        assert counts(action_ctx) == good["row_counts"]
        conn = action_ctx.target_db.connect("shop")
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT to_regclass('breakfix_chaos.kept_rows') IS NOT NULL")
                assert cur.fetchone() == (True,)
        finally:
            conn.close()
    finally:
        execute_sql(action_ctx, "DROP TABLE IF EXISTS breakfix_chaos.kept_rows")


@pytest.mark.parametrize(
    "name", ["../x", "a/b", "nope", "..", "", "20990101T000000000Z-missing", "/etc/passwd"]
)
def test_restore_refuses_bad_snapshot_names(action_ctx: ActionContext, name: str) -> None:
    before_files, before_counts = files(action_ctx), counts(action_ctx)
    params = RESTORE_DB.params(snapshot=name)
    with pytest.raises(PreconditionFailed):
        RESTORE_DB.plan(action_ctx, params)
    with pytest.raises(PreconditionFailed):
        RESTORE_DB.execute(action_ctx, params)
    assert files(action_ctx) == before_files
    assert counts(action_ctx) == before_counts


def test_restore_refuses_a_corrupted_dump(action_ctx: ActionContext) -> None:
    manifest = take_snapshot(action_ctx, label="corrupt")
    dump = action_ctx.snapshots_dir / f"{manifest['name']}.dump"
    data = bytearray(dump.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    dump.write_bytes(bytes(data))
    before_files, before_counts = files(action_ctx), counts(action_ctx)
    for params in (RESTORE_DB.params(snapshot=manifest["name"]), RESTORE_DB.params()):
        with pytest.raises(PreconditionFailed, match="checksum"):
            RESTORE_DB.plan(action_ctx, params)
        with pytest.raises(PreconditionFailed, match="checksum"):
            RESTORE_DB.execute(action_ctx, params)
    assert files(action_ctx) == before_files  # no pre-restore snapshot was taken
    assert counts(action_ctx) == before_counts
    for path in (dump, dump.with_suffix(".json")):
        Path(path).unlink()


def test_run_migrations_upgrades_to_head_and_reverts(action_ctx: ActionContext) -> None:
    url, head = action_ctx.app_database_url(), migrations.head_revision()
    migrations.downgrade(url, "-1")
    previous = migrations.current_revision(url)
    assert previous is not None and previous != head

    plan = RUN_MIGRATIONS.plan(action_ctx, NoParams())
    assert plan.details == {"from": previous, "to": head}
    assert migrations.current_revision(url) == previous

    outcome = RUN_MIGRATIONS.execute(action_ctx, NoParams())
    assert outcome.details == {"from": previous, "to": head}
    assert outcome.undo == {"revision": previous}
    assert migrations.current_revision(url) == head
    assert products_served(action_ctx, SEEDED)

    assert RUN_MIGRATIONS.revert is not None
    RUN_MIGRATIONS.revert(action_ctx, outcome.undo)
    assert migrations.current_revision(url) == previous

    RUN_MIGRATIONS.execute(action_ctx, NoParams())
    assert "nothing to do" in RUN_MIGRATIONS.plan(action_ctx, NoParams()).summary
    again = RUN_MIGRATIONS.execute(action_ctx, NoParams())
    assert again.undo is None and again.details == {"from": head, "to": head}
    assert migrations.current_revision(url) == head
    assert "password" not in str(outcome.details) + outcome.summary


def test_terminate_blockers_frees_a_locked_table(action_ctx: ActionContext) -> None:
    assert products_served(action_ctx, SEEDED)  # the app has live sessions on shop
    intruder = connect(action_ctx, "intruder")
    with intruder.cursor() as cur:
        cur.execute("LOCK TABLE products IN ACCESS EXCLUSIVE MODE")
    intruder_pid = intruder.get_backend_pid()
    waiter = connect(action_ctx, "breakfix-target", options="-c statement_timeout=30000")
    waiter.autocommit = True
    result: list[int] = []

    def wait_for_products() -> None:
        with waiter.cursor() as cur:
            cur.execute("SELECT count(*) FROM products")
            result.append(cur.fetchone()[0])

    thread = threading.Thread(target=wait_for_products, daemon=True)
    thread.start()
    try:
        plan = _plan_once_waiting(action_ctx, waiter.get_backend_pid())
        pids = {c["pid"]: c for c in plan.details["candidates"]}
        assert intruder_pid in pids
        assert pids[intruder_pid]["blocks"] == [waiter.get_backend_pid()]
        assert pids[intruder_pid]["application_name"] == "intruder"
        assert "LOCK TABLE products" in pids[intruder_pid]["query"]
        assert all(c["application_name"] != "breakfix-target" for c in pids.values())

        outcome = TERMINATE_DB_BLOCKERS.execute(action_ctx, NoParams())
        assert intruder_pid in {s["pid"] for s in outcome.details["terminated"]}
        thread.join(timeout=10)
        assert result == [SEEDED]
        with pytest.raises(psycopg2.OperationalError), intruder.cursor() as cur:
            cur.execute("SELECT 1")
        assert products_served(action_ctx, SEEDED)
    finally:
        thread.join(timeout=30)
        waiter.close()
        intruder.close()


def _plan_once_waiting(ctx: ActionContext, waiter_pid: int) -> Any:
    deadline = time.monotonic() + 10
    while True:
        plan = TERMINATE_DB_BLOCKERS.plan(ctx, NoParams())
        if any(waiter_pid in c["blocks"] for c in plan.details["candidates"]):
            return plan
        assert time.monotonic() < deadline, plan
        time.sleep(0.1)


def test_terminate_blockers_ends_idle_foreign_connections(action_ctx: ActionContext) -> None:
    assert products_served(action_ctx, SEEDED)
    idle = connect(action_ctx, "idle-intruder")
    try:
        plan = TERMINATE_DB_BLOCKERS.plan(action_ctx, NoParams())
        listed = {c["pid"]: c for c in plan.details["candidates"]}
        assert list(listed) == [idle.get_backend_pid()]
        assert "not the app's connection" in listed[idle.get_backend_pid()]["reason"]

        outcome = TERMINATE_DB_BLOCKERS.execute(action_ctx, NoParams())
        assert [s["pid"] for s in outcome.details["terminated"]] == [idle.get_backend_pid()]
        with pytest.raises(psycopg2.OperationalError), idle.cursor() as cur:
            cur.execute("SELECT 1")
        assert "nothing to do" in TERMINATE_DB_BLOCKERS.plan(action_ctx, NoParams()).summary
        assert TERMINATE_DB_BLOCKERS.execute(action_ctx, NoParams()).details == {"terminated": []}
        assert products_served(action_ctx, SEEDED)
    finally:
        idle.close()


def test_pruning_keeps_the_newest_scheduled_snapshots_only(action_ctx: ActionContext) -> None:
    from action_server.snapshot_store import prune

    manual = take_snapshot(action_ctx, label="keepme")
    scheduled = [take_snapshot(action_ctx, label="scheduled")["name"] for _ in range(3)]
    removed = prune(action_ctx, label="scheduled", keep=1)
    assert sorted(removed) == sorted(scheduled[:2])
    names = {m["name"] for m in list_snapshots(action_ctx)}
    assert scheduled[2] in names and manual["name"] in names
    assert not (action_ctx.snapshots_dir / f"{scheduled[0]}.dump").exists()


def test_terminate_blockers_finds_hogs_on_other_databases(action_ctx: ActionContext) -> None:
    hog = psycopg2.connect(
        host=str(action_ctx.target_db.socket_dir),
        port=action_ctx.target_db.port,
        user=SUPERUSER,
        dbname="postgres",
        application_name="hog-elsewhere",
    )
    try:
        plan = TERMINATE_DB_BLOCKERS.plan(action_ctx, NoParams())
        listed = {c["application_name"]: c for c in plan.details["candidates"]}
        assert listed["hog-elsewhere"]["database"] == "postgres"
        TERMINATE_DB_BLOCKERS.execute(action_ctx, NoParams())
        with pytest.raises(psycopg2.OperationalError):
            with hog.cursor() as cur:
                cur.execute("SELECT 1")
    finally:
        hog.close()


def test_a_restore_is_judged_on_the_snapshots_rows_not_on_writes_after_it(
    action_ctx: ActionContext,
) -> None:
    """The app reconnects as soon as a restore commits and may write before the restore's
    check (in CI a synthetic order did, and a good restore was rolled back): rows past the
    snapshot's max ids do not count; a snapshot row missing still does."""
    good = take_snapshot(action_ctx, label="busy")
    assert good["max_ids"]["products"] >= SEEDED
    execute_sql(action_ctx, "TRUNCATE order_lines")
    RESTORE_DB.execute(action_ctx, RESTORE_DB.params(snapshot=good["name"]))
    assert restored_differences(action_ctx, good) == {}
    # what the app writes right after the restore: a new product (a higher id)
    execute_sql(action_ctx, "INSERT INTO products (sku, name) VALUES ('after-restore', 'x')")
    assert counts(action_ctx)["products"] == good["row_counts"]["products"] + 1
    assert restored_differences(action_ctx, good) == {}
    # a row of the snapshot gone is still a difference
    execute_sql(action_ctx, "DELETE FROM products WHERE id = (SELECT min(id) FROM products)")
    missing = restored_differences(action_ctx, good)
    assert "products" in missing, missing  # (its inventory row went with it)
    assert missing["products"]["actual"] == good["row_counts"]["products"] - 1
    RESTORE_DB.execute(action_ctx, RESTORE_DB.params(snapshot=good["name"]))  # leave it whole
