"""Alembic migrations of the shop schema, driven from code (no alembic.ini on disk)."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool

_SCRIPT_LOCATION = Path(__file__).resolve().parent


def _config(database_url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_SCRIPT_LOCATION))
    # Passed as an attribute, not a main option: ConfigParser would choke on '%' in passwords.
    cfg.attributes["database_url"] = database_url
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    command.upgrade(_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    """Migrate the database down to `revision` (e.g. "-1" or "base")."""
    command.downgrade(_config(database_url), revision)


def head_revision() -> str:
    """The newest revision shipped with this package."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    if head is None:
        raise RuntimeError("the migration tree has no head revision")
    return head


def current_revision(database_url: str) -> str | None:
    """The revision recorded in the database, or None when it was never migrated."""
    engine = create_engine(database_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as conn:
            return current_revision_of(conn)
    finally:
        engine.dispose()


def current_revision_of(connection: Connection) -> str | None:
    """The revision recorded in the database behind an open connection."""
    return MigrationContext.configure(connection).get_current_revision()
