"""The stack's config files, checked by the real tools: promtool, amtool, Prometheus's parser."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from lab.config import LabSettings
from observability.stack.alerting import agent_webhook_url, alertmanager_config
from observability.stack.files import DEFAULT_CHAOS_KEY, default_documents, dump, write_stack
from observability.stack.rules import (
    PROMETHEUS_DIR,
    RULES_FILE,
    RULES_TEST_FILE,
    alert_names,
    load_rules,
    with_for,
)
from observability.stack.scrape import Timing
from tests.support.system_binaries import require_binary


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool, from the Debian package prometheus."""
    return require_binary("promtool", package="prometheus")


@pytest.fixture(scope="module")
def amtool() -> str:
    """amtool, from the Debian package prometheus-alertmanager."""
    return require_binary("amtool", package="prometheus-alertmanager")


def run(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=cwd)
    assert result.returncode == 0, f"{' '.join(argv)}:\n{result.stdout}\n{result.stderr}"
    return result


def test_the_shipped_rules_pass_promtool_check_and_their_unit_tests(promtool: str) -> None:
    out = run(promtool, "check", "rules", str(RULES_FILE)).stdout
    assert f"{len(alert_names(load_rules()))} rules found" in out
    # Each alert fires on its fault's series and stays quiet on normal ones (rules_test.yml).
    run(promtool, "test", "rules", RULES_TEST_FILE.name, cwd=PROMETHEUS_DIR)


def test_every_alert_is_unit_tested_and_labelled_for_the_agent() -> None:
    tested = {
        case["alertname"]
        for test in yaml.safe_load(RULES_TEST_FILE.read_text())["tests"]
        for case in test["alert_rule_test"]
        if case.get("exp_alerts")
    }
    names = alert_names(load_rules())
    assert len(names) == len(set(names))
    assert set(names) == tested
    for group in load_rules()["groups"]:
        for rule in group["rules"]:
            assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
            assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
    # The unit tests pin every alert's labels: each names the service the agent should fix.
    for test in yaml.safe_load(RULES_TEST_FILE.read_text())["tests"]:
        for case in test["alert_rule_test"]:
            for alert in case.get("exp_alerts") or []:
                assert alert["exp_labels"].get("service"), case["alertname"]


def test_every_detector_rule_has_a_promql_twin_of_the_same_name_and_severity() -> None:
    detector = yaml.safe_load((PROMETHEUS_DIR.parent / "rules.yaml").read_text())["rules"]
    ours = {rule["alert"]: rule for group in load_rules()["groups"] for rule in group["rules"]}
    for rule in detector:
        assert rule["name"] in ours, f"no PromQL equivalent of detector rule {rule['name']}"
        assert ours[rule["name"]]["labels"]["severity"] == rule["severity"], rule["name"]
    # Beyond the detector: what only Prometheus sees (its scrape of the target, upstream calls).
    assert set(ours) - {r["name"] for r in detector} == {"TargetDown", "UpstreamErrors"}


def test_the_shipped_files_are_what_the_generator_writes() -> None:
    for name, text in default_documents().items():
        assert (PROMETHEUS_DIR / name).read_text() == text, (
            f"{name} is stale: run python -m observability.stack defaults"
        )


def test_the_shipped_prometheus_config_is_valid_where_the_default_state_dir_is(
    tmp_path: Path, promtool: str
) -> None:
    # Its chaos key path is relative to observability/prometheus/, pointing at .breakfix/.
    home = tmp_path / "observability" / "prometheus"
    home.mkdir(parents=True)
    for name in ("prometheus.yml", "rules.yml"):
        shutil.copy(PROMETHEUS_DIR / name, home / name)
    key = (home / DEFAULT_CHAOS_KEY).resolve()
    key.parent.mkdir(parents=True)
    key.write_text("k\n")
    out = run(promtool, "check", "config", "prometheus.yml", cwd=home).stdout
    assert f"SUCCESS: {len(alert_names(load_rules()))} rules found" in out
    # Without a state dir the syntax is still checked.
    run(promtool, "check", "config", "--syntax-only", str(PROMETHEUS_DIR / "prometheus.yml"))


def test_the_shipped_alertmanager_config_routes_everything_to_the_agent(amtool: str) -> None:
    out = run(amtool, "check-config", str(PROMETHEUS_DIR / "alertmanager.yml")).stdout
    assert "SUCCESS" in out
    config = yaml.safe_load((PROMETHEUS_DIR / "alertmanager.yml").read_text())
    receivers = {r["name"]: r for r in config["receivers"]}
    hook = receivers[config["route"]["receiver"]]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:8002/webhook/alertmanager"  # the agent's intake
    assert hook["send_resolved"] is True
    # the agent refuses a webhook without its intake token (the default state dir's)
    token = hook["http_config"]["authorization"]["credentials_file"]
    assert token == "../../.breakfix/secrets/agent-intake.token"
    assert "routes" not in config["route"]  # nothing is routed anywhere else


def test_a_rendering_for_other_ports_is_valid_and_uses_them(
    tmp_path: Path, promtool: str, amtool: str
) -> None:
    key = tmp_path / "secrets" / "chaos.key"
    key.parent.mkdir()
    key.write_text("k\n")
    token = tmp_path / "secrets" / "agent.token"
    token.write_text("t\n")
    settings = LabSettings.model_construct(
        target_port=18000, action_port=19000, chaos_port=18001, observability_port=19100
    )
    files = write_stack(
        tmp_path / "stack",
        settings=settings,
        chaos_key_file=key,
        webhook_url=agent_webhook_url(port=18002, path="/hooks/alerts"),
        alertmanagers=["127.0.0.1:19093"],
        timing=Timing(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s"),
        rules=with_for(load_rules(), "2s", interval="1s"),
        webhook_credentials=token,
    )
    run(promtool, "check", "config", str(files.prometheus))
    run(amtool, "check-config", str(files.alertmanager))
    config = yaml.safe_load(files.prometheus.read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"][0] for job in config["scrape_configs"]
    }
    assert targets == {
        "target": "127.0.0.1:18000",
        "action": "127.0.0.1:19000",
        "chaos": "127.0.0.1:18001",
        "observability": "127.0.0.1:19100",
    }
    chaos = next(j for j in config["scrape_configs"] if j["job_name"] == "chaos")
    assert chaos["authorization"]["credentials_file"] == str(key)
    rules = yaml.safe_load(files.rules.read_text())
    assert {r["for"] for g in rules["groups"] for r in g["rules"]} == {"2s"}
    assert {g["interval"] for g in rules["groups"]} == {"1s"}
    am = yaml.safe_load(files.alertmanager.read_text())
    hook = am["receivers"][0]["webhook_configs"][0]
    assert hook["url"] == "http://127.0.0.1:18002/hooks/alerts"
    assert hook["http_config"]["authorization"]["credentials_file"] == str(token)


@pytest.mark.parametrize("bad", ["not a url", "ftp://x"])
def test_amtool_refuses_a_broken_receiver_so_the_check_means_something(
    tmp_path: Path, bad: str, amtool: str
) -> None:
    path = tmp_path / "am.yml"
    path.write_text(dump(alertmanager_config(bad)))
    result = subprocess.run(
        [amtool, "check-config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
