"""Environment CrewAI and the embedding stack must see before they are imported, and the
import of CrewAI itself, which is optional (the `llm` extra).

Without these settings, a first run on a fresh HOME stalls about 5 s per agent on telemetry
and tracing, and exit does DNS look-ups (MACHINE-NOTES.md, "CrewAI offline"). The lab talks to
127.0.0.1 only, so they are set unconditionally.
"""

import importlib
import importlib.util
import os
import warnings

from agent.crew.errors import LLMExtraMissing

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "ANONYMIZED_TELEMETRY": "False",
}
# what LLM mode imports: CrewAI and the SDKs of the providers it is configured for
LLM_EXTRA_MODULES = ("crewai", "openai", "google.genai")
LLM_EXTRA_HINT = (
    "the LLM crew needs the `llm` extra: pip install -e '.[llm]' in the repo "
    "(.venv/bin/pip there), or BREAKFIX_EXTRAS=llm make setup"
)


def set_offline_env() -> None:
    """Put the offline settings in the process environment (idempotent)."""
    os.environ.update(OFFLINE_ENV)


def llm_extra_installed() -> bool:
    """Whether CrewAI and the provider SDKs can be imported (nothing is imported)."""
    return all(_importable(name) for name in LLM_EXTRA_MODULES)


def import_crewai() -> None:
    """Import CrewAI once, offline; LLMExtraMissing when the `llm` extra is not installed.

    CrewAI's package sets a child module as an attribute of a frozen pydantic module object
    (crewai.rag), which Python reports as an ImportWarning; that one warning is not ours to
    fix, and warnings are errors under pytest."""
    if not llm_extra_installed():
        missing = [n for n in LLM_EXTRA_MODULES if not _importable(n)]
        raise LLMExtraMissing(f"{LLM_EXTRA_HINT} (not installed: {', '.join(missing)})")
    set_offline_env()
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore", message="Cannot set an attribute on 'crewai", category=ImportWarning
        )
        importlib.import_module("crewai")


def _importable(name: str) -> bool:
    try:  # find_spec of a submodule imports its parent, which may itself be missing
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False
