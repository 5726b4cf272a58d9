"""The chaos server's connection to ops-db."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from chaos_server.errors import StoreUnavailable

APP_NAME = "breakfix-chaos-ops"


class Store:
    """An engine and session factory on ops-db."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        self.engine: Engine = create_engine(
            database_url,
            pool_size=5,
            max_overflow=10,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 3, "application_name": APP_NAME},
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; an unreachable ops-db becomes a 503 `ops_db_unavailable`."""
        session = self._sessions()
        try:
            yield session
        except OperationalError as exc:
            session.rollback()
            raise StoreUnavailable("ops-db is unreachable") from exc
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
