"""The agent app in tests: served over real HTTP with a recording stand-in for the pipeline."""

import secrets
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from agent.config import Settings
from agent.main import create_app
from agent.model import IncidentState
from agent.parts import PipelineLike
from agent.store import IncidentStore
from agent.store.models import Incident
from lab.ports import free_port
from tests.support.asgi import ThreadedServer


class RecorderPipeline:
    """Stands in for agent.pipeline in API tests: records what the API asked of it.

    The real pipeline (perceive, diagnose, act...) is tested in its own modules; here only
    the hand-over from the API is checked.
    """

    def __init__(self, store: IncidentStore) -> None:
        self.store = store
        self.submitted: list[str] = []
        self.answers: list[tuple[str, str, bool]] = []
        self.started = self.stopped = False

    def start(self) -> None:
        self.started = True

    def stop(self) -> None:
        self.stopped = True

    def submit(self, incident_id: str) -> None:
        self.submitted.append(incident_id)

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        self.answers.append((incident_id, by, True))
        return self.store.transition(
            incident_id, IncidentState.acting, step="approval", inputs={"by": by}, outputs={}
        )

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        self.answers.append((incident_id, by, False))
        return self.store.transition(
            incident_id, IncidentState.escalated, step="approval", inputs={"by": by}, outputs={}
        )


@dataclass
class AgentServer:
    """The agent app served by uvicorn on a loopback port, with a recorder pipeline."""

    url: str
    token: str
    pipeline: RecorderPipeline
    store: IncidentStore
    approvers: dict[str, str]  # name -> token, as in the agent's approvers file

    def auth(self) -> dict[str, str]:
        """The intake token's header (alerts and silences)."""
        return {"Authorization": f"Bearer {self.token}"}

    def approver(self, name: str = "alice") -> dict[str, str]:
        """An approver's header (approve and deny)."""
        return {"Authorization": f"Bearer {self.approvers[name]}"}


class CountingPipeline:
    """Stands in for the pipeline where nothing is answered (benchmarks): counts submissions."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def submit(self, incident_id: str) -> None:
        with self._lock:
            self.submitted.append(incident_id)

    def approve(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        raise NotImplementedError("no approvals here")

    def deny(self, incident_id: str, *, by: str, note: str | None = None) -> Incident:
        raise NotImplementedError("no approvals here")


def stored_alerts(url: str) -> tuple[int, int, int]:
    """What ops-db at `url` holds: alert rows, the sum of their received counts, incidents."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            rows, received = conn.execute(
                text("SELECT count(*), COALESCE(sum(received_count), 0) FROM agent_alerts")
            ).one()
            incidents = conn.execute(text("SELECT count(*) FROM agent_incidents")).scalar_one()
    finally:
        engine.dispose()
    return int(rows), int(received), int(incidents)


@contextmanager
def serving_agent(url: str, pipeline: PipelineLike) -> Iterator[tuple[str, str]]:
    """The agent app on ops-db `url` (every service watched), served on a loopback port
    with `pipeline`: its base URL and intake token."""
    with tempfile.TemporaryDirectory() as tmp:
        token_file, key_file = Path(tmp) / "intake.token", Path(tmp) / "act.key"
        token_file.write_text(secrets.token_urlsafe(24) + "\n")
        key_file.write_text("bfx_000000000000_" + "x" * 43 + "\n")
        for path in (token_file, key_file):
            path.chmod(0o600)
        settings = Settings(
            _env_file=None,
            ops_db_url=url,
            intake_token_file=token_file,
            action_key_file=key_file,
            state_dir=Path(tmp),
            port=free_port(),
            watch_services=[],  # made-up services are all taken on
        )
        server = ThreadedServer(create_app(settings, pipeline=pipeline), settings.port).start()
        try:
            yield f"http://127.0.0.1:{settings.port}", token_file.read_text().strip()
        finally:
            server.stop()  # the app's shutdown writes what the intake still holds
