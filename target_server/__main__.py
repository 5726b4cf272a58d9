"""`python -m target_server`: validate settings, then serve the API with uvicorn."""

import logging
import sys

import uvicorn

from target_server.config import ConfigurationError, get_settings
from target_server.logs import configure_logging
from target_server.main import create_app

EXIT_CONFIG = 2


def main() -> int:
    """Run the API; exit code 2 with a one-line message when settings are invalid."""
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return EXIT_CONFIG
    configure_logging(settings.log_level)
    logging.getLogger(__name__).info(
        "starting target", extra={"host": settings.host, "port": settings.port}
    )
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
