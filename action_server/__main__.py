"""`python -m action_server`: validate settings, then serve with uvicorn."""

import logging
import sys

import uvicorn

from action_server.config import get_settings
from lab.settings_loading import ConfigurationError

EXIT_CONFIG = 2


def main() -> int:
    """Run the action server; exit code 2 with a one-line message when settings are invalid."""
    try:
        settings = get_settings()
    except ConfigurationError as exc:
        sys.stderr.write(f"configuration error: {exc}\n")
        return EXIT_CONFIG
    logging.basicConfig(
        level=settings.log_level.upper(),
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("httpx", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from action_server.main import create_app

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
