"""What an evaluation itself does through the action server, with its own admin key (never
counted as the agent's): a verified snapshot before data is lost, and the routes put back
on their primaries after a case that switched to a fallback."""

from lab.envfile import read_env
from tests.evals.eval_lab import EvalLab
from tests.evals.steady import wait_steady

ROUTES = {"pricing": "TARGET_PRICING_ROUTE", "db": "TARGET_DB_ROUTE"}


def snapshot(lab: EvalLab) -> str:
    """A verified snapshot of shop now (restore-db restores the latest verified one)."""
    run = lab.actions.act("snapshot-db", {"label": "eval"}, wait=True)
    assert run.status == "succeeded", f"snapshot-db {run.status}: {run.summary}"
    return str(run.details.get("name", ""))


def restore_primary_routes(lab: EvalLab) -> list[str]:
    """Switch every dependency on its fallback back to primary; the ones switched.

    The switch restarts the target: planned work, announced to the agent with a silence
    (a maintenance window) so the blip is not taken for the next outage."""
    env = read_env(lab.paths.target_env)
    pending = [d for d, var in ROUTES.items() if env.get(var, "primary") != "primary"]
    if not pending:
        return []
    silence = None
    if lab.agent is not None:
        made = lab.agent.post(
            "/silences", json={"for_s": 180, "reason": "eval: routes back to primary"}
        )
        assert made.status_code == 201, made.text
        silence = made.json()["id"]
    try:
        for dependency in pending:
            params = {"dependency": dependency, "route": "primary"}
            run = lab.actions.act("switch-to-fallback", params, wait=True)
            assert run.status == "succeeded", f"{dependency} back to primary: {run.summary}"
        wait_steady(lab, 150.0, "routes back to primary", incidents=False)
    finally:
        if silence is not None and lab.agent is not None:
            lab.agent.delete(f"/silences/{silence}")
    return pending
