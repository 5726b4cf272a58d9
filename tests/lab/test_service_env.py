"""The environment the supervisor gives a service: what it inherits and what it is forced to."""

import dataclasses
import sys
from pathlib import Path

import pytest

from lab.config import LabSettings
from lab.paths import StatePaths
from lab.process import spawn
from lab.services import build_specs, clusters

RECORDS = (
    "from opentelemetry.sdk.trace import TracerProvider\n"
    "span = TracerProvider().get_tracer('t').start_span('s')\n"
    "print('recording' if span.is_recording() else 'not recording')\n"
)


def test_the_target_traces_even_when_its_caller_disabled_opentelemetry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Regression: a test process that had imported CrewAI (which sets OTEL_SDK_DISABLED=true,
    agent/crew/offline.py) started labs whose target recorded no span, so every trace
    feature the agent diagnoses with was missing from those labs' evidence."""
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    settings = LabSettings(state_dir=tmp_path)
    paths = StatePaths.at(tmp_path)
    specs = build_specs(settings=settings, paths=paths, dbs=clusters(settings, paths), hooks={})
    target = next(s for s in specs if s.name == "target")
    # The target's own command line needs the whole lab; its environment is what is tested.
    probe = dataclasses.replace(target.command, argv=[sys.executable, "-c", RECORDS])
    log = tmp_path / "probe.log"
    assert spawn(probe, log_path=log).wait(timeout=60) == 0
    assert log.read_text().strip() == "recording"
