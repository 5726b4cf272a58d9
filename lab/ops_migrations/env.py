"""Alembic environment for ops-db: online only, on the URL handed over by the caller."""

from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

database_url = context.config.attributes.get("database_url")
if not database_url:
    raise RuntimeError("lab.ops_db needs a database_url")

engine = create_engine(database_url, poolclass=NullPool, connect_args={"connect_timeout": 3})
try:
    with engine.connect() as connection:
        context.configure(connection=connection, transaction_per_migration=True)
        with context.begin_transaction():
            context.run_migrations()
finally:
    engine.dispose()
