"""`python -m agent`: validate settings, then serve with uvicorn."""

import os
import sys

from agent.config import get_settings
from lab.serve import serve_service

# CrewAI, LlamaIndex, Chroma and the HF hub stay offline and silent (set before importing them).
for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("CREWAI_DISABLE_TELEMETRY", "true"),
    ("OTEL_SDK_DISABLED", "true"),
    ("CREWAI_TRACING_ENABLED", "false"),
    ("ANONYMIZED_TELEMETRY", "False"),
):
    os.environ.setdefault(_name, _value)


if __name__ == "__main__":
    sys.exit(
        serve_service(
            get_settings, "agent.main", quiet=("httpx", "chromadb", "sentence_transformers")
        )
    )
