"""Game day runs in ops-db (real Postgres): save, replace, list, look up by id or prefix."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy.orm import Session

from gameday.store import AmbiguousRunId, get_run, list_runs, save_run
from lab import ops_db
from tests.support.gameday_db import engine_on, migrated_ops_db, savepoint_session
from tests.support.gameday_factories import T0, make_case, make_report
from tests.support.pg import RunningCluster


@pytest.fixture(scope="module")
def engine(target_pg: RunningCluster) -> Iterator[Engine]:
    """An engine on an ops-db at head, for this module's savepoint sessions."""
    engine = engine_on(migrated_ops_db(target_pg.cluster, "gameday_store"))
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    """A session whose commits are rolled back after the test."""
    with savepoint_session(engine) as session:
        yield session


def _case_rows(session: Session, run_id: str) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in session.execute(
            text(
                "SELECT case_id, status, outage_s, censored, recovered_by, diagnosis_correct"
                " FROM gameday_cases WHERE run_id = :run ORDER BY case_id"
            ),
            {"run": run_id},
        )
    ]


def test_a_saved_run_reads_back_equal(session: Session) -> None:
    report = make_report(
        cases=[
            make_case("api-crash"),
            make_case("db-lock", arm="none", status="failed", outage_s=61.25, censored=True),
            make_case("noop", arm="restart-only", status="not_run"),
        ]
    )
    save_run(session=session, report=report)

    assert get_run(session=session, run_id=report.run_id) == report
    assert _case_rows(session, report.run_id) == [
        ("api-crash#1/agent", "passed", 5.0, False, "responder", True),
        ("db-lock#1/none", "failed", 61.25, True, "revert", None),
        ("noop#1/restart-only", "not_run", None, False, "unknown", None),
    ]
    stored = session.execute(
        text("SELECT schema_version, interrupted, pass_rate, options FROM gameday_runs")
    ).one()
    assert tuple(stored) == ("breakfix.gameday/1", False, 1.0, report.options)


def test_saving_a_run_again_replaces_its_cases(session: Session) -> None:
    partial = make_report(
        cases=[make_case("api-crash"), make_case("db-lock")], finished=False, interrupted=True
    )
    save_run(session=session, report=partial)
    whole = make_report(
        cases=[
            make_case("api-crash", status="failed", outage_s=30.0),
            make_case("disk-fill"),
            make_case("noop", outage_s=None),
        ]
    )
    save_run(session=session, report=whole)

    assert get_run(session=session, run_id=whole.run_id) == whole
    assert [row[:2] for row in _case_rows(session, whole.run_id)] == [
        ("api-crash#1/agent", "failed"),
        ("disk-fill#1/agent", "passed"),
        ("noop#1/agent", "passed"),
    ]
    (run,) = list_runs(session=session)
    assert (run.interrupted, run.finished_at is not None, run.cases) == (False, True, 3)


def test_a_run_with_duplicate_case_ids_is_refused_whole(session: Session) -> None:
    report = make_report(cases=[make_case("api-crash"), make_case("api-crash")])
    with pytest.raises(ValueError, match="duplicate case ids"):
        save_run(session=session, report=report)
    assert get_run(session=session, run_id=report.run_id) is None


def test_runs_are_listed_newest_first(session: Session) -> None:
    save_run(session=session, report=make_report("gd-old", started_at=T0 - 86_400))
    save_run(
        session=session,
        report=make_report(
            "gd-new",
            started_at=T0,
            cases=[
                make_case("api-crash"),
                make_case("api-crash", arm="restart-only", status="failed"),
                make_case("api-crash", arm="none", status="failed"),
                make_case("db-lock", status="not_run"),
            ],
        ),
    )
    save_run(session=session, report=make_report("gd-empty", started_at=T0 - 3_600, cases=[]))

    rows = list_runs(session=session)
    assert [r.run_id for r in rows] == ["gd-new", "gd-empty", "gd-old"]
    new, empty, _ = rows
    assert (new.cases, new.passed, new.pass_rate) == (4, 1, 1.0)
    assert new.arms == ["agent", "none", "restart-only"]
    assert new.started_at.timestamp() == T0
    assert (empty.cases, empty.passed, empty.arms, empty.pass_rate) == (0, 0, [], None)
    assert [r.run_id for r in list_runs(session=session, limit=1)] == ["gd-new"]


def test_a_run_is_found_by_a_unique_prefix(session: Session) -> None:
    for run_id in ("gd-20260107-120000", "gd-20260108-090000", "gd-20260108-093000", "gd-2"):
        save_run(session=session, report=make_report(run_id))

    found = get_run(session=session, run_id="gd-20260107")
    assert found is not None and found.run_id == "gd-20260107-120000"
    exact = get_run(session=session, run_id="gd-2")  # an exact id wins over its prefix matches
    assert exact is not None and exact.run_id == "gd-2"
    with pytest.raises(AmbiguousRunId) as raised:
        get_run(session=session, run_id="gd-20260108")
    assert raised.value.matches == ["gd-20260108-090000", "gd-20260108-093000"]
    assert "gd-20260108-090000, gd-20260108-093000" in str(raised.value)
    assert get_run(session=session, run_id="gd-1999") is None
    assert get_run(session=session, run_id="%") is None  # a LIKE wildcard is a plain character
    assert get_run(session=session, run_id="") is None


def test_deleting_a_run_deletes_its_cases(session: Session) -> None:
    report = make_report(cases=[make_case("api-crash"), make_case("db-lock")])
    save_run(session=session, report=report)
    session.execute(text("DELETE FROM gameday_runs"))
    assert _case_rows(session, report.run_id) == []


def test_the_migration_goes_down_and_up(target_pg: RunningCluster) -> None:
    url = migrated_ops_db(target_pg.cluster, "gameday_migration")
    engine = engine_on(url)
    try:
        ops_db.downgrade(url, "0005")
        assert not {"gameday_runs", "gameday_cases"} & set(inspect(engine).get_table_names())
        ops_db.upgrade(url)
        assert ops_db.current_revision(url) == ops_db.head_revision() == "0008"
        indexes = {i["name"] for i in inspect(engine).get_indexes("gameday_runs")}
        assert "gameday_runs_started_idx" in indexes
    finally:
        engine.dispose()
