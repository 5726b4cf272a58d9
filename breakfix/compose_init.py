"""The one-shot `init` container of the lab on Docker Compose.

`python -m breakfix.compose_init` runs after both databases are healthy (its secret files
come from breakfix.compose_secrets): the state dir's layout, env files, hosts file and Prometheus
configs, then roles, migrations, seed data and the agent's act key, as the supervisor's
database hooks do. Each container sees only the secrets Compose gives it: the state dir's
`secrets` holds links into `/run/secrets`, resolved inside each container.
"""

import logging
import os
import sys
from pathlib import Path

from breakfix.provision import ENV_PREFIXES, database_hooks, prepare_state, sync_env
from lab import ops_db as ops_schema
from lab.config import LabSettings
from lab.files import write_atomic
from lab.paths import StatePaths
from lab.postgres import SUPERUSER, set_role_password
from lab.secrets import read_secret
from lab.services import (
    AGENT_ACTION_KEY,
    APP_PASSWORD,
    OPS_DB,
    OPS_PASSWORD,
    OPS_ROLE,
    TARGET_DB_ADMIN_PASSWORD,
    clusters,
)
from observability.stack.files import for_lab

log = logging.getLogger("breakfix.compose_init")
RUN_SECRETS = Path("/run/secrets")


def link_secrets(paths: StatePaths, source: Path = RUN_SECRETS) -> None:
    """The state dir's `secrets`: a link per secret file to the container's own mount (it
    resolves only where Compose gives that secret), except the app password, copied once.

    The action server rotates the app password (regenerate-env) and the chaos server resets it
    (db-auth-failure's revert): both need one writable copy, which a read-only secret mount is
    not. After a rotation the live password is this copy, not `.compose/secrets`.
    """
    if paths.secrets.is_symlink():  # the layout of an earlier version: one link to the mount
        paths.secrets.unlink()
    paths.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    for mounted in sorted(source.iterdir()):
        name, here = mounted.name, paths.secret(mounted.name)
        if name == APP_PASSWORD:
            if not here.exists():
                write_atomic(here, mounted.read_text(), mode=0o600)
        elif not here.is_symlink():
            here.unlink(missing_ok=True)
            here.symlink_to(mounted)


def adopt_agent_key(*, ops_url: str, key_file: Path) -> bool:
    """Record the hash of the agent's act key (made by `secrets`); True when newly adopted."""
    from action_server.keys import Scope, adopt_key
    from action_server.store import Store

    store = Store(ops_url)
    try:
        with store.session() as session:
            return adopt_key(
                session=session, plaintext=read_secret(key_file), name="agent", scope=Scope.act
            )
    finally:
        store.dispose()


def initialise(settings: LabSettings) -> None:
    """Everything `breakfix run` prepares before and after the databases start."""
    paths = StatePaths.at(settings.state_dir)
    link_secrets(paths)
    prepare_state(settings=settings, paths=paths)
    # The operator's overrides (`make run` reads `.env` in the checkout; so does this)
    operator_env = Path(os.environ.get("BREAKFIX_OPERATOR_ENV", "/opt/breakfix/.env"))
    for service in ENV_PREFIXES:
        sync_env(service, settings=settings, paths=paths, operator_env=operator_env)
    for_lab(settings, paths.root / "prometheus", agent_port=settings.agent_port)
    dbs = clusters(settings, paths)
    for cluster in dbs.values():
        cluster.wait_ready(timeout=settings.health_timeout_s)
    database_hooks(paths=paths, clusters=dbs)["target-db"]()
    # The action server administers target-db over TCP (snapshots with pg_dump/pg_restore over
    # the network): the superuser's password, from the secret only that server is given.
    conn = dbs["target-db"].connect()
    try:
        password = read_secret(paths.secret(TARGET_DB_ADMIN_PASSWORD))
        set_role_password(conn, role=SUPERUSER, password=password)
    finally:
        conn.close()
    # ops-db as the supervisor's hook, but the agent's key comes from its read-only secret
    ops, password = dbs["ops-db"], read_secret(paths.secret(OPS_PASSWORD))
    ops.ensure_database(role=OPS_ROLE, password=password, dbname=OPS_DB)
    url = ops.dsn(role=OPS_ROLE, password=password, dbname=OPS_DB)
    ops_schema.upgrade(url)
    if adopt_agent_key(ops_url=url, key_file=paths.secret(AGENT_ACTION_KEY)):
        log.info("agent act key adopted")
    # Every container reads the state dir; the services run as root, the databases do not.
    for directory in (paths.root, paths.env):
        directory.chmod(0o755)
    log.info("compose lab initialised in %s", paths.root)


def main() -> int:
    """Run the init container's work (the venv is installed by deploy/compose/init.sh)."""
    logging.basicConfig(level=os.environ.get("BREAKFIX_LOG_LEVEL", "INFO"))
    initialise(LabSettings())
    return 0


if __name__ == "__main__":
    sys.exit(main())
