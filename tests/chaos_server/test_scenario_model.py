"""Scenario files, cron schedules and the monkey's hours: validated before anything runs."""

from datetime import UTC, datetime
from pathlib import Path

import pytest

from chaos_server.config import Settings
from chaos_server.faults import build_catalogue
from chaos_server.monkey import candidates, within_hours
from chaos_server.scenarios.cron import parse_cron
from chaos_server.scenarios.model import (
    InjectStep,
    ScenarioError,
    load_dir,
    load_scenario,
    parse_scenario,
)
from lab.paths import SHIPPED_SCENARIOS
from lab.settings_loading import ConfigurationError, load_with_env_file


def _scenario(**extra: object) -> dict[str, object]:
    return {"name": "s1", "steps": [{"inject": {"fault": "noop", "as": "n"}}], **extra}


def test_every_shipped_scenario_is_valid_and_names_catalogue_faults() -> None:
    scenarios, errors = load_dir(SHIPPED_SCENARIOS)
    assert errors == [] and len(scenarios) >= 4
    catalogue = build_catalogue()
    injected = {
        step.inject.fault
        for scenario in scenarios
        for step in scenario.steps
        if isinstance(step, InjectStep)
    }
    assert injected <= set(catalogue), injected - set(catalogue)
    assert any(s.schedule for s in scenarios)
    assert any(s.stop_conditions for s in scenarios)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "s1", "steps": []}, "steps"),
        ({**_scenario(), "colour": "red"}, "colour: Extra inputs are not permitted"),
        (_scenario(steps=[{"revert": "ghost"}]), "revert 'ghost' names no earlier inject"),
        (_scenario(steps=[{"wait": 601}]), "less than or equal to 600"),
        (_scenario(steps=[{"teleport": 1}]), "steps.0"),
        (_scenario(schedule="61 * * * *"), "cron '61 * * * *'"),
        (_scenario(schedule="* * *"), "5 fields"),
        (_scenario(name="Bad Name"), "name"),
        (
            _scenario(blast_radius={"allowlist": ["target"]}),
            "not on the scenario's allowlist",
        ),
        (
            _scenario(
                blast_radius={"max_ttl_s": 10},
                steps=[{"inject": {"fault": "noop", "target": "target", "ttl_s": 60}}],
            ),
            "over the scenario's max_ttl_s",
        ),
        (
            _scenario(
                steps=[
                    {"inject": {"fault": "noop", "as": "x"}},
                    {"inject": {"fault": "noop", "as": "x"}},
                ]
            ),
            "used twice",
        ),
        (["not", "a", "mapping"], "a scenario is a mapping"),
    ],
)
def test_invalid_scenarios_are_refused_with_what_is_wrong(data: object, message: str) -> None:
    with pytest.raises(ScenarioError, match="<scenario>") as caught:
        parse_scenario(data)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ({"error_ratio": 1.5}, "stop_conditions.error_ratio: Input should be less than 1"),
        ({"window_s": 3}, "stop_conditions: Value error, set at least one of error_ratio"),
        ({"error_ratio": 0.5, "colour": 1}, "stop_conditions.colour: Extra inputs"),
        ({"unhealthy_services": "everyone"}, "stop_conditions.unhealthy_services"),
        ({"unhealthy_services": ["Bad Name"]}, "stop_conditions.unhealthy_services"),
        ({"latency_ms": 100, "latency_stat": "p50"}, "stop_conditions.latency_stat"),
        ({"max_outage_s": 0}, "stop_conditions.max_outage_s: Input should be greater than 0"),
        ({"max_outage_s": 5, "interval_s": 0.01}, "stop_conditions.interval_s"),
        ({"max_outage_s": 5, "journey": []}, "stop_conditions.journey"),
        (
            {"max_outage_s": 5, "journey": [{"service": "agent", "path": "/incidents"}]},
            "journey[0]: service 'agent' is not user-facing",
        ),
        (
            {"error_ratio": 0.5, "window_s": 2, "interval_s": 1, "min_samples": 5},
            "min_samples: 5 journey probes never fit in window_s 2",
        ),
        ("on", "stop_conditions: Input should be a valid dictionary"),
    ],
)
def test_invalid_stop_conditions_are_refused_with_the_field_named(
    conditions: object, message: str
) -> None:
    with pytest.raises(ScenarioError, match="<scenario>") as caught:
        parse_scenario(_scenario(stop_conditions=conditions))
    assert message in str(caught.value)


def test_stop_conditions_default_to_the_product_list_as_the_user_journey() -> None:
    scenario = parse_scenario(_scenario(stop_conditions={"error_ratio": 0.5}))
    assert scenario.stop_conditions is not None
    (journey,) = scenario.stop_conditions.journey
    assert (journey.service, journey.path, journey.max_latency_ms) == ("target", "/products", None)
    assert parse_scenario(_scenario()).stop_conditions is None
    with_any = parse_scenario(_scenario(stop_conditions={"unhealthy_services": "any_other"}))
    assert with_any.stop_conditions and with_any.stop_conditions.unhealthy_services == "any_other"


