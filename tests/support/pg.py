"""A real embedded Postgres cluster for tests, started through the lab's own manager."""

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from breakfix.background import make_state_dir, remove_state_dir
from lab.postgres import Cluster, find_bindir, server_user
from lab.process import spawn, stop
from tests.support.ports import free_port


@contextmanager
def running_cluster(state_dir: Path, name: str = "target-db") -> Iterator["RunningCluster"]:
    """Init and start a cluster on a free port; stop it cleanly on exit."""
    cluster = Cluster(
        name=name,
        data_dir=state_dir / "pg" / name,
        port=free_port(),
        bindir=find_bindir(),
        user=server_user(),
    )
    cluster.init()
    running = RunningCluster(cluster, state_dir / "logs" / f"{name}.log")
    running.start()
    try:
        yield running
    finally:
        running.stop()


class RunningCluster:
    """A cluster plus its postmaster process, which a test may stop and start again."""

    def __init__(self, cluster: Cluster, log_path: Path) -> None:
        self.cluster = cluster
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = spawn(self.cluster.command(), log_path=self.log_path)
        self.cluster.wait_ready(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, sig=self.cluster.command().stop_signal, timeout=30)
            self.proc = None


def scalar(
    cluster: Cluster, query: str, params: Sequence[Any] = (), *, dbname: str = "shop"
) -> Any:
    """The first column of `query`'s first row (None without one), on its own autocommit
    connection named `breakfix-test-probe` (so that blocker hunts may end it)."""
    conn = cluster.connect(dbname, application_name="breakfix-test-probe")
    try:
        with conn.cursor() as cur:
            cur.execute(query, params)
            row = cur.fetchone() if cur.description else None
        return row[0] if row else None
    finally:
        conn.close()


__all__ = ["RunningCluster", "make_state_dir", "remove_state_dir", "running_cluster", "scalar"]
