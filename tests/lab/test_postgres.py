"""The embedded Postgres manager: init, roles, password auth, clean shutdown."""

import shutil
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import connection

from lab.errors import PostgresError
from lab.postgres import (
    Cluster,
    find_bindir,
    pg_home,
    pgserver_bindir,
    searchable_by_others,
    server_user,
)
from tests.support.pg import RunningCluster, make_state_dir, remove_state_dir, running_cluster
from tests.support.ports import free_port


def _connect_pw_check(port: int, password: str) -> connection:
    """A TCP connection to database pw_check as role pw_check with this password."""
    return psycopg2.connect(
        host="127.0.0.1", port=port, user="pw_check", password=password, dbname="pw_check"
    )


def test_tcp_needs_the_password_and_socket_is_for_the_lab(target_pg: RunningCluster) -> None:
    cluster = target_pg.cluster
    cluster.ensure_database(role="pw_check", password="right-one", dbname="pw_check")
    ok = _connect_pw_check(cluster.port, "right-one")
    ok.close()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        _connect_pw_check(cluster.port, "wrong")
    cluster.ensure_database(role="pw_check", password="rotated", dbname="pw_check")
    with pytest.raises(psycopg2.OperationalError):
        _connect_pw_check(cluster.port, "right-one")


def test_cluster_stops_cleanly_and_keeps_its_data() -> None:
    state_dir = make_state_dir()
    try:
        with running_cluster(state_dir, "keep") as running:
            cluster = running.cluster
            assert cluster.state() == "in production"
            conn = cluster.connect()
            with conn.cursor() as cur:
                cur.execute("CREATE TABLE kept (v int); INSERT INTO kept VALUES (42)")
            conn.close()
            running.stop()
            assert cluster.state() == "shut down"
            cluster.init()  # idempotent: must not wipe an existing cluster
            running.start()
            conn = cluster.connect()
            with conn.cursor() as cur:
                cur.execute("SELECT v FROM kept")
                assert cur.fetchone() == (42,)
            conn.close()
    finally:
        remove_state_dir(state_dir)


def test_long_state_paths_get_a_short_socket_dir(tmp_path: Path) -> None:
    deep = Path("/tmp") / ("d" * 120) / "pg"
    cluster = Cluster(name="x", data_dir=deep, port=1, bindir=find_bindir(), user=server_user())
    assert len(str(cluster.socket_dir)) < 100
    assert cluster.socket_dir != deep


def test_missing_binaries_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("lab.postgres.Path.glob", lambda self, pattern: iter(()))
    monkeypatch.setattr("lab.postgres.pgserver_bindir", lambda: None)
    with pytest.raises(PostgresError, match="BREAKFIX_PG_BIN"):
        find_bindir(tmp_path)


@pytest.mark.skipif(server_user() is None, reason="only root hands the data dir to postgres")
def test_unreachable_state_dir_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    cluster = Cluster(
        name="x", data_dir=private / "pg" / "x", port=1, bindir=find_bindir(), user=server_user()
    )
    with pytest.raises(PostgresError, match="not searchable"):
        cluster.init()


@pytest.mark.skipif(server_user() is None, reason="only root hands the data dir to postgres")
def test_private_state_dir_keeps_data_where_postgres_can_reach_it(tmp_path: Path) -> None:
    state = tmp_path / "private"  # pytest's tmp_path is 0700, like /root
    state.mkdir(mode=0o700)
    home = pg_home(state / "pg", server_user())
    assert home != state / "pg" and searchable_by_others(home)
    assert (state / "pg").resolve() == home.resolve()  # linked from the state dir
    assert pg_home(state / "pg", server_user()) == home  # stable across runs
    public = make_state_dir()
    try:
        assert pg_home(public / "pg", server_user()) == public / "pg"
    finally:
        remove_state_dir(public)
    shutil.rmtree(home.parent, ignore_errors=True)


def test_the_pgserver_fallback_runs_a_real_cluster() -> None:
    bindir = pgserver_bindir()
    assert bindir is not None, "pgserver is a dev dependency: the fallback must be testable"
    if server_user() is not None and not searchable_by_others(bindir):
        pytest.skip(
            f"pgserver's binaries in {bindir} are not reachable by the postgres user (a clone"
            " under a 0700 directory, e.g. from mktemp -d): clone where others may pass"
        )
    state_dir = make_state_dir()
    try:
        cluster = Cluster(
            name="pgserver",
            data_dir=state_dir / "pg" / "pgserver",
            port=free_port(),
            bindir=bindir,
            user=server_user(),
        )
        cluster.init()
        running = RunningCluster(cluster, state_dir / "logs" / "pgserver.log")
        running.start()
        try:
            conn = cluster.connect()
            assert conn.server_version >= 160000  # pgserver ships PostgreSQL 16
            conn.close()
        finally:
            running.stop()
        assert cluster.state() == "shut down"
    finally:
        remove_state_dir(state_dir)
