"""`python -m observability`: validate settings, then serve with uvicorn."""

import logging
import sys

from fastapi import FastAPI

from action_server.redact import RedactingFormatter
from lab.serve import serve
from observability.config import Settings, get_settings


def _logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=settings.log_level.upper(), handlers=[handler])
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _app(settings: Settings) -> FastAPI:
    from observability.main import create_app

    return create_app(settings)


if __name__ == "__main__":
    sys.exit(serve(load=get_settings, configure_logging=_logging, build_app=_app))
