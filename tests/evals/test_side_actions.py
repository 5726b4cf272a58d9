"""What an evaluation itself does through the action server, with its own admin key (never
counted as the agent's): a verified snapshot before data is lost, and the routes put back
on their primaries after a case that switched to a fallback."""

from lab.envfile import read_env
from tests.evals.eval_lab import EvalLab

ROUTES = {"pricing": "TARGET_PRICING_ROUTE", "db": "TARGET_DB_ROUTE"}


def snapshot(lab: EvalLab) -> str:
    """A verified snapshot of shop now (restore-db restores the latest verified one)."""
    run = lab.actions.act("snapshot-db", {"label": "eval"}, wait=True)
    assert run.status == "succeeded", f"snapshot-db {run.status}: {run.summary}"
    return str(run.details.get("name", ""))


def restore_primary_routes(lab: EvalLab) -> list[str]:
    """Switch every dependency on its fallback back to primary; the ones switched."""
    env = read_env(lab.paths.target_env)
    switched = []
    for dependency, var in ROUTES.items():
        if env.get(var, "primary") != "primary":
            params = {"dependency": dependency, "route": "primary"}
            run = lab.actions.act("switch-to-fallback", params, wait=True)
            assert run.status == "succeeded", f"{dependency} back to primary: {run.summary}"
            switched.append(dependency)
    return switched
