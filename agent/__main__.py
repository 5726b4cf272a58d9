"""`python -m agent`: validate settings, then serve with uvicorn."""

import os
import sys

from fastapi import FastAPI

from agent.config import Settings, get_settings
from lab.redaction import configure_redacted_logging
from lab.serve import serve

# CrewAI, LlamaIndex, Chroma and the HF hub stay offline and silent (set before importing them).
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("CREWAI_DISABLE_TELEMETRY", "true"),
    ("OTEL_SDK_DISABLED", "true"),
    ("CREWAI_TRACING_ENABLED", "false"),
    ("ANONYMIZED_TELEMETRY", "False"),
):
    os.environ.setdefault(_name, _value)


def _logging(settings: Settings) -> None:
    configure_redacted_logging(
        settings.log_level, quiet=("httpx", "chromadb", "sentence_transformers")
    )


def _app(settings: Settings) -> FastAPI:
    from agent.main import create_app

    return create_app(settings)


if __name__ == "__main__":
    sys.exit(serve(load=get_settings, configure_logging=_logging, build_app=_app))
