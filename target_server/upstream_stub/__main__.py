"""`python -m target_server.upstream_stub`: serve the stub (UPSTREAM_NAME/HOST/PORT,
UPSTREAM_CONTROL_TOKEN_FILE for its fault controls)."""

import os
import sys
from pathlib import Path

import uvicorn

from target_server.logs import configure_logging
from target_server.upstream_stub.app import create_app


def main() -> int:
    """Run one pricing stub; exit code 2 when UPSTREAM_PORT is not a port number."""
    name = os.environ.get("UPSTREAM_NAME", "primary")
    host = os.environ.get("UPSTREAM_HOST", "127.0.0.1")
    raw_port = os.environ.get("UPSTREAM_PORT", "8010")
    if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
        sys.stderr.write(f"configuration error: UPSTREAM_PORT: not a port number: {raw_port}\n")
        return 2
    token_file = os.environ.get("UPSTREAM_CONTROL_TOKEN_FILE")  # unset: no controls
    configure_logging(os.environ.get("UPSTREAM_LOG_LEVEL", "INFO"))
    app = create_app(name, Path(token_file) if token_file else None)
    uvicorn.run(app, host=host, port=int(raw_port), log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
