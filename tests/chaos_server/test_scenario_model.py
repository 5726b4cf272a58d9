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
