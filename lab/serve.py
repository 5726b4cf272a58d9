"""`python -m <service>`: validate settings first, then serve the app with uvicorn."""

import sys
from collections.abc import Callable
from typing import Protocol, TypeVar

import uvicorn
from fastapi import FastAPI

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
