"""Approver credentials (lab.approvers): the file, its checks, and the lab's provisioning."""

import stat
from pathlib import Path

import pytest

from breakfix.provision import prepare_state
from lab.approvers import approver_token, ensure_approvers, parse_approvers, read_approvers
from lab.config import LabSettings
from lab.envfile import read_env
from lab.paths import StatePaths
from lab.secrets import read_secret
from lab.services import AGENT_APPROVERS, AGENT_INTAKE_TOKEN

TOKEN_A, TOKEN_B = "a" * 20, "b-" * 10


def test_tokens_name_their_approver() -> None:
    approvers = parse_approvers(f"# on call\n\nalice {TOKEN_A}\nrole.sre {TOKEN_B}\n", source="t")
    assert approvers.named_by(TOKEN_A) == "alice"
    assert approvers.named_by(TOKEN_B) == "role.sre"
    for other in (None, "", TOKEN_A[:-1], TOKEN_A + "é", "alice"):
        assert approvers.named_by(other) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("alice short", "line 1: alice's token must be 16+"),
        (f"alice {'x' * 10}é{'x' * 10}", "printable ASCII"),
        (f"al ice {TOKEN_A}", "printable ASCII"),
        (f"-alice {TOKEN_A}", "a name is"),
        (f"alice {TOKEN_A}\nalice {TOKEN_B}", "line 2: alice is listed twice"),
        (f"alice {TOKEN_A}\nbob {TOKEN_A}", "line 2: bob's token is another approver's"),
    ],
)
def test_a_wrong_line_is_named_and_its_token_is_not(text: str, says: str) -> None:
    with pytest.raises(ValueError, match=says) as refused:
        parse_approvers(text, source="approvers")
    assert TOKEN_A not in str(refused.value) and TOKEN_B not in str(refused.value)


def test_ensure_adds_the_missing_and_keeps_the_rest(tmp_path: Path) -> None:
    path = tmp_path / "approvers"
    ensure_approvers(path, ("operator", "gameday"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = read_approvers(path).tokens
    assert set(first) == {"operator", "gameday"}
    path.write_text(path.read_text() + f"alice {TOKEN_A}")  # a person added by hand
    ensure_approvers(path, ("operator", "gameday", "night"))
    now = read_approvers(path).tokens
    assert now == {**first, "alice": TOKEN_A, "night": now["night"]}
    assert approver_token(path, "alice") == TOKEN_A
    with pytest.raises(LookupError, match="bob"):
        approver_token(path, "bob")


def test_the_lab_provisions_approvers_apart_from_the_intake_token(tmp_path: Path) -> None:
    settings = LabSettings(state_dir=tmp_path)
    paths = StatePaths.at(tmp_path)
    prepare_state(settings=settings, paths=paths)
    approvers = paths.secret(AGENT_APPROVERS)
    tokens = read_approvers(approvers).tokens
    assert set(tokens) == {"operator", "gameday", "console"}
    assert read_secret(paths.secret(AGENT_INTAKE_TOKEN)) not in tokens.values()
    assert read_env(paths.agent_env)["AGENT_APPROVERS_FILE"] == str(approvers)
    assert str(approvers) not in paths.observability_env.read_text()
    prepare_state(settings=settings, paths=paths)
    assert read_approvers(approvers).tokens == tokens  # kept across runs
