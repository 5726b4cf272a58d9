"""`python -m <service>`: validate settings first, then serve the app with uvicorn."""

import sys
from collections.abc import Callable
from importlib import import_module
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

from lab.redaction import configure_redacted_logging
from lab.settings_loading import ConfigurationError

EXIT_CONFIG = 2


class Listens(Protocol):
    host: str
    port: int
    log_level: str


S = TypeVar("S", bound=Listens)


def serve(
    *,
    load: Callable[[], S],
    configure_logging: Callable[[S], None],
    build_app: Callable[[S], FastAPI],
) -> int:
    """Run a service; exit code 2 and one line naming the variable when settings are invalid."""
    try:
        settings = load()
    except ConfigurationError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return EXIT_CONFIG
    configure_logging(settings)
    uvicorn.run(
        build_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )
    return 0


def serve_service(
    load: Callable[[], S],
    app_module: str,
    *,
    quiet: tuple[str, ...] = ("httpx", "apscheduler"),
) -> int:
    """`serve` for a lab server that logs through the redacting formatter and whose
    `app_module` has `create_app(settings)`, imported only once the settings are valid."""

    def _logging(settings: S) -> None:
        configure_redacted_logging(settings.log_level, quiet)

    def _app(settings: S) -> FastAPI:
        create_app: Callable[[S], FastAPI] = import_module(app_module).create_app
        return create_app(settings)

    return serve(load=load, configure_logging=_logging, build_app=_app)
