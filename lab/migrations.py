"""Driving an Alembic tree from code (no alembic.ini on disk): shared by ops-db and the target."""

from pathlib import Path

from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine
from sqlalchemy.pool import NullPool


class AlembicTree:
    """One migration tree; its env.py reads the URL from `config.attributes["database_url"]`."""

    def __init__(self, script_location: Path) -> None:
        self.script_location = script_location

    def _config(self, database_url: str | None = None) -> Config:
        cfg = Config()
        cfg.set_main_option("script_location", str(self.script_location))
        # An attribute, not a main option: ConfigParser would choke on '%' in passwords.
        cfg.attributes["database_url"] = database_url
        return cfg

    def upgrade(self, database_url: str, revision: str = "head") -> None:
        """Migrate the database up to `revision`."""
        command.upgrade(self._config(database_url), revision)

    def downgrade(self, database_url: str, revision: str) -> None:
        """Migrate the database down to `revision` (e.g. "-1" or "base")."""
        command.downgrade(self._config(database_url), revision)

    def head_revision(self) -> str:
        """The newest revision of the tree."""
        head = ScriptDirectory.from_config(self._config()).get_current_head()
        if head is None:
            raise RuntimeError(f"{self.script_location} has no head revision")
        return head

    def current_revision(self, database_url: str) -> str | None:
        """The revision recorded in the database, or None when it was never migrated."""
        engine = create_engine(
            database_url, poolclass=NullPool, connect_args={"connect_timeout": 3}
        )
        try:
            with engine.connect() as conn:
                return current_revision_of(conn)
        finally:
            engine.dispose()


def current_revision_of(connection: Connection) -> str | None:
    """The revision recorded in the database behind an open connection."""
    return MigrationContext.configure(connection).get_current_revision()


def run_online_migrations() -> None:
    """The body of a tree's env.py: migrate on the URL handed over by `AlembicTree`."""
    database_url = context.config.attributes.get("database_url")
    if not database_url:
        raise RuntimeError(f"{context.config.get_main_option('script_location')}: no database_url")
    engine = create_engine(database_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, transaction_per_migration=True)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()
