"""Alembic environment for ops-db: online only, on the URL handed over by the caller."""

from lab.migrations import run_online_migrations

run_online_migrations()