def test_a_file_that_is_not_yaml_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: [unclosed\n")
    with pytest.raises(ScenarioError, match="bad.yaml: not valid YAML"):
        load_scenario(bad)
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_load_dir_reports_bad_files_and_duplicate_names_but_keeps_the_good(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.yaml").write_text("name: same\nsteps: [{wait: 1}]\n")
    (tmp_path / "b.yml").write_text("name: same\nsteps: [{wait: 2}]\n")
    (tmp_path / "c.yaml").write_text("name: other\nsteps: []\n")
    scenarios, errors = load_dir(tmp_path)
    assert [s.name for s in scenarios] == ["same"]
    assert len(errors) == 2 and "used by another file" in errors[0] and "c.yaml" in errors[1]


def test_cron_takes_five_fields_or_six_with_seconds() -> None:
    every_two = parse_cron("*/2 * * * * *")
    start = datetime(2026, 11, 21, 10, 0, 1, tzinfo=UTC)
    assert every_two.get_next_fire_time(None, start) == datetime(2026, 11, 21, 10, 0, 2, tzinfo=UTC)
    nightly = parse_cron("0 3 * * mon-fri")
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday
    assert nightly.get_next_fire_time(None, saturday) == datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def _settings(**values: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        ops_db_url="postgresql://x@127.0.0.1/x",
        key_file=Path("/nonexistent"),
        **values,
    )


@pytest.mark.parametrize(
    ("hours", "days", "moment", "inside"),
    [
        ("09:00-17:00", ["mon", "tue", "wed", "thu", "fri"], (2026, 11, 23, 10, 0), True),
        ("09:00-17:00", ["mon", "tue", "wed", "thu", "fri"], (2026, 11, 23, 17, 0), False),
        ("09:00-17:00", ["mon", "tue", "wed", "thu", "fri"], (2026, 11, 21, 10, 0), False),
        ("22:00-06:00", ["fri"], (2026, 11, 21, 2, 0), True),  # Saturday 02:00: Friday's night
        ("22:00-06:00", ["fri"], (2026, 11, 22, 2, 0), False),  # Sunday 02:00: Saturday's
        ("00:00-00:00", ["sat"], (2026, 11, 21, 23, 59), True),
    ],
)
def test_monkey_hours_and_days(
    hours: str, days: list[str], moment: tuple[int, ...], inside: bool
) -> None:
    settings = _settings(monkey_hours=hours, monkey_days=days)
    assert within_hours(settings, datetime(*moment, tzinfo=UTC)) is inside


def test_monkey_targets_are_opt_in_and_stay_on_the_allowlist() -> None:
    catalogue = build_catalogue()
    assert candidates(_settings(monkey_faults=["noop"]), catalogue) == []
    picked = candidates(
        _settings(
            allowlist=["target", "target-db"],
            monkey_faults=["noop", "no-such-fault"],
            monkey_targets=["target", "db-proxy"],
        ),
        catalogue,
    )
    assert picked == [("noop", "target")]  # db-proxy is not on this allowlist


def test_monkey_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="monkey_min_interval_s"):
        _settings(monkey_min_interval_s=10, monkey_max_interval_s=5)
    with pytest.raises(ValueError, match="monkey_hours"):
        _settings(monkey_hours="9-17")
    assert _settings().monkey_enabled is False


def test_monkey_stop_conditions_are_on_by_default_and_checked() -> None:
    settings = _settings()
    assert settings.monkey_stop_conditions_enabled is True
    defaults = settings.monkey_stop_conditions
    assert defaults.unhealthy_services == "any_other" and defaults.max_outage_s is not None
    assert defaults.journey[0].service == "target"
    assert _settings(monkey_stop_conditions_enabled=False).monkey_stop_conditions_enabled is False
    custom = _settings(monkey_stop_conditions={"error_ratio": 0.2, "window_s": 5})
    assert custom.monkey_stop_conditions.error_ratio == 0.2
    with pytest.raises(ValueError, match="monkey_stop_conditions") as caught:
        _settings(monkey_stop_conditions={"error_ratio": 2, "colour": "red"})
    assert "error_ratio: Input should be less than 1" in str(caught.value)
    assert "colour: Extra inputs are not permitted" in str(caught.value)


def test_monkey_stop_conditions_from_the_environment_name_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CHAOS_OPS_DB_URL", "postgresql://x@127.0.0.1/x")
    monkeypatch.setenv("CHAOS_KEY_FILE", "/nonexistent")
    monkeypatch.setenv("CHAOS_MONKEY_STOP_CONDITIONS", '{"max_outage_s": -1}')
    monkeypatch.delenv("CHAOS_ENV_FILE", raising=False)
    with pytest.raises(ConfigurationError) as caught:
        load_with_env_file(Settings, "CHAOS_ENV_FILE")
    assert "CHAOS_MONKEY_STOP_CONDITIONS" in str(caught.value)
    assert "max_outage_s: Input should be greater than 0" in str(caught.value)
