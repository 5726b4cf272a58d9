"""`gameday list | show | compare` on real ops-db, reached through a lab state dir."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from breakfix.cli.gameday_history import register_history
from gameday.report.schema import RunReport
from gameday.store import GamedayStore, save_run
from lab import ops_db
from lab.config import get_settings
from lab.envfile import write_env
from lab.paths import StatePaths
from tests.support.gameday_db import clear_runs, engine_on, migrated_ops_db
from tests.support.gameday_factories import T0, make_case, make_report
from tests.support.pg import RunningCluster
from tests.support.ports import free_port

BEFORE = make_report(
    "gd-20260107-120000",
    cases=[
        make_case("api-crash"),
        make_case("db-lock", outage_s=5.0),
        make_case("api-crash", arm="none", status="failed", outage_s=61.0, censored=True),
    ],
)
AFTER = make_report(
    "gd-20260108-120000",
    started_at=T0 + 86_400,
    cases=[
        make_case("api-crash", status="failed", outage_s=40.0, at=T0 + 86_400),
        make_case("db-lock", outage_s=6.0, at=T0 + 86_400),
    ],
    finished=False,
    interrupted=True,
)


@pytest.fixture(scope="module")
def ops_url(target_pg: RunningCluster) -> str:
    return migrated_ops_db(target_pg.cluster, "gameday_cli")


def _point_lab_at(state_dir: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab state dir whose action.env carries the ops-db URL, as `breakfix run` writes it."""
    paths = StatePaths.at(state_dir)
    paths.env.mkdir(parents=True)
    write_env(paths.action_env, {"ACTION_OPS_DB_URL": url})
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(state_dir))
    get_settings.cache_clear()


@pytest.fixture
def cli(ops_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """A CLI runner on a lab whose ops-db holds no game day run."""
    engine = engine_on(ops_url)
    clear_runs(engine)
    engine.dispose()
    _point_lab_at(tmp_path, ops_url, monkeypatch)
    yield CliRunner()
    get_settings.cache_clear()


def _save(ops_url: str, *reports: RunReport) -> None:
    store = GamedayStore(ops_url)
    try:
        with store.session() as session:
            for report in reports:
                save_run(session=session, report=report)
    finally:
        store.dispose()


def _run(runner: CliRunner, *args: str) -> Result:
    app = typer.Typer()
    register_history(app)
    return runner.invoke(app, list(args))


def test_list_shows_runs_newest_first(cli: CliRunner, ops_url: str) -> None:
    assert "no game day runs" in _run(cli, "list").stdout
    _save(ops_url, BEFORE, AFTER)

    result = _run(cli, "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.index(AFTER.run_id) < result.stdout.index(BEFORE.run_id)
    assert "interrupted" in result.stdout
    assert "agent, none" in result.stdout

    rows = json.loads(_run(cli, "list", "--json").stdout)
    assert [r["run_id"] for r in rows] == [AFTER.run_id, BEFORE.run_id]
    assert (rows[1]["cases"], rows[1]["passed"], rows[1]["arms"]) == (3, 2, ["agent", "none"])
    newest = json.loads(_run(cli, "list", "--json", "--limit", "1").stdout)
    assert [r["run_id"] for r in newest] == [AFTER.run_id]


def test_show_prints_the_arms_and_cases(cli: CliRunner, ops_url: str) -> None:
    _save(ops_url, BEFORE, AFTER)

    result = _run(cli, "show", "gd-20260107")  # a unique prefix
    assert result.exit_code == 0, result.output
    for text in ("gd-20260107-120000", "api-crash#1/agent", "db-lock#1/agent", "restart-api"):
        assert text in result.stdout
    assert "api-crash#1/none" in result.stdout and ">61.0s" in result.stdout  # censored
    assert "agent pass rate 100%" in result.stdout

    as_json = _run(cli, "show", BEFORE.run_id, "--json")
    assert as_json.exit_code == 0
    assert as_json.stdout == BEFORE.model_dump_json(indent=2) + "\n"
    assert RunReport.model_validate_json(as_json.stdout) == BEFORE


def test_an_unknown_or_ambiguous_run_exits_2(cli: CliRunner, ops_url: str) -> None:
    _save(ops_url, BEFORE, AFTER)

    unknown = _run(cli, "show", "gd-1999")
    assert unknown.exit_code == 2
    assert unknown.stderr.strip() == "error: no game day run gd-1999"
    assert _run(cli, "compare", BEFORE.run_id, "nope").exit_code == 2
    ambiguous = _run(cli, "show", "gd-2026")
    assert ambiguous.exit_code == 2
    assert "ambiguous" in ambiguous.stderr and AFTER.run_id in ambiguous.stderr


def test_compare_flags_regressions_and_exits_1(cli: CliRunner, ops_url: str) -> None:
    _save(ops_url, BEFORE, AFTER)

    result = _run(cli, "compare", BEFORE.run_id, AFTER.run_id)
    assert result.exit_code == 1, result.output
    assert "passed -> failed" in result.stdout
    assert f"only in {BEFORE.run_id}: api-crash#1/none" in result.stdout
    assert "1 regression(s)" in result.stdout

    as_json = _run(cli, "compare", BEFORE.run_id, AFTER.run_id, "--json")
    assert as_json.exit_code == 1
    cases = {c["case"]: c for c in json.loads(as_json.stdout)["cases"]}
    assert cases["api-crash"]["regression"] is True
    assert cases["db-lock"]["regression"] is False  # 5 s -> 6 s
    assert cases["db-lock"]["outage_delta_s"] == 1.0


def test_compare_without_regressions_exits_0(cli: CliRunner, ops_url: str) -> None:
    _save(ops_url, BEFORE, AFTER)

    result = _run(cli, "compare", AFTER.run_id, BEFORE.run_id)
    assert result.exit_code == 0, result.output
    assert "no regressions" in result.stdout


def test_an_unreachable_ops_db_is_one_line_without_the_password(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dead = f"postgresql+psycopg2://breakfix_ops:s3cret-pw@127.0.0.1:{free_port()}/breakfix_ops"
    _point_lab_at(tmp_path, dead, monkeypatch)
    try:
        for args in (["list"], ["show", "gd-1"], ["compare", "gd-1", "gd-2"]):
            result = _run(CliRunner(), *args)
            assert result.exit_code == 1
            assert result.stderr == (
                "error: ops-db is not reachable: is the lab running (`make run`)?\n"
            )
            assert "s3cret" not in result.output and "Traceback" not in result.output
    finally:
        get_settings.cache_clear()


def test_no_lab_state_exits_1(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKFIX_STATE_DIR", str(tmp_path / "nowhere"))
    get_settings.cache_clear()
    try:
        result = _run(CliRunner(), "list")
        assert result.exit_code == 1
        assert "no lab state here" in result.stderr
    finally:
        get_settings.cache_clear()


def test_an_ops_db_not_yet_migrated_says_so(
    target_pg: RunningCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster = target_pg.cluster
    cluster.ensure_database(role="gameday_old", password="old-pw", dbname="gameday_old")
    url = cluster.dsn(role="gameday_old", password="old-pw", dbname="gameday_old")
    ops_db.upgrade(url, "0005")  # a lab from before game days
    _point_lab_at(tmp_path, url, monkeypatch)
    try:
        result = _run(CliRunner(), "list")
        assert result.exit_code == 1
        assert result.stderr == "error: ops-db has no game day tables yet: run `make run` once\n"
    finally:
        get_settings.cache_clear()
