"""Game-day plans: the command line's --faults and YAML files, refused with where and why."""

from pathlib import Path

import pytest

from gameday.plan import GamedayPlan, PlanError, from_faults, load_plan

PLANS = Path(__file__).resolve().parents[2] / "gameday" / "plans"


def test_faults_by_id_by_hand_and_all() -> None:
    cases = from_faults("api-crash, by-hand:psql-lock")
    assert [c.title for c in cases] == ["api-crash", "psql-lock (db-lock)"]
    assert cases[1].faults[0].catalogue_fault == "db-lock"
    everything = from_faults("all")
    assert "noop" in [c.title for c in everything] and len(everything) == 20
    assert len(from_faults("by-hand")) == 6


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("api-crush", "unknown fault 'api-crush'"),
        ("by-hand:psql", "unknown by_hand maker 'psql'"),
        (" , ", "give `all` or fault ids"),
    ],
)
def test_unknown_faults_are_refused(spec: str, message: str) -> None:
    with pytest.raises(PlanError, match=message):
        from_faults(spec)


def test_the_shipped_plans_load() -> None:
    for path in sorted(PLANS.glob("*.yaml")):
        plan = load_plan(path)
        assert plan.cases, path
    kinds = {c.kind for c in load_plan(PLANS / "sequences.yaml").cases}
    assert kinds == {"back-to-back", "concurrent", "during-approval", "during-verification"}


def test_a_bad_field_is_named_with_its_line(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "name: x\ncases:\n  - fault: api-crash\n  - kind: concurrent\n"
        "    faults: [db-lock, upstrem-outage]\n"
    )
    with pytest.raises(PlanError) as caught:
        load_plan(plan)
    assert str(caught.value).startswith(f"{plan}:5: cases.1.faults.1:")
    assert "unknown fault 'upstrem-outage'" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("cases: []\n", ":1: cases:"),
        ("cases:\n  - fault: api-crash\n    repeat: 0\n", ":3: cases.0.repeat:"),
        ("cases:\n  - fault: api-crash\narms: [agent, everyone]\n", ":3: arms.1:"),
        ("cases:\n  - kind: concurrent\n    faults: [db-lock]\n", ":2: cases.0:"),
        ("cases:\n  - fault: api-crash\n    colour: red\n", ":3: cases.0.colour:"),
        ("cases: [\n", ": not YAML"),
    ],
)
def test_invalid_plans_are_refused_whole(tmp_path: Path, text: str, where: str) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(text)
    with pytest.raises(PlanError, match=None) as caught:
        load_plan(plan)
    assert where in str(caught.value), str(caught.value)


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(PlanError, match="No such file"):
        load_plan(tmp_path / "absent.yaml")


def test_a_fault_named_twice_gets_distinct_case_ids() -> None:
    plan = GamedayPlan(cases=from_faults("api-crash,db-lock,api-crash,api-crash"))
    titles = [c.title for c in plan.cases]
    assert titles == ["api-crash", "db-lock", "api-crash (2)", "api-crash (3)"]
