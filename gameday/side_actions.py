"""What a game day itself does through the action server, with its own admin key (never
counted as the agent's): a verified snapshot before data is lost, and the routes put back
on their primaries after a case that switched to a fallback."""

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.steady import wait_steady
from lab.envfile import read_env

ROUTES = {"pricing": "TARGET_PRICING_ROUTE", "db": "TARGET_DB_ROUTE"}


def snapshot(lab: GamedayLab) -> str:
    """A verified snapshot of shop now (restore-db restores the latest verified one)."""
    run = lab.actions.act("snapshot-db", {"label": "gameday"}, wait=True)
    if run.status != "succeeded":
        raise GamedayError(f"snapshot-db {run.status}: {run.summary}")
    result = run.details.get("result") or {}
    return str(result.get("name", "")) if isinstance(result, dict) else ""


def restore_primary_routes(lab: GamedayLab) -> list[str]:
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
            "/silences", json={"for_s": 180, "reason": "gameday: routes back to primary"}
        )
        if made.status_code != 201:
            raise GamedayError(f"the agent refused a silence: {made.status_code} {made.text}")
        silence = made.json()["id"]
    try:
        for dependency in pending:
            params = {"dependency": dependency, "route": "primary"}
            run = lab.actions.act("switch-to-fallback", params, wait=True)
            if run.status != "succeeded":
                raise GamedayError(f"{dependency} back to primary: {run.summary}")
        wait_steady(lab, 150.0, "routes back to primary", incidents=False)
    finally:
        if silence is not None and lab.agent is not None:
            lab.agent.delete(f"/silences/{silence}")
    return pending
