"""`python -m target_server`: validate settings, then serve the API with uvicorn."""

import logging
import sys

from lab.serve import serve
from target_server.config import Settings, get_settings
from target_server.logs import configure_logging
from target_server.main import create_app


def _logging(settings: Settings) -> None:
    configure_logging(settings.log_level)
    logging.getLogger(__name__).info(
        "starting target", extra={"host": settings.host, "port": settings.port}
    )


def main() -> int:
    """Run the API; exit code 2 with a one-line message when settings are invalid."""
    return serve(load=get_settings, configure_logging=_logging, build_app=create_app)


if __name__ == "__main__":
    sys.exit(main())
