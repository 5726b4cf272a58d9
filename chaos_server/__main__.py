"""`python -m chaos_server`: validate settings, then serve with uvicorn."""

import sys

from chaos_server.config import get_settings
from lab.serve import serve_service

if __name__ == "__main__":
    sys.exit(serve_service(get_settings, "chaos_server.main"))
