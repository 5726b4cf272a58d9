"""A service's connection to ops-db: one engine, sessions, and a clear error when it is down."""

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker


class OpsStore:
    """An engine and session factory on ops-db; `unavailable` is raised when it is down."""

    def __init__(
        self, database_url: str, *, application_name: str, unavailable: type[Exception]
    ) -> None:
        self.url = database_url
        self.engine: Engine = create_engine(
            database_url,
            pool_size=5,
            max_overflow=10,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 3, "application_name": application_name},
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._unavailable = unavailable

    @property
    def unavailable(self) -> type[Exception]:
        """What `session` raises when ops-db cannot be reached."""
        return self._unavailable

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session; an unreachable ops-db becomes the service's `unavailable` error."""
        session = self._sessions()
        try:
            yield session
        except OperationalError as exc:
            session.rollback()
            raise self._unavailable("ops-db is unreachable; nothing was done") from exc
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
