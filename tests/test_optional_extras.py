"""The lab without its optional extras (`llm`: CrewAI and the provider SDKs; `supabase`).

CI installs both so their own tests run; this checks, in a fresh interpreter where they are
hidden (None in sys.modules: any import of them fails as if not installed), that every module
of the lab imports except the crew's own, that asking for the crew says how to install it,
that the agent built in llm mode runs on in deterministic mode, and that a configured Supabase
sink names its extra. No lab needed.
"""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HIDDEN = ["crewai", "openai", "google.genai", "supabase"]
# the modules that are the LLM crew itself: they import CrewAI
NEEDS_LLM = {"agent.crew.crew", "agent.crew.llm", "agent.crew.runner", "agent.crew.tools"}
NEEDS_LLM |= {"agent.crew.usage"}
PACKAGES = [
    "lab", "target_server", "action_server", "chaos_server", "observability", "agent",
    "knowledge", "gameday", "console", "mcp_gateway", "breakfix",
]  # fmt: skip

SCRIPT = """
import importlib, json, logging, pkgutil, sys, tempfile
from pathlib import Path
for name in HIDDEN:
    sys.modules[name] = None
imported, failed = [], {}
for package in PACKAGES:
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        # alembic's env scripts run inside alembic only; __main__ runs a program
        if info.name in NEEDS_LLM or info.name.endswith(("__main__", ".migrations.env")):
            continue
        try:
            importlib.import_module(info.name)
            imported.append(info.name)
        except Exception as exc:
            failed[info.name] = f"{type(exc).__name__}: {exc}"
out = {"imported": len(imported), "failed": failed}

import agent.crew
try:
    agent.crew.CrewRunner
except ImportError as exc:
    out["crew"] = f"{type(exc).__name__}: {exc}"

from agent.config import Settings
from agent.pipeline import build_pipeline
records = []
logging.getLogger("agent.pipeline").addHandler(logging.Handler())
logging.getLogger("agent.pipeline").handlers[-1].emit = records.append
tmp = Path(tempfile.mkdtemp())
(tmp / "key").write_text("unused")
settings = Settings(
    _env_file=None, ops_db_url="postgresql://unused@127.0.0.1:1/unused",
    intake_token_file=tmp / "key", action_key_file=tmp / "key", state_dir=tmp / "state",
    mode="llm", llm_model="m", llm_base_url="http://127.0.0.1:9/v1",
)
pipeline = build_pipeline(settings, None, knowledge=object())
out["pipeline_crew"] = repr(pipeline.crew)
out["pipeline_log"] = [r.getMessage() for r in records]

from observability.config import Settings as ObsSettings
from observability.sinks.supabase import build_supabase_sink
obs = ObsSettings(
    _env_file=None, ops_db_url="postgresql://x@127.0.0.1:1/x",
    supabase_url="http://127.0.0.1:9", supabase_key_file=tmp / "key",
)
try:
    build_supabase_sink(obs, ops_store=None)
except ImportError as exc:
    out["sink"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""


def test_the_lab_imports_and_runs_deterministic_without_the_optional_extras() -> None:
    constants = f"HIDDEN = {HIDDEN!r}\nPACKAGES = {PACKAGES!r}\nNEEDS_LLM = {sorted(NEEDS_LLM)!r}\n"
    done = subprocess.run(
        [sys.executable, "-c", constants + SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])

    assert out["failed"] == {}
    assert out["imported"] > 100
    assert out["crew"].startswith("LLMExtraMissing: the LLM crew needs the `llm` extra")
    assert "pip install -e '.[llm]'" in out["crew"]
    assert out["pipeline_crew"] == "None"  # llm mode asked for, deterministic given
    assert any(
        "AGENT_MODE=llm" in m and ".[llm]" in m and "deterministic mode" in m
        for m in out["pipeline_log"]
    ), out["pipeline_log"]
    assert out["sink"].startswith("SinkExtraMissing: OBS_SUPABASE_URL is set")
    assert "pip install -e '.[supabase]'" in out["sink"]
