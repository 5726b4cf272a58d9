"""Fixtures for the agent: a fresh ops-db on the session's real Postgres, a store on it, and
the agent app served over real HTTP with a recording stand-in for the pipeline; for the
pipeline-on-a-lab tests, a live lab without its own agent, a knowledge index and the fault."""

import functools
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from agent.config import Settings
from agent.main import create_app
from agent.store import IncidentStore
from gameday.out_of_band import ChangedPassword
from gameday.steady import wait_steady
from knowledge.index import KnowledgeIndex
from lab.ports import free_port
from tests.support.agent_server import AgentServer, RecorderPipeline
from tests.support.asgi import ThreadedServer
from tests.support.eval_lab import EvalLab, running_eval_lab
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster
from tests.support.pipeline_lab import Submit, submitted

_TABLES = "agent_actions, agent_alerts, agent_incident_events, agent_incidents"
APPROVERS_FILE = "secrets/agent-approvers.tokens"  # where the lab keeps it in its state dir


@pytest.fixture(scope="session")
def ops_url(target_pg: RunningCluster) -> str:
    """A fresh ops-db database migrated to head (shared by the agent tests)."""
    return fresh_ops_db(target_pg, "agent_ops")


def clear_incidents(url: str) -> None:
    """Empty the agent's tables (each test starts from no incident at all)."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {_TABLES} RESTART IDENTITY"))
            conn.execute(text("ALTER SEQUENCE agent_incident_seq RESTART"))
    finally:
        engine.dispose()


@pytest.fixture
def store(ops_url: str) -> Iterator[IncidentStore]:
    """An IncidentStore on an emptied ops-db."""
    clear_incidents(ops_url)
    # no handover: tests open incidents freely after escalating one (test_store sets it)
    incidents = IncidentStore(ops_url, handover_s=0)
    try:
        yield incidents
    finally:
        incidents.dispose()


@pytest.fixture
def approvers(tmp_path: Path) -> dict[str, str]:
    """The agent's approvers file (`name token` lines, 0600) in tmp_path as a state dir:
    alice, the game day and the lab's operator (the CLI's default)."""
    tokens = {name: secrets.token_urlsafe(32) for name in ("alice", "gameday", "operator")}
    path = tmp_path / APPROVERS_FILE
    path.parent.mkdir(mode=0o700, exist_ok=True)
    path.write_text("".join(f"{name} {token}\n" for name, token in tokens.items()))
    path.chmod(0o600)
    return tokens


@pytest.fixture
def agent_settings(ops_url: str, tmp_path: Path, approvers: dict[str, str]) -> Settings:
    """Agent settings on the test ops-db, with an intake token, the approvers file and an
    (unused) act key."""
    token_file = tmp_path / "agent-intake.token"
    token_file.write_text(secrets.token_urlsafe(32))
    key_file = tmp_path / "agent-action.key"
    key_file.write_text("bfx_000000000000_" + "x" * 40)
    return Settings(
        _env_file=None,
        ops_db_url=ops_url,
        intake_token_file=token_file,
        approvers_file=tmp_path / APPROVERS_FILE,
        action_key_file=key_file,
        state_dir=tmp_path,
        port=free_port(),
    )


@pytest.fixture
def agent_server(
    agent_settings: Settings, store: IncidentStore, approvers: dict[str, str]
) -> Iterator[AgentServer]:
    """A real HTTP agent (uvicorn on 127.0.0.1) on an emptied ops-db."""
    recorder = RecorderPipeline(store)
    app = create_app(agent_settings, pipeline=recorder)
    server = ThreadedServer(app, agent_settings.port).start()
    try:
        yield AgentServer(
            url=f"http://127.0.0.1:{agent_settings.port}",
            token=agent_settings.intake_token_file.read_text(),
            pipeline=recorder,
            store=store,
            approvers=approvers,
        )
    finally:
        server.stop()


# The pipeline-on-a-lab tests (test_pipeline_lab, test_approval): their lab, knowledge and fault.
@pytest.fixture(scope="module")
def lab() -> Iterator[EvalLab]:
    """A live lab with observability and without its own agent."""
    with running_eval_lab("breakfix-pipe-", agent=False) as running:
        yield running


@pytest.fixture(scope="module")
def knowledge(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeIndex:
    index = KnowledgeIndex(tmp_path_factory.mktemp("knowledge"), embedding="hashing")
    index.ensure()
    return index


@pytest.fixture
def submit(lab: EvalLab, knowledge: KnowledgeIndex, tmp_path: Path) -> Submit:
    """`submitted` on this module's lab and knowledge index, in the test's tmp_path."""
    return functools.partial(submitted, lab, knowledge, tmp_path)


@pytest.fixture(scope="module")
def broken(lab: EvalLab) -> Iterator[ChangedPassword]:
    """The app role's password changed by hand (db-auth-failure) once the lab is steady;
    the credential put back at the end if no test fixed it."""
    wait_steady(lab, 180.0, "before the fault")
    fault = ChangedPassword()
    fault.make(lab)
    try:
        yield fault
    finally:
        fault.clean(lab)
