"""Initialising the state dir and provisioning the databases: idempotent, run by `run`."""

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from lab.approvers import ensure_approvers
from lab.chaos_role import ensure_chaos_role
from lab.config import LabSettings, agent_runs
from lab.envfile import read_env, write_env
from lab.files import write_atomic
from lab.paths import SHIPPED_SCENARIOS, StatePaths
from lab.postgres import Cluster
from lab.secrets import ensure_secret, read_secret
from lab.services import (
    AGENT_ACTION_KEY,
    AGENT_APPROVERS,
    AGENT_INTAKE_TOKEN,
    APP_DB,
    APP_PASSWORD,
    APP_ROLE,
    CHAOS_KEY,
    CONSOLE_APPROVER,
    CONSOLE_OPERATOR_TOKEN,
    CONSOLE_VIEWER_TOKEN,
    CONTROL_TOKEN,
    FALLBACK_HOST,
    GAMEDAY_APPROVER,
    HOOKS_TOKEN,
    OPERATOR_APPROVER,
    OPS_DB,
    OPS_PASSWORD,
    OPS_ROLE,
    PRIMARY_HOST,
)

log = logging.getLogger("breakfix.provision")


def prepare_state(*, settings: LabSettings, paths: StatePaths) -> None:
    """Create the state layout, the secrets, the hosts file and the target's env file."""
    for directory in (
        paths.root,
        paths.logs,
        paths.run,
        paths.env,
        paths.target_cache,
        paths.traces,
    ):
        directory.mkdir(parents=True, exist_ok=True)
    paths.root.chmod(0o755)
    paths.secrets.mkdir(mode=0o700, exist_ok=True)
    for name in (CONTROL_TOKEN, APP_PASSWORD, OPS_PASSWORD, CHAOS_KEY, HOOKS_TOKEN):
        ensure_secret(paths.secret(name))
    for name in (AGENT_INTAKE_TOKEN, CONSOLE_OPERATOR_TOKEN, CONSOLE_VIEWER_TOKEN):
        ensure_secret(paths.secret(name), nbytes=32)
    ensure_approvers(
        paths.secret(AGENT_APPROVERS), (OPERATOR_APPROVER, GAMEDAY_APPROVER, CONSOLE_APPROVER)
    )
    # agent-action.key is created by the ops-db hook: it must be a key ops-db knows
    write_atomic(
        paths.hosts_file,
        "# Breakfix lab hosts file: the target resolves its upstreams through it.\n"
        f"{settings.host} {PRIMARY_HOST}\n{settings.host} {FALLBACK_HOST}\n",
    )
    for service in ENV_PREFIXES:
        sync_env(service, settings=settings, paths=paths)


EnvService = Literal["target", "action", "chaos", "observability", "agent", "console"]
ENV_PREFIXES: dict[EnvService, str] = {
    "target": "TARGET_",
    "action": "ACTION_",
    "chaos": "CHAOS_",
    "observability": "OBS_",
    "agent": "AGENT_",
    "console": "CONSOLE_",
}


def sync_env(
    service: EnvService,
    *,
    settings: LabSettings,
    paths: StatePaths,
    operator_env: Path = Path(".env"),
) -> None:
    """Set the lab-owned keys of a service's env file; keep every other key as it is.

    The service's keys of the operator's `.env` are copied in, but never over the lab's own.
    """
    prefix = ENV_PREFIXES[service]
    path = paths.env / f"{service}.env"
    if service == "target":
        managed, defaults = _target_keys(settings, paths)
    else:
        managed, defaults = _ops_service_keys(service, settings, paths)
    current = read_env(path)
    overrides = {k: v for k, v in read_env(operator_env).items() if k.startswith(prefix)}
    wanted = {**defaults, **current, **overrides, **managed}
    if wanted != current:
        write_env(path, wanted)


def _target_keys(settings: LabSettings, paths: StatePaths) -> tuple[dict[str, str], dict[str, str]]:
    """The target's keys: DB URL, paths and upstream addresses are the lab's.

    The DB URL goes through db-proxy's primary lane (route `primary`) or its fallback lane
    (`fallback`), as TARGET_DB_ROUTE says; switch-to-fallback flips it. Both lanes are
    network paths to target-db: a latency fault hits one, a partition both.
    """
    password = read_secret(paths.secret(APP_PASSWORD))
    route = read_env(paths.target_env).get("TARGET_DB_ROUTE", "primary")
    db_port = settings.db_proxy_fallback_port if route == "fallback" else settings.db_proxy_port
    managed = {
        "TARGET_ENVIRONMENT": "lab",
        "TARGET_DATABASE_URL": (
            f"postgresql+psycopg2://{APP_ROLE}:{password}@{settings.host}:{db_port}/{APP_DB}"
        ),
        "TARGET_CACHE_DIR": str(paths.target_cache),
        "TARGET_HOSTS_FILE": str(paths.hosts_file),
        "TARGET_FAULT_HOOKS_TOKEN_FILE": str(paths.secret(HOOKS_TOKEN)),
        "TARGET_TRACE_MARKS_FILE": str(paths.traces / "target.jsonl"),
        "TARGET_PRICING_PRIMARY_URL": f"http://{PRIMARY_HOST}:{settings.upstream_primary_port}",
        "TARGET_PRICING_FALLBACK_URL": f"http://{FALLBACK_HOST}:{settings.upstream_fallback_port}",
    }
    defaults = {
        "TARGET_PRICING_ROUTE": "primary",
        "TARGET_DB_ROUTE": "primary",
        "TARGET_CACHE_MAX_BYTES": str(64 * 2**20),
    }
    return managed, defaults


