"""rules.yml: the shipped alerting rules, and variants with shorter `for` for tests."""

import copy
from pathlib import Path
from typing import Any

import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parent.parent / "prometheus"
RULES_FILE = PROMETHEUS_DIR / "rules.yml"
RULES_TEST_FILE = PROMETHEUS_DIR / "rules_test.yml"


def load_rules(path: Path = RULES_FILE) -> dict[str, Any]:
    """The rule groups document."""
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def alert_names(rules: dict[str, Any]) -> list[str]:
    """Every alert name, in file order."""
    return [rule["alert"] for group in rules["groups"] for rule in group["rules"]]


def with_for(
    rules: dict[str, Any], duration: str, *, interval: str | None = None
) -> dict[str, Any]:
    """A copy whose every alert waits `duration` (and groups evaluate every `interval`)."""
    variant = copy.deepcopy(rules)
    for group in variant["groups"]:
        if interval is not None:
            group["interval"] = interval
        for rule in group["rules"]:
            if "alert" in rule:
                rule["for"] = duration
    return variant
