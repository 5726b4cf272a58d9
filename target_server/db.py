"""The SQLAlchemy engine and session factory built from settings (nothing connects here)."""

from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from target_server.config import Settings

CONNECT_TIMEOUT_S = 3


def build_engine(settings: Settings) -> Engine:
    """A pooled engine; connect and statement timeouts keep a sick database from hanging us."""
    return create_engine(
        settings.database_url.get_secret_value(),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=settings.db_pool_pre_ping,
        # Errors must name the problem, never echo a DSN: hide_parameters keeps values out.
        hide_parameters=True,
        connect_args={
            "application_name": settings.db_application_name,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "options": f"-c statement_timeout={settings.db_statement_timeout_ms}",
        },
    )


def build_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (responses read them)."""
    return sessionmaker(bind=engine, expire_on_commit=False)
