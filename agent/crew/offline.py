"""Environment CrewAI and the embedding stack must see before they are imported.

Without these, a first run on a fresh HOME stalls about 5 s per agent on telemetry and
tracing, and exit does DNS look-ups (MACHINE-NOTES.md, "CrewAI offline"). The lab talks to
127.0.0.1 only, so they are set unconditionally.
"""

import importlib
import os
import warnings

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "ANONYMIZED_TELEMETRY": "False",
}


def set_offline_env() -> None:
    """Put the offline settings in the process environment (idempotent)."""
    os.environ.update(OFFLINE_ENV)


def import_crewai() -> None:
    """Import CrewAI once, offline. Its package sets a child module as an attribute of a
    frozen pydantic module object (crewai.rag), which Python reports as an ImportWarning;
    that one warning is not ours to fix, and warnings are errors under pytest."""
    set_offline_env()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Cannot set an attribute on 'crewai", category=ImportWarning
        )
        importlib.import_module("crewai")
