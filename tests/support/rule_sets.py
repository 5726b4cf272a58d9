"""Detector rule sets the observability tests share."""

from typing import Any

from observability.detector.rules import RuleFile, parse_rules


def target_down(**fields: Any) -> RuleFile:
    """One critical threshold rule, TargetDown: service_up == 0, summary "{service} down";
    `fields` add to it or replace its own."""
    rule = {
        "name": "TargetDown",
        "kind": "threshold",
        "metric": "service_up",
        "op": "==",
        "value": 0,
        "severity": "critical",
        "summary": "{service} down",
        **fields,
    }
    return parse_rules({"rules": [rule]})
