"""The lab's services: what each runs, on which port, what it needs, whether it is restarted."""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

from lab.config import LabSettings
from lab.health import HealthCheck, http_check, postgres_check
from lab.paths import StatePaths
from lab.postgres import Cluster, find_bindir, pg_home, server_user
from lab.process import Command

APP_ROLE, APP_DB = "breakfix_app", "shop"
OPS_ROLE, OPS_DB = "breakfix_ops", "breakfix_ops"
PRIMARY_HOST, FALLBACK_HOST = "pricing-primary.breakfix.lab", "pricing-fallback.breakfix.lab"


@dataclass
class ServiceSpec:
    """How the supervisor runs one service.

    `restart` is True only for the lab's own services: the victim (target, its upstreams,
    target-db) is never restarted by the supervisor, because fixing it is the agent's job.
    """

    name: str
    kind: str
    command: Command
    port: int
    url: str
    health: HealthCheck
    restart: bool
    depends_on: tuple[str, ...] = ()
    cluster: Cluster | None = None
    dsn_role: str | None = None
    dsn_db: str | None = None
    before_start: Callable[[], None] | None = field(default=None, repr=False)
    on_ready: Callable[[], None] | None = field(default=None, repr=False)
    before_stop: Callable[[], None] | None = field(default=None, repr=False)

    def dsn(self, password: str | None = None) -> str | None:
        """The service's database URL (Postgres services only), password left out if None."""
        if self.cluster is None or self.dsn_role is None or self.dsn_db is None:
            return None
        return self.cluster.dsn(role=self.dsn_role, password=password, dbname=self.dsn_db)


def clusters(settings: LabSettings, paths: StatePaths) -> dict[str, Cluster]:
    """The two embedded Postgres clusters of the lab."""
    bindir, user = find_bindir(settings.pg_bin), server_user()
    home = pg_home(paths.pg, user)
    return {
        "target-db": Cluster(
            name="target-db",
            data_dir=home / "target-db",
            port=settings.target_db_port,
            bindir=bindir,
            user=user,
            host=settings.host,
            max_connections=settings.target_db_max_connections,
        ),
        "ops-db": Cluster(
            name="ops-db",
            data_dir=home / "ops-db",
            port=settings.ops_db_port,
            bindir=bindir,
            user=user,
            host=settings.host,
        ),
    }


def build_specs(
    *,
    settings: LabSettings,
    paths: StatePaths,
    dbs: dict[str, Cluster],
    hooks: dict[str, Callable[[], None]],
) -> list[ServiceSpec]:
    """Every service in dependency order; `hooks` run once a service is first healthy."""
    host = settings.host

    def http(port: int) -> str:
        return f"http://{host}:{port}"

    def stub(name: str, port: int) -> ServiceSpec:
        return ServiceSpec(
            name=f"upstream-{name}",
            kind="http",
            command=Command(
                argv=[sys.executable, "-m", "target_server.upstream_stub"],
                env={"UPSTREAM_NAME": name, "UPSTREAM_HOST": host, "UPSTREAM_PORT": str(port)},
            ),
            port=port,
            url=http(port),
            health=http_check(f"{http(port)}/healthz"),
            restart=False,
        )

    def database(name: str, role: str, db: str, restart: bool) -> ServiceSpec:
        cluster = dbs[name]
        return ServiceSpec(
            name=name,
            kind="postgres",
            command=cluster.command(),
            port=cluster.port,
            url=f"postgresql://{host}:{cluster.port}",
            health=postgres_check(cluster),
            restart=restart,
            cluster=cluster,
            dsn_role=role,
            dsn_db=db,
            before_start=cluster.init,
            on_ready=hooks.get(name),
        )

    target_url = http(settings.target_port)
    return [
        database("ops-db", OPS_ROLE, OPS_DB, restart=True),
        database("target-db", APP_ROLE, APP_DB, restart=False),
        stub("primary", settings.upstream_primary_port),
        stub("fallback", settings.upstream_fallback_port),
        ServiceSpec(
            name="target",
            kind="http",
            command=Command(
                argv=[sys.executable, "-m", "target_server"],
                env={
                    "TARGET_ENV_FILE": str(paths.target_env),
                    "TARGET_HOST": host,
                    "TARGET_PORT": str(settings.target_port),
                },
            ),
            port=settings.target_port,
            url=target_url,
            health=http_check(f"{target_url}/ready"),
            restart=False,
            depends_on=("target-db", "upstream-primary", "upstream-fallback"),
        ),
    ]
