"""docker-compose.yml, checked structurally (no engine): one container per lab service."""

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.config import LabSettings
from lab.services import endpoints

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    """The Compose file as data (anchors and merge keys resolved by PyYAML)."""
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return document


def test_every_lab_service_is_a_container(spec: dict[str, Any]) -> None:
    services = spec["services"]
    lab = set(endpoints(LabSettings.model_construct()))
    assert lab <= set(services), lab - set(services)
    assert {"prometheus", "alertmanager", "init"} <= set(services)
    for name in lab | {"prometheus", "alertmanager"}:
        assert services[name]["labels"]["breakfix.service"] == name


def test_host_network_health_checks_and_ordering(spec: dict[str, Any]) -> None:
    for name, service in spec["services"].items():
        assert service["network_mode"] == "host", name
        if name != "init":
            assert service["healthcheck"]["test"], name
        for dependency, condition in (service.get("depends_on") or {}).items():
            wanted = "service_completed_successfully" if dependency == "init" else "service_healthy"
            assert condition == {"condition": wanted}, (name, dependency)


def test_the_victim_is_never_restarted_by_compose(spec: dict[str, Any]) -> None:
    services = spec["services"]
    for name in ("target", "target-db", "db-proxy", "upstream-primary", "upstream-fallback"):
        assert services[name].get("restart", "no") == "no", name
        assert services[name]["labels"]["breakfix.restart_policy"] == "never"


def test_secrets_are_files_and_the_agent_gets_no_chaos_credential(spec: dict[str, Any]) -> None:
    declared = spec["secrets"]
    assert all(set(entry) == {"file"} for entry in declared.values())
    services = spec["services"]
    for name, service in services.items():
        assert set(service.get("secrets") or []) <= set(declared), name
        for key, value in (service.get("environment") or {}).items():
            assert not key.endswith(("_PASSWORD", "_KEY", "_TOKEN")), (name, key)
            assert "postgresql://" not in str(value) or "@" not in str(value), (name, key)
    assert not {"chaos.key", "victim-hooks.token"} & set(services["agent"]["secrets"])
    for name in ("agent", "console"):
        assert not any("docker.sock" in v for v in services[name].get("volumes", [])), name


def test_databases_and_state_on_named_volumes(spec: dict[str, Any]) -> None:
    services, volumes = spec["services"], spec["volumes"]
    for name, volume in (("target-db", "target-db-data"), ("ops-db", "ops-db-data")):
        assert any(v.startswith(f"{volume}:") for v in services[name]["volumes"])
    assert {"breakfix-state", "target-db-data", "ops-db-data"} <= set(volumes)


@pytest.mark.skipif(
    shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed"
)
def test_docker_compose_v1_accepts_it() -> None:
    result = subprocess.run(
        ["docker-compose", "-f", str(COMPOSE), "--project-directory", str(ROOT), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_secret_files_are_the_labs_own_names_and_formats(tmp_path: Path) -> None:
    from action_server.keys import key_id_of
    from breakfix import compose_secrets
    from lab import services
    from lab.approvers import parse_approvers

    lab_names = {
        services.CONTROL_TOKEN,
        services.APP_PASSWORD,
        services.OPS_PASSWORD,
        services.TARGET_DB_ADMIN_PASSWORD,
        services.CHAOS_KEY,
        services.HOOKS_TOKEN,
        services.AGENT_INTAKE_TOKEN,
        services.CONSOLE_OPERATOR_TOKEN,
        services.CONSOLE_VIEWER_TOKEN,
    }
    assert set(compose_secrets.TOKENS) == lab_names
    assert compose_secrets.APPROVERS_FILE == services.AGENT_APPROVERS
    assert compose_secrets.AGENT_KEY_FILE == services.AGENT_ACTION_KEY
    assert set(compose_secrets.APPROVERS) == {
        services.OPERATOR_APPROVER,
        services.GAMEDAY_APPROVER,
        services.CONSOLE_APPROVER,
    }
    made = compose_secrets.write_secrets(tmp_path / "secrets")
    assert len(made) == len(lab_names) + 2
    key = (tmp_path / "secrets" / services.AGENT_ACTION_KEY).read_text().strip()
    assert key_id_of(key) is not None
    approvers = (tmp_path / "secrets" / services.AGENT_APPROVERS).read_text()
    assert set(parse_approvers(approvers, source="t").tokens) == set(compose_secrets.APPROVERS)
    before = {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}
    assert compose_secrets.write_secrets(tmp_path / "secrets") == []  # kept, never replaced
    assert before == {p.name: p.read_text() for p in (tmp_path / "secrets").iterdir()}


def test_declared_secret_files_are_the_ones_made(spec: dict[str, Any]) -> None:
    from breakfix import compose_secrets

    made = {*compose_secrets.TOKENS, compose_secrets.APPROVERS_FILE, compose_secrets.AGENT_KEY_FILE}
    assert set(spec["secrets"]) == made | {"pip-ca.crt"}
    for name in made:
        assert spec["secrets"][name]["file"] == f"./.compose/secrets/{name}"
