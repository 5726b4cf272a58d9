"""What every mechanism maker shares: the maker protocol, the variants that cannot be made
here (with the reason), and small helpers on the lab's real parts.

A maker `make()`s one production variant of a catalogue fault by hand (tests/knowledge/
heldout/mechanisms.yaml, its `how`) and `clean()`s whatever is left of it, returning what it
had to clean (empty when the agent's fix or the variant itself left nothing).
"""

import time
from dataclasses import dataclass

import psycopg2
from psycopg2.extensions import connection as PgConnection

from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab
from gameday.out_of_band import OutOfBand, settle
from lab.envfile import read_env
from lab.services import APP_DB, endpoints

__all__ = ["NotReproducible", "OutOfBand", "settle"]


@dataclass(frozen=True)
class NotReproducible:
    """A variant that this machine cannot make faithfully, and why (counted apart, never
    as a pass)."""

    reason: str


def superuser(lab: GamedayLab, *, autocommit: bool = True, app: str = "psql") -> PgConnection:
    """A superuser session on shop over the cluster's socket, named like an interactive psql."""
    return lab.target_db.connect(APP_DB, application_name=app, autocommit=autocommit)


def run_sql(lab: GamedayLab, *statements: str) -> None:
    """Statements in one autocommit superuser session."""
    conn = superuser(lab)
    try:
        with conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
    finally:
        conn.close()


def terminate_app_sessions(lab: GamedayLab) -> None:
    """End the target's pooled sessions, as a pool recycling its connections would."""
    run_sql(
        lab,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'breakfix-target' AND pid <> pg_backend_pid()",
    )


def target_pid(lab: GamedayLab) -> int:
    """The target's pid, from the lab's runtime."""
    pid = lab.runtime.status("target").pid
    if pid is None:
        raise GamedayError("the target is not running")
    return pid


def restart_target(lab: GamedayLab) -> None:
    """Restart the target the way an operator would (it may fail to come up: that is the
    variant); never raises on a target that does not get ready."""
    try:
        lab.runtime.restart("target")
    except Exception:  # a target that dies at start-up is what some variants make
        pass


def ensure_target(lab: GamedayLab) -> list[str]:
    """Start or restart the target when it does not answer /ready within a short wait."""
    if settle(lab, within_s=20.0):
        return []
    restart_target(lab)
    return ["the target was restarted by the clean-up"]


def port_of(lab: GamedayLab, service: str) -> int:
    """The port a lab service listens on."""
    return endpoints(lab.settings)[service].port


def target_env(lab: GamedayLab) -> dict[str, str]:
    """The target's env file as a mapping."""
    return read_env(lab.paths.target_env)


def log_in_fails(lab: GamedayLab, password: str, role: str) -> bool:
    """Whether a login as `role` with `password` is refused."""
    try:
        lab.target_db.log_in(role=role, password=password, dbname=APP_DB)
    except psycopg2.OperationalError:
        return True
    return False


def drive(lab: GamedayLab, path: str, *, for_s: float, every_s: float = 0.05) -> int:
    """Requests to the target on `path` for `for_s` seconds (127.0.0.1 only); how many."""
    end, sent = time.monotonic() + for_s, 0
    while time.monotonic() < end:
        try:
            lab.target.get(path, timeout=5.0)
        except Exception:  # the target failing is what is being driven
            pass
        sent += 1
        time.sleep(every_s)
    return sent
