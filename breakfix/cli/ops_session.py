"""A session on ops-db for the CLI, with the credentials the lab keeps in its state dir.

Every way it cannot be had ends the command with exit 1 and one line saying why (never a
traceback, never the DSN): no lab state here, ops-db not reachable, tables not there yet.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from lab.config import get_settings
from lab.envfile import read_env
from lab.ops_store import OpsStore
from lab.paths import StatePaths

err = Console(stderr=True, soft_wrap=True)
UNDEFINED_TABLE = "42P01"


def _action_store(url: str) -> OpsStore:
    from action_server.store import Store

    return Store(url)


def ops_url() -> str:
    """ops-db's URL as the lab wrote it into its state dir; exit 1 saying so when it has not."""
    url = read_env(StatePaths.at(get_settings().state_dir).action_env).get("ACTION_OPS_DB_URL")
    if url is None:
        err.print("[bold red]error:[/] no lab state here: run `make run` first")
        raise typer.Exit(1)
    return url


@contextmanager
def ops_session(
    make_store: Callable[[str], OpsStore] = _action_store, *, tables: str = "its"
) -> Iterator[Session]:
    """A session from `make_store(url)`; `tables` names what is missing when a table is."""
    store = make_store(ops_url())
    try:
        with store.session() as session:
            yield session
    except store.unavailable:
        err.print("[bold red]error:[/] ops-db is not reachable: is the lab running (`make run`)?")
        raise typer.Exit(1) from None
    except ProgrammingError as exc:
        if getattr(exc.orig, "pgcode", None) != UNDEFINED_TABLE:
            raise
        err.print(f"[bold red]error:[/] ops-db has no {tables} tables yet: run `make run` once")
        raise typer.Exit(1) from None
    finally:
        store.dispose()
