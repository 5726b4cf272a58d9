"""`python -m chaos_server`: validate settings, then serve with uvicorn."""

import sys

from fastapi import FastAPI

from chaos_server.config import Settings, get_settings
from lab.redaction import configure_redacted_logging
from lab.serve import serve


def _logging(settings: Settings) -> None:
    configure_redacted_logging(settings.log_level)


def _app(settings: Settings) -> FastAPI:
    from chaos_server.main import create_app

    return create_app(settings)


if __name__ == "__main__":
    sys.exit(serve(load=get_settings, configure_logging=_logging, build_app=_app))
