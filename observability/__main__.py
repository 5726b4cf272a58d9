"""`python -m observability`: validate settings, then serve with uvicorn."""

import sys

from lab.serve import serve_service
from observability.config import get_settings

if __name__ == "__main__":
    sys.exit(serve_service(get_settings, "observability.main"))
