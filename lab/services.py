"""The lab's services: what each runs, on which port, what it needs, whether it is restarted."""

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lab.config import LabSettings, agent_runs, as_environment
from lab.health import HealthCheck, http_check, postgres_check, tcp_check
from lab.paths import StatePaths
from lab.postgres import Cluster, find_bindir, pg_home, server_user
from lab.process import Command

APP_ROLE, APP_DB = "breakfix_app", "shop"
OPS_ROLE, OPS_DB = "breakfix_ops", "breakfix_ops"
PRIMARY_HOST, FALLBACK_HOST = "pricing-primary.breakfix.lab", "pricing-fallback.breakfix.lab"
# Shared by the chaos server and the victims' fault hooks (target /_faults, stub controls,
# db-proxy toxics); never given to the agent or the action server.
CONTROL_TOKEN = "control.token"
CHAOS_KEY = "chaos.key"  # for chaos clients only: the agent never gets it
APP_PASSWORD = "target-db-app.password"
OPS_PASSWORD = "ops-db.password"
# target-db's superuser password, where the action server administers it over the network (on
# Compose: no data volume, pg_dump/pg_restore over TCP); the local lab uses the trusted socket.
TARGET_DB_ADMIN_PASSWORD = "target-db-admin.password"
HOOKS_TOKEN = "victim-hooks.token"
AGENT_INTAKE_TOKEN = "agent-intake.token"  # webhook callers (observability); never approvers
# Who may approve or deny the agent's high-risk steps (lab.approvers): a token each, the
# lab's operator (the CLI's `incidents approve|deny`) and the game day's auto-approver.
AGENT_APPROVERS = "agent-approvers.tokens"
OPERATOR_APPROVER, GAMEDAY_APPROVER = "operator", "gameday"
AGENT_ACTION_KEY = "agent-action.key"  # an `act` key of the action server, created in ops-db
# The web console's login tokens (one a role) and its approver name on the agent: it answers
# approvals server-side with its own approver token, never the operator's or the game day's.
CONSOLE_OPERATOR_TOKEN, CONSOLE_VIEWER_TOKEN = "console-operator.token", "console-viewer.token"
CONSOLE_APPROVER = "console"
AGENT_DROPPED_ENV = (
    "AGENT_",
    "CHAOS_",
    "ACTION_",
    "OBS_",
    "TARGET_",
    "DBPROXY_",
    "UPSTREAM_",
    "CONSOLE_",  # the console holds the chaos key file: none of its settings reach the agent
)


@dataclass(frozen=True)
class Endpoint:
    """Where a service listens, known from the settings alone (no binaries, no processes)."""

    name: str
    kind: str
    host: str
    port: int
    url: str
    db_role: str | None = None
    db_name: str | None = None

    def dsn(self, password: str | None = None) -> str | None:
        """A libpq URL for Postgres services (password left out when None), else None."""
        if self.db_role is None or self.db_name is None:
            return None
        auth = self.db_role if password is None else f"{self.db_role}:{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.db_name}"


def endpoints(settings: LabSettings) -> dict[str, Endpoint]:
    """Every service's endpoint, in dependency order."""
    host = settings.host

    def http(name: str, port: int) -> Endpoint:
        return Endpoint(name=name, kind="http", host=host, port=port, url=f"http://{host}:{port}")

    def pg(name: str, port: int, role: str, db: str) -> Endpoint:
        return Endpoint(
            name=name,
            kind="postgres",
            host=host,
            port=port,
            url=f"postgresql://{host}:{port}",
            db_role=role,
            db_name=db,
        )

    optional = [http("observability", settings.observability_port)]
    if agent_runs(settings):
        optional.append(http("agent", settings.agent_port))
    console = [http("console", settings.console_port)] if settings.console_enabled else []
    return {
        e.name: e
        for e in (
            pg("ops-db", settings.ops_db_port, OPS_ROLE, OPS_DB),
            pg("target-db", settings.target_db_port, APP_ROLE, APP_DB),
            Endpoint(
                name="db-proxy",
                kind="tcp",
                host=host,
                port=settings.db_proxy_port,
                url=f"tcp://{host}:{settings.db_proxy_port}",
            ),
            http("upstream-primary", settings.upstream_primary_port),
            http("upstream-fallback", settings.upstream_fallback_port),
            http("target", settings.target_port),
            http("action", settings.action_port),
            http("chaos", settings.chaos_port),
            *(optional if settings.observability_enabled else []),
            *console,
        )
    }


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

    def dsn(self, password: str | None = None) -> str | None:
        """The service's database URL (Postgres services only), password left out if None."""
        if self.cluster is None or self.dsn_role is None or self.dsn_db is None:
            return None
        return self.cluster.dsn(role=self.dsn_role, password=password, dbname=self.dsn_db)


def clusters(settings: LabSettings, paths: StatePaths) -> dict[str, Cluster]:
    """The two embedded Postgres clusters of the lab."""
    bindir, user = find_bindir(settings.pg_bin), server_user()
    home = pg_home(paths.pg, user)

    def cluster(name: str, port: int, max_connections: int = 100) -> Cluster:
        return Cluster(
            name=name,
            data_dir=home / name,
            port=port,
            bindir=bindir,
            user=user,
            host=settings.host,
            max_connections=max_connections,
        )

    return {
        "target-db": cluster(
            "target-db",
            settings.target_db_port,
            max_connections=settings.target_db_max_connections,
        ),
        "ops-db": cluster("ops-db", settings.ops_db_port),
    }


