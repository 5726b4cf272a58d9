"""The lab on Compose, on a real Docker engine: every fault and action of the catalogue on the
docker backend, then a game day the agent plays inside its container.

One stack (`make compose-up` on free ports, a project of its own; one stack rather than one
per part: a second stack beside the rest of `make test` costs CI minutes on two cores), with
the evaluations' agent policy given the way an operator gives it (a `.env` read by `init`).

Part 1, the catalogue, with the agent stopped so each fix is this test's: inject the fault
through the chaos server, see it take hold (through the engine where that is the mechanism:
api-crash kills the container, api-hang pauses it, db-down stops target-db), run the
catalogue's correct action through the action server (which acts through the docker runtime
backend; snapshot-db and restore-db over the network), see a user's journey succeed again,
then revert the fault and put routes back. escalate posts to a loopback Slack receiver. The
one documented refusal: scale-out (one container per service on host networking).

Part 2, the game day, with the agent started: for api-crash, api-hang, db-down, db-lock and
upstream-outage the game day's user-journey probe runs from this process, the chaos server
injects the fault, and the case passes when the agent's own action (its key, in the action
server's audit) ended the outage and it took no other action; the outage is measured with the
game day's arithmetic (gameday.outage) and printed, for the README.
"""

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from action_server.client import ActionClient, ActionClientError
from action_server.keys import key_id_of
from lab.catalogue.registry import CatalogueFault, get_catalogue
from tests.support.agent_case import CASES, run_case, wait_settled
from tests.support.compose_stack import (
    ComposeStack,
    journey_ok,
    running_stack,
    skip_without_engine,
    wait_until,
)
from tests.support.eval_lab import EVAL_ENV, SLACK_PATH
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

skip_without_engine()

FAULTS = get_catalogue().faults
# What the engine shows while the fault holds, where the engine is the mechanism.
ENGINE_STATE = {"api-crash": ("target", "stopped"), "db-down": ("target-db", "stopped")}
NO_RECOVERY = {"net-db-partition"}  # escalate pages a human; nothing is fixed here


@pytest.fixture(scope="module")
def receiver() -> Iterator[WebhookReceiver]:
    """Where escalate's Slack webhook posts (the action container shares the host network)."""
    with WebhookReceiver() as running:
        yield running


@pytest.fixture(scope="module")
def stack(receiver: WebhookReceiver) -> Iterator[ComposeStack]:
    """The lab on Compose with the evaluations' agent policy; its agent stopped until the
    game day, escalations delivered to `receiver`."""
    operator_env = {
        **EVAL_ENV,
        # an escalated case's alerts must not be taken over by it for the next case
        "AGENT_HANDOVER_S": "0",
        "ACTION_SLACK_WEBHOOK_URL": receiver.url(SLACK_PATH),
        "ACTION_SNAPSHOT_INTERVAL_S": "0",  # restore-db restores the test's own snapshot
        # the catalogue's cases follow each other within seconds: the known-good env
        # (rollback-config's) is taken in the short ready spells between them
        "ACTION_KNOWN_GOOD_INTERVAL_S": "1",
    }
    with running_stack("bfxlab", operator_env=operator_env) as running:
        running.runtime.stop("agent")
        yield running


@pytest.fixture(scope="module")
def admin_key(stack: ComposeStack) -> str:
    """The test's own admin key of the action server (its actions are not the agent's)."""
    return stack.action_key()


@pytest.fixture(scope="module")
def actions(stack: ComposeStack, admin_key: str) -> Iterator[ActionClient]:
    """An admin client of the stack's action server, with a first verified snapshot."""
    client = ActionClient(stack.url("ACTION"), admin_key, timeout=240.0)
    run = client.act("snapshot-db", {"label": "compose-test"}, wait=True)
    assert run.status == "succeeded", run
    yield client
    client.close()


@pytest.fixture(scope="module")
def chaos(stack: ComposeStack) -> Iterator[httpx.Client]:
    """The stack's chaos server, with its key."""
    client = stack.chaos()
    yield client
    client.close()


# --- Part 1: every fault, then its action, on the docker backend -------------------------------


def _take_hold(stack: ComposeStack, fault: CatalogueFault) -> None:
    """Wait for the engine to show the fault, where the engine is its mechanism."""
    if fault.id == "api-hang":
        container = stack.runtime._container("target")

        def paused() -> bool:
            container.reload()
            return bool(container.attrs["State"]["Paused"])

        assert wait_until(paused, 15), "api-hang did not pause the target container"
    elif fault.id in ENGINE_STATE:
        service, health = ENGINE_STATE[fault.id]
        assert wait_until(lambda: stack.runtime.status(service).health == health, 30), fault.id


def _act(stack: ComposeStack, actions: ActionClient, fault: CatalogueFault) -> dict[str, Any]:
    """The fault's correct action, run for real; its run (with the action server's last log
    lines when it failed) or its documented refusal."""
    assert fault.action is not None
    params = dict(fault.params)
    if fault.action == "escalate":
        params["summary"] = f"{fault.id}: no route to target-db left (compose test)"
    try:
        run = actions.act(fault.action, params, wait=True)
    except ActionClientError as exc:
        return {"refused": exc.code, "detail": exc.detail}
    outcome = {"status": run.status, "error": run.error, "details": run.details}
    if run.status != "succeeded":
        outcome["action_log"] = stack.runtime.logs("action", 40)
    return outcome


