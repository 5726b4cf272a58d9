"""The PromQL rules and their promtool tests are generated from observability/rules.yaml."""

import subprocess
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

from observability.detector.rules import RuleFile, load_rules, parse_rules
from observability.prometheus_rules.__main__ import main
from observability.prometheus_rules.annotations import go_template
from observability.prometheus_rules.generate import (
    RULES_YAML,
    promtool_tests_text,
    rules_text,
    stale,
    stretch_for,
)
from observability.prometheus_rules.promql import duration
from observability.stack.rules import RULES_FILE, RULES_TEST_FILE
from tests.support.system_binaries import require_binary


def test_the_committed_files_are_what_the_generator_writes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--check"]) == 0, capsys.readouterr().out  # stale: <path> (run <command>)


def test_a_detector_change_not_regenerated_leaves_both_files_stale(tmp_path: Path) -> None:
    document = yaml.safe_load(RULES_YAML.read_text())
    first = document["rules"][0]
    first["for_s"] = first.get("for_s", 0) + 1
    changed = tmp_path / "rules.yaml"
    changed.write_text(yaml.safe_dump(document))
    assert stale(changed) == [RULES_FILE, RULES_TEST_FILE]


def test_every_detector_rule_has_exactly_one_alert_of_its_name_severity_labels_and_for() -> None:
    rule_file = load_rules(RULES_YAML)
    stretch = stretch_for(rule_file)
    shipped = yaml.safe_load(RULES_FILE.read_text())["groups"]
    alerts = [alert for group in shipped for alert in group["rules"]]
    counts = Counter(alert["alert"] for alert in alerts)
    by_name = {alert["alert"]: alert for alert in alerts}
    for rule in rule_file.rules:
        assert counts[rule.name] == 1, rule.name
        alert = by_name[rule.name]
        assert alert["labels"] == {"severity": rule.severity, **rule.labels}, rule.name
        assert alert["for"] == duration(stretch.seconds(rule.for_s)), rule.name
        assert alert["keep_firing_for"] == duration(stretch.seconds(rule_file.keep_firing_for_s))


@pytest.mark.parametrize(
    ("template", "refused"),
    [("{value:,.2f}", "format spec ',.2f'"), ("{value!r}", "{value!r}"), ("{service:>9}", "spec")],
)
def test_a_template_prometheus_cannot_render_is_refused_naming_the_rule(
    template: str, refused: str
) -> None:
    rule = _rules(
        [{"name": "Odd", "kind": "threshold", "metric": "m", "op": ">", "value": 1, "summary": "s"}]
    )
    with pytest.raises(ValueError, match="rule Odd") as caught:
        go_template(template, rule.rules[0], stretch_for(rule))
    assert refused in str(caught.value)


# Every kind, op and option the detector accepts, beyond what rules.yaml uses today.
EVERY_KIND: list[dict[str, Any]] = [
    {
        "kind": "threshold",
        "op": ">=",
        "value": 2.5,
        "for_s": 2,
        "labels": {"team": "db"},
        "summary": "{service} {value:+.2e} over {threshold} for {for_s:.0f}s, {window_s}",
    },
    {"kind": "threshold", "op": "!=", "value": 1, "services": ["a", "b.c"]},
    {
        "kind": "threshold",
        "op": "<",
        "value": -3,
        "match": {"pool": "main"},
        "summary": "{labels[pool]} at {value:.1f} {{literal braces}}",
    },
    {
        "kind": "ratio",
        "op": "<=",
        "value": 0.25,
        "window_s": 4,
        "summary": "{value:8.1%} of {window_s:.0f}s",
    },
    {
        "kind": "ratio",
        "op": ">",
        "value": 0.5,
        "window_s": 3,
        "min_samples": 2,
        "denominator": "total",
        "services": ["a"],
        "for_s": 1,
        "summary": "{value:.0%}",
    },
    {
        "kind": "quantile",
        "q": 0.9,
        "op": ">",
        "value": 2,
        "window_s": 5,
        "min_samples": 4,
        "services": ["a", "b"],
        "summary": "p90 {value:g}",
    },
    {
        "kind": "k_of_n",
        "k": 1,
        "n": 3,
        "op": ">",
        "value": 0.5,
        "for_s": 1,
        "summary": "{value:.0f} of {n:.0f} (k={k:.0f})",
    },
    {"kind": "k_of_n", "k": 4, "n": 4, "summary": "{value:.0f} failed"},
    {"kind": "increase", "op": ">", "value": 5, "window_s": 4, "summary": "+{value:.0f}"},
    {
        "kind": "increase",
        "op": "<",
        "value": -2,
        "window_s": 2,
        "counter": False,
        "summary": "{value:.0f} in {window_s:.0f}s",
    },
    {
        "kind": "baseline",
        "direction": "rise",
        "fraction": 0.5,
        "tau_s": 30,
        "summary": "{value:.1f} against {baseline:.1f}",
    },
    {
        "kind": "baseline",
        "direction": "drop",
        "amount": 10,
        "tau_s": 120,
        "min_baseline": 40,
        "match": {"table": "t"},
        "summary": "{labels[table]} {value:.0f} < {baseline:.2e}",
    },
]


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, from the Debian package prometheus."""
    return require_binary("promtool", package="prometheus")


def test_the_generated_tests_of_every_kind_pass_promtool(tmp_path: Path, promtool: str) -> None:
    entries = [
        {"name": f"Rule{i}", "metric": f"m{i}", "summary": "s", **entry}
        for i, entry in enumerate(EVERY_KIND)
    ]
    rule_file = _rules(entries, keep_firing_for_s=3)
    (tmp_path / "rules.yml").write_text(rules_text(rule_file))
    (tmp_path / "rules_test.yml").write_text(promtool_tests_text(rule_file))
    for argv in (["check", "rules", "rules.yml"], ["test", "rules", "rules_test.yml"]):
        done = subprocess.run(
            [promtool, *argv], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"promtool {' '.join(argv)}:\n{done.stdout}{done.stderr}"


def _rules(entries: list[dict[str, Any]], **options: float) -> RuleFile:
    return parse_rules({**options, "rules": entries}, "test-rules")
