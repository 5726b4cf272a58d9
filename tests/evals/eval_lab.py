"""A live lab for evaluations: observability and the agent running, and the clients a test
(not the agent) uses on it: the chaos server with the chaos key, the action server with an
admin key of its own, the agent's incidents API, and a loopback Slack receiver."""

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from action_server.client import ActionClient
from action_server.keys import key_id_of
from lab.background import (
    BackgroundLab,
    lab_environment,
    make_state_dir,
    remove_state_dir,
)
from lab.config import LabSettings
from lab.paths import StatePaths
from lab.postgres import Cluster
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from lab.services import clusters
from tests.action_server.conftest import lab_settings
from tests.action_server.receiver import WebhookReceiver

SLACK_PATH = "/slack/escalations"
INTAKE_TOKEN = "agent-intake.token"
AGENT_KEY = "agent-action.key"
START_TIMEOUT_S = 240.0

# The agent's policy for evaluations: high-risk fixes run unattended, no cooldown between
# cases, a short verification hold; "the same fault again soon" is not a failed fix here.
EVAL_ENV = {
    "AGENT_APPROVAL_REQUIRED": "[]",
    "AGENT_COOLDOWN_S": "0",
    "AGENT_VERIFY_HOLD_S": "5",
    # A wrong first fix shows within a minute; the next hypothesis then fits in the case.
    "AGENT_VERIFY_TIMEOUT_S": "60",
    "AGENT_RECURRENCE_WINDOW_S": "0",
    # No scheduled snapshot: one taken mid-fault would be "the latest" restore-db picks.
    # The evaluation takes a verified snapshot itself right before a data-loss case.
    "ACTION_SNAPSHOT_INTERVAL_S": "0",
}


@dataclass
class EvalLab:
    """The running lab and the test-side clients on it."""

    lab: BackgroundLab
    paths: StatePaths
    settings: LabSettings
    runtime: LocalRuntime
    target_db: Cluster
    receiver: WebhookReceiver
    chaos: httpx.Client
    agent: httpx.Client | None  # None when the lab runs without the agent
    observability: httpx.Client
    target: httpx.Client
    actions: ActionClient  # an admin key of the test's own (audit, snapshots, route resets)
    eval_key_id: str

    def close(self) -> None:
        for client in (self.chaos, self.agent, self.observability, self.target):
            if client is not None:
                client.close()
        self.actions.close()
        self.runtime.close()


def write_operator_env(state_dir: Path, receiver: WebhookReceiver) -> None:
    """The `.env` the lab reads from its cwd (the state dir): the evaluation's policy and
    the Slack webhook pointing at the loopback receiver, so `escalate` delivers."""
    lines = [f"{k}={v}" for k, v in EVAL_ENV.items()]
    lines.append(f"ACTION_SLACK_WEBHOOK_URL={receiver.url(SLACK_PATH)}")
    (state_dir / ".env").write_text("\n".join(lines) + "\n")


def _client(url: str, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=headers, timeout=30.0, trust_env=False)


def _admin_key(lab: BackgroundLab) -> str:
    """A fresh admin key for the test, printed once on the CLI's last line."""
    out = lab.cli("keys", "create", "--scope", "admin", "--name", "evals").stdout
    return out.strip().splitlines()[-1]


@contextmanager
def running_eval_lab(prefix: str, *, agent: bool = True) -> Iterator[EvalLab]:
    """`breakfix run` with observability (and the agent), stopped and removed afterwards."""
    state_dir = make_state_dir(prefix)
    with WebhookReceiver() as receiver:
        write_operator_env(state_dir, receiver)
        if agent:
            env = lab_environment(state_dir, observability=True, agent=True)  # type: ignore[call-arg,unused-ignore]
        else:
            env = lab_environment(state_dir, observability=True)
        lab = BackgroundLab(state_dir, env)
        running: EvalLab | None = None
        try:
            lab.start(timeout=START_TIMEOUT_S)
            running = _connect(lab, receiver, agent=agent)
            yield running
        finally:
            if running is not None:
                running.close()
            if lab.proc is not None and lab.proc.poll() is None:
                lab.down()
            # BREAKFIX_KEEP_EVAL_STATE=1 keeps the state dir (logs, incidents) for a look.
            if not os.environ.get("BREAKFIX_KEEP_EVAL_STATE"):
                remove_state_dir(state_dir)


def _connect(lab: BackgroundLab, receiver: WebhookReceiver, *, agent: bool) -> EvalLab:
    paths = StatePaths.at(lab.state_dir)
    settings = lab_settings(lab)
    key = _admin_key(lab)
    key_id = key_id_of(key)
    assert key_id is not None, "the CLI printed no key"
    agent_client = None
    if agent:
        token = read_secret(paths.secret(INTAKE_TOKEN))
        port = int(lab.env["BREAKFIX_AGENT_PORT"])
        agent_client = _client(f"http://127.0.0.1:{port}", Authorization=f"Bearer {token}")
    return EvalLab(
        lab=lab,
        paths=paths,
        settings=settings,
        runtime=LocalRuntime.from_state_dir(paths),
        target_db=clusters(settings, paths)["target-db"],
        receiver=receiver,
        chaos=_client(
            f"http://127.0.0.1:{lab.port('CHAOS')}",
            **{"X-Chaos-Key": read_secret(paths.secret("chaos.key"))},
        ),
        agent=agent_client,
        observability=_client(f"http://127.0.0.1:{lab.port('OBSERVABILITY')}"),
        target=_client(f"http://127.0.0.1:{lab.port('TARGET')}"),
        actions=ActionClient(f"http://127.0.0.1:{lab.port('ACTION')}", key, timeout=240.0),
        eval_key_id=key_id,
    )


def until(check: Callable[[], bool], within_s: float, every_s: float = 0.5) -> bool:
    """Poll `check` until it is true or `within_s` has passed; whether it became true."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(every_s)
    return True