@pytest.mark.parametrize("fault", FAULTS, ids=[f.id for f in FAULTS])
def test_fault_then_its_action(
    stack: ComposeStack,
    chaos: httpx.Client,
    actions: ActionClient,
    receiver: WebhookReceiver,
    fault: CatalogueFault,
) -> None:
    target = stack.url("TARGET")
    assert wait_until(lambda: journey_ok(target), 90), "the lab was not healthy before the fault"
    injected = chaos.post(f"/break/{fault.id}", json={"ttl_s": 300})
    assert injected.status_code == 201, injected.text
    fault_ref = injected.json()["id"]
    try:
        _take_hold(stack, fault)
        if fault.action is None:  # the control: nothing breaks
            assert journey_ok(target)
            return
        outcome = _act(stack, actions, fault)
        assert outcome.get("status") == "succeeded", outcome
        if fault.action == "escalate":
            assert receiver.received.get(SLACK_PATH), "escalate posted nothing"
        if fault.id not in NO_RECOVERY:
            assert wait_until(lambda: journey_ok(target), 90), f"{fault.id}: not fixed"
    finally:
        chaos.delete(f"/faults/{fault_ref}")
        if fault.action == "switch-to-fallback":  # the route back to primary
            back = {**fault.params, "route": "primary"}
            assert actions.act("switch-to-fallback", back, wait=True).status == "succeeded"
        if not wait_until(lambda: journey_ok(target), 30):
            actions.act("restart-api", wait=True)
    assert wait_until(lambda: journey_ok(target), 90), f"{fault.id}: lab not healthy after"


def test_scale_out_is_a_documented_refusal(actions: ActionClient) -> None:
    with pytest.raises(ActionClientError) as refused:
        actions.act("scale-out", {"service": "target", "replicas": 2}, wait=True)
    assert refused.value.code == "not_supported"
    assert "host networking" in str(refused.value.detail)


def test_runtime_stats_come_from_the_docker_stats_api(stack: ComposeStack) -> None:
    stats = stack.runtime.stats("target")
    assert stats.rss_bytes > 0 and stats.processes >= 1
    observed = httpx.get(
        f"{stack.url('OBSERVABILITY')}/series",
        params={"metric": "process_rss_bytes", "service": "target"},
        trust_env=False,
    ).json()
    assert observed["points"] and all(p["value"] > 0 for p in observed["points"])


# --- Part 2: the game day, the agent inside its container ---------------------------------------


@pytest.fixture(scope="module")
def agent(stack: ComposeStack, admin_key: str) -> Iterator[str]:
    """The agent started (after part 1) and running its pipeline; the id of the test's own
    key, whose actions are not the agent's."""
    stack.runtime.start("agent")

    def running() -> bool:
        try:
            health = httpx.get(f"{stack.url('AGENT')}/healthz", timeout=5, trust_env=False)
        except httpx.HTTPError:
            return False
        return health.status_code == 200 and health.json().get("pipeline") == "running"

    assert wait_until(running, 180), "the agent did not start its pipeline"
    yield key_id_of(admin_key) or ""


@pytest.mark.parametrize("fault", list(CASES))
def test_the_agent_fixes_it_inside_containers(
    stack: ComposeStack, actions: ActionClient, chaos: httpx.Client, agent: str, fault: str
) -> None:
    target = stack.url("TARGET")
    assert wait_until(lambda: journey_ok(target), 120), "the lab was not healthy before the case"
    wait_settled(stack.url("OBSERVABILITY"))
    result = run_case(target=target, chaos=chaos, actions=actions, own_key_id=agent, fault=fault)
    print(f"\n{result.line('docker', fault)}")  # noqa: T201 - the figures the README quotes
    if CASES[fault] == "switch-to-fallback":
        actions.act("switch-to-fallback", {"dependency": "pricing", "route": "primary"}, wait=True)
    assert result.outage.failed_journeys > 0, "the fault never reached users"
    assert result.outage.recovered, f"{fault}: users not served again"
    assert (CASES[fault], "succeeded") in result.actions, result.actions
    # no wrong action: nothing but the fault's own fix was done (a dry run is not done)
    done = {action for action, outcome in result.actions if outcome != "dry_run"}
    assert done == {CASES[fault]}, result.actions
    assert journey_ok(target)


# --- Part 3: Prometheus' Alertmanager delivers to the agent -------------------------------------


def _webhook_requests(alertmanager: str) -> tuple[float, float]:
    """Alertmanager's webhook requests: (made, failed), from its own /metrics."""
    text = httpx.get(f"{alertmanager}/metrics", timeout=5, trust_env=False).text
    made = failed = 0.0
    for line in text.splitlines():
        if 'integration="webhook"' not in line or line.startswith("#"):
            continue
        if line.startswith("alertmanager_notification_requests_total"):
            made += float(line.rsplit(" ", 1)[1])
        elif line.startswith("alertmanager_notification_requests_failed_total"):
            failed += float(line.rsplit(" ", 1)[1])
    return made, failed


def test_alertmanager_delivers_to_the_agent_with_its_intake_token(
    stack: ComposeStack, agent: str
) -> None:
    """The agent (running: part 2 started it) refuses a webhook without its intake token:
    Alertmanager's receiver sends it from the secret Compose gives that container (it was
    missing, and every notification was refused with a 401)."""
    alertmanager = stack.url("ALERTMANAGER")
    made_before, failed_before = _webhook_requests(alertmanager)
    alert = {
        "labels": {"alertname": "ComposeDeliveryCheck", "service": "target", "severity": "info"},
        "annotations": {"summary": "a delivery check from the Compose test"},
    }
    posted = httpx.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=5, trust_env=False)
    assert posted.status_code == 200, posted.text
    assert wait_until(lambda: _webhook_requests(alertmanager)[0] > made_before, 60), (
        "Alertmanager made no webhook request"
    )
    time.sleep(1)  # a request's failure is counted when its answer is in
    made, failed = _webhook_requests(alertmanager)
    assert failed == failed_before, (made, failed, stack.runtime.logs("alertmanager", 5))