def _ops_service_keys(
    service: EnvService, settings: LabSettings, paths: StatePaths
) -> tuple[dict[str, str], dict[str, str]]:
    """An ops-db service's keys: its ops-db URL (with password) and address, then its own.

    The chaos server gets its key file and the hooks token; observability sends alerts to
    the agent's intake when the agent runs; the agent gets its state dir, intake token,
    approvers and act key files and where the action server and observability are, never
    the chaos key or hooks token.
    """
    prefix = ENV_PREFIXES[service]
    password = read_secret(paths.secret(OPS_PASSWORD))
    port = {
        "action": settings.action_port,
        "chaos": settings.chaos_port,
        "observability": settings.observability_port,
        "agent": settings.agent_port,
        "console": settings.console_port,
    }[service]
    managed = {
        f"{prefix}OPS_DB_URL": (
            f"postgresql+psycopg2://{OPS_ROLE}:{password}"
            f"@{settings.host}:{settings.ops_db_port}/{OPS_DB}"
        ),
        f"{prefix}HOST": settings.host,
        f"{prefix}PORT": str(port),
    }
    defaults: dict[str, str] = {}
    if service == "chaos":
        managed["CHAOS_KEY_FILE"] = str(paths.secret(CHAOS_KEY))
        managed["CHAOS_HOOKS_TOKEN_FILE"] = str(paths.secret(HOOKS_TOKEN))
        defaults["CHAOS_SCENARIO_DIR"] = str(SHIPPED_SCENARIOS)
    elif service == "observability" and agent_runs(settings):
        # alerts go to the agent's intake, with its token as a bearer
        managed["OBS_RECEIVERS"] = json.dumps(
            [f"http://{settings.host}:{settings.agent_port}/webhook/alertmanager"]
        )
        managed["OBS_RECEIVER_TOKEN_FILE"] = str(paths.secret(AGENT_INTAKE_TOKEN))
    elif service == "agent":
        managed |= {
            "AGENT_STATE_DIR": str(paths.root),
            "AGENT_INTAKE_TOKEN_FILE": str(paths.secret(AGENT_INTAKE_TOKEN)),
            "AGENT_APPROVERS_FILE": str(paths.secret(AGENT_APPROVERS)),
            "AGENT_ACTION_URL": f"http://{settings.host}:{settings.action_port}",
            "AGENT_ACTION_KEY_FILE": str(paths.secret(AGENT_ACTION_KEY)),
            "AGENT_OBSERVABILITY_URL": f"http://{settings.host}:{settings.observability_port}",
        }
    elif service == "console":
        # the console holds the chaos key and its approver token server-side; the browser
        # gets a session cookie, never either
        managed |= {
            "CONSOLE_STATE_DIR": str(paths.root),
            "CONSOLE_OPERATOR_TOKEN_FILE": str(paths.secret(CONSOLE_OPERATOR_TOKEN)),
            "CONSOLE_VIEWER_TOKEN_FILE": str(paths.secret(CONSOLE_VIEWER_TOKEN)),
            "CONSOLE_CHAOS_URL": f"http://{settings.host}:{settings.chaos_port}",
            "CONSOLE_CHAOS_KEY_FILE": str(paths.secret(CHAOS_KEY)),
            "CONSOLE_AGENT_URL": f"http://{settings.host}:{settings.agent_port}",
            "CONSOLE_APPROVERS_FILE": str(paths.secret(AGENT_APPROVERS)),
            "CONSOLE_OBSERVABILITY_URL": f"http://{settings.host}:{settings.observability_port}",
        }
    return managed, defaults


def ensure_agent_key(*, ops_url: str, key_file: Path) -> bool:
    """The agent's `act` key: kept while ops-db still honours it, else created (plaintext
    written 0600, only the hash stored). True when a new key was made."""
    from action_server.keys import Scope, ensure_key
    from action_server.store import Store

    store = Store(ops_url)
    try:
        with store.session() as session:
            _, made = ensure_key(session=session, key_file=key_file, name="agent", scope=Scope.act)
    finally:
        store.dispose()
    return made


def database_hooks(
    *, paths: StatePaths, clusters: dict[str, Cluster]
) -> dict[str, Callable[[], None]]:
    """What to do once each database is up: roles, databases, migrations, seed data."""

    def target_db() -> None:
        from target_server import migrations, seed

        password = read_secret(paths.secret(APP_PASSWORD))
        cluster = clusters["target-db"]
        cluster.ensure_database(role=APP_ROLE, password=password, dbname=APP_DB)
        url = cluster.dsn(role=APP_ROLE, password=password, dbname=APP_DB)
        migrations.upgrade(url)
        ensure_chaos_role(cluster, app_role=APP_ROLE, dbname=APP_DB)
        added = seed.seed(url)
        log.info("target-db provisioned: migrations at head, %d seed rows added", added)

    def ops_db() -> None:
        from lab import ops_db as schema

        password = read_secret(paths.secret(OPS_PASSWORD))
        cluster = clusters["ops-db"]
        cluster.ensure_database(role=OPS_ROLE, password=password, dbname=OPS_DB)
        url = cluster.dsn(role=OPS_ROLE, password=password, dbname=OPS_DB)
        schema.upgrade(url)
        if ensure_agent_key(ops_url=url, key_file=paths.secret(AGENT_ACTION_KEY)):
            log.info("agent act key created")
        log.info("ops-db provisioned: migrations at head")

    return {"target-db": target_db, "ops-db": ops_db}
