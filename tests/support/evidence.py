"""Evidence recorded from a live lab (tests/agent/fixtures/evidence/, written by
scripts/record_evidence.py), read back as documents and as the agent's Perception."""

import json
from pathlib import Path
from typing import Any

from agent.model import Perception
from agent.perceive import perception_of

EVIDENCE = Path(__file__).parent.parent / "agent" / "fixtures" / "evidence"


def recorded(name: str) -> dict[str, Any]:
    """One recorded fixture: meta, alerts, snapshot, evidence (120 s) and recent (30 s)."""
    document: dict[str, Any] = json.loads((EVIDENCE / f"{name}.json").read_text())
    return document


def fixture_names() -> list[str]:
    """Every recorded sample (`<fault>` and `<fault>.late`), undetected runs left out."""
    return sorted(
        p.name.removesuffix(".json")
        for p in EVIDENCE.glob("*.json")
        if not p.name.endswith(".undetected.json")
    )


def load_perception(name: str) -> Perception:
    """The Perception the agent would have built from that recording."""
    document = recorded(name)
    evidence = dict(document["evidence"])
    if "recent" in document:
        evidence["recent"] = document["recent"]
    return perception_of(document["alerts"], document["snapshot"], evidence)
