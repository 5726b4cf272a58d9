"""A live lab for evaluations: observability and the agent running, the game day's handle on
it (the chaos key, an admin key of its own, the agent's incidents API; never the agent's
credentials), and a loopback Slack receiver."""

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from breakfix.background import (
    BackgroundLab,
    lab_environment,
    make_state_dir,
    remove_state_dir,
)
from gameday.lab_handle import GamedayLab, connect
from tests.support.lab_settings import lab_settings
from tests.support.webhook_receiver import WebhookReceiver

SLACK_PATH = "/slack/escalations"
START_TIMEOUT_S = 240.0

# The agent's policy for evaluations: high-risk fixes run unattended, no loop budget across
# cases, a short verification hold; "the same fault again soon" is not a failed fix here.
EVAL_ENV = {
    "AGENT_APPROVAL_REQUIRED": "[]",
    "AGENT_SAME_ACTION_MAX": "0",
    "AGENT_VERIFY_HOLD_S": "5",
    # A wrong first fix shows within a minute; the next hypothesis then fits in the case.
    "AGENT_VERIFY_TIMEOUT_S": "60",
    "AGENT_RECURRENCE_WINDOW_S": "0",
    # No scheduled snapshot: one taken mid-fault would be "the latest" restore-db picks.
    # The evaluation takes a verified snapshot itself right before a data-loss case.
    "ACTION_SNAPSHOT_INTERVAL_S": "0",
}


@dataclass
class EvalLab(GamedayLab):
    """The running lab, the game day's clients on it, and the test's Slack receiver."""

    lab: BackgroundLab
    receiver: WebhookReceiver


def write_operator_env(
    state_dir: Path, receiver: WebhookReceiver, overrides: dict[str, str] | None = None
) -> None:
    """The `.env` the lab reads from its cwd (the state dir): the evaluation's policy (with
    `overrides`) and the Slack webhook pointing at the loopback receiver, so `escalate`
    delivers."""
    lines = [f"{k}={v}" for k, v in {**EVAL_ENV, **(overrides or {})}.items()]
    lines.append(f"ACTION_SLACK_WEBHOOK_URL={receiver.url(SLACK_PATH)}")
    (state_dir / ".env").write_text("\n".join(lines) + "\n")


@contextmanager
def running_eval_lab(
    prefix: str, *, agent: bool = True, env: dict[str, str] | None = None
) -> Iterator[EvalLab]:
    """`breakfix run` with observability (and the agent), stopped and removed afterwards;
    `env` overrides the evaluation's policy (EVAL_ENV)."""
    state_dir = make_state_dir(prefix)
    with WebhookReceiver() as receiver:
        write_operator_env(state_dir, receiver, env)
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
    """The game day's handle on the lab (its own admin key), plus the test's receiver."""
    handle = connect(lab_settings(lab), agent=agent)
    fields = {f.name: getattr(handle, f.name) for f in dataclasses.fields(handle)}
    return EvalLab(**fields, lab=lab, receiver=receiver)