def build_specs(
    *,
    settings: LabSettings,
    paths: StatePaths,
    dbs: dict[str, Cluster],
    hooks: dict[str, Callable[[], None]],
) -> list[ServiceSpec]:
    """Every service in dependency order; `hooks` run once a service is first healthy."""
    ends = endpoints(settings)
    host = settings.host

    def stub(name: str) -> ServiceSpec:
        end = ends[f"upstream-{name}"]
        return ServiceSpec(
            name=end.name,
            kind=end.kind,
            command=Command(
                argv=[sys.executable, "-m", "target_server.upstream_stub"],
                env={
                    "UPSTREAM_NAME": name,
                    "UPSTREAM_HOST": host,
                    "UPSTREAM_PORT": str(end.port),
                    "UPSTREAM_CONTROL_TOKEN_FILE": str(paths.secret(HOOKS_TOKEN)),
                },
            ),
            port=end.port,
            url=end.url,
            health=http_check(f"{end.url}/healthz"),
            restart=False,
        )

    def database(name: str, restart: bool) -> ServiceSpec:
        cluster, end = dbs[name], ends[name]
        return ServiceSpec(
            name=name,
            kind=end.kind,
            command=cluster.command(),
            port=end.port,
            url=end.url,
            health=postgres_check(cluster),
            restart=restart,
            cluster=cluster,
            dsn_role=end.db_role,
            dsn_db=end.db_name,
            before_start=cluster.init,
            on_ready=hooks.get(name),
        )

    def lab_server(
        name: str,
        module: str,
        env_file: Path,
        prefix: str | None = None,
        *,
        after: tuple[str, ...] = (),
        drop_env_prefixes: tuple[str, ...] = (),
    ) -> ServiceSpec:
        """One of the lab's own servers: restarted if it dies, settings in its env file."""
        end = ends[name]
        prefix = prefix or name.upper()
        return ServiceSpec(
            name=name,
            kind="http",
            command=Command(
                argv=[sys.executable, "-m", module],
                env={
                    f"{prefix}_ENV_FILE": str(env_file),
                    **as_environment(settings),
                    "BREAKFIX_STATE_DIR": str(paths.root),
                },
                drop_env_prefixes=drop_env_prefixes,
            ),
            port=end.port,
            url=end.url,
            health=http_check(f"{end.url}/healthz"),
            restart=True,
            depends_on=("ops-db", "target-db", "target", *after),
        )

    target = ends["target"]
    return [
        database("ops-db", restart=True),
        database("target-db", restart=False),
        ServiceSpec(
            name="db-proxy",
            kind="tcp",
            command=Command(
                argv=[sys.executable, "-m", "chaos_server.db_proxy"],
                env={
                    "DBPROXY_HOST": host,
                    "DBPROXY_LISTEN_PORT": str(ends["db-proxy"].port),
                    "DBPROXY_FALLBACK_PORT": str(settings.db_proxy_fallback_port),
                    "DBPROXY_ADMIN_PORT": str(settings.db_proxy_admin_port),
                    "DBPROXY_ADMIN_TOKEN_FILE": str(paths.secret(HOOKS_TOKEN)),
                    "DBPROXY_UPSTREAM_HOST": host,
                    "DBPROXY_UPSTREAM_PORT": str(ends["target-db"].port),
                },
            ),
            port=ends["db-proxy"].port,
            url=ends["db-proxy"].url,
            health=tcp_check(host, ends["db-proxy"].port),
            restart=False,
            depends_on=("target-db",),
        ),
        stub("primary"),
        stub("fallback"),
        ServiceSpec(
            name="target",
            kind=target.kind,
            command=Command(
                argv=[sys.executable, "-m", "target_server"],
                env={
                    "TARGET_ENV_FILE": str(paths.target_env),
                    "TARGET_HOST": host,
                    "TARGET_PORT": str(target.port),
                    # The target always traces: observability reads its spans' marks. An
                    # OTEL_SDK_DISABLED inherited from the caller (a shell, or a process that
                    # imported CrewAI, agent/crew/offline.py) silently turned them all off.
                    "OTEL_SDK_DISABLED": "false",
                },
                drop_env_prefixes=("TARGET_",),
            ),
            port=target.port,
            url=target.url,
            health=http_check(f"{target.url}/ready"),
            restart=False,
            depends_on=("db-proxy", "upstream-primary", "upstream-fallback"),
        ),
        lab_server("action", "action_server", paths.action_env),
        lab_server("chaos", "chaos_server", paths.chaos_env),
        *(
            [lab_server("observability", "observability", paths.observability_env, "OBS")]
            if settings.observability_enabled
            else []
        ),
        *(
            [
                lab_server(
                    "agent",
                    "agent",
                    paths.agent_env,
                    "AGENT",
                    after=("action", "observability"),
                    # its env file is its only source: no chaos or other service's settings
                    drop_env_prefixes=AGENT_DROPPED_ENV,
                )
            ]
            if agent_runs(settings)
            else []
        ),
        *(
            # reads ops-db and calls chaos (with the chaos key), the agent and observability
            # when they run; shows what is down instead of waiting for it
            [lab_server("console", "console", paths.env / "console.env", after=("chaos",))]
            if settings.console_enabled
            else []
        ),
    ]
