"""`python -m console`: validate settings, then serve with uvicorn."""

import sys

from console.config import get_settings
from lab.serve import serve_service

if __name__ == "__main__":
    sys.exit(serve_service(get_settings, "console.main"))
