"""Every fault and action of the catalogue on the docker backend, in a real Compose stack.

One stack (`make compose-up` on free ports, a project of its own) with its agent stopped, so
each fix below is this test's: inject the fault through the chaos server, see it take hold
(through the engine where that is the mechanism: api-crash kills the container, api-hang
pauses it, db-down stops target-db), run the catalogue's correct action through the action
server (which acts through the docker runtime backend), see a user's journey succeed again,
then revert the fault and put the routes back. escalate posts to a loopback Slack receiver.
The one documented refusal: scale-out (one container per service on host networking).
"""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from action_server.client import ActionClient, ActionClientError
from lab.catalogue.registry import CatalogueFault, get_catalogue
from tests.support.compose_stack import (
    ComposeStack,
    journey_ok,
    running_stack,
    skip_without_engine,
    wait_until,
)
from tests.support.eval_lab import SLACK_PATH
from tests.support.webhook_receiver import WebhookReceiver

# deep (`make test-deep`) for now: a fresh-clone `make test` on 2026-12-06 failed three of its
# cases (db-data-loss's restore-db, config-drift's rollback-config, the stats test) that had
# passed on the helper's longer-lived stack; issue 18 stays open until they pass every time
pytestmark = [pytest.mark.slow, pytest.mark.deep, pytest.mark.timeout(900)]

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
    """The lab on Compose, its agent stopped, escalations delivered to `receiver`."""
    operator_env = {
        "ACTION_SLACK_WEBHOOK_URL": receiver.url(SLACK_PATH),
        "ACTION_SNAPSHOT_INTERVAL_S": "0",  # restore-db restores the test's own snapshot
        # the cases follow each other within seconds: the known-good env (rollback-config's)
        # is taken in the short ready spells between them, e.g. after regenerate-env
        "ACTION_KNOWN_GOOD_INTERVAL_S": "1",
    }
    with running_stack("bfxcat", operator_env=operator_env) as running:
        running.runtime.stop("agent")
        yield running


@pytest.fixture(scope="module")
def actions(stack: ComposeStack) -> Iterator[ActionClient]:
    """An admin client of the stack's action server, with a first verified snapshot."""
    client = stack.action_client()
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
