"""The approval requests on a real ops-db: one answer each, expiry, one run each."""

import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from mcp_gateway.approvals import ApprovalError, Approvals
from tests.support.ops_db import fresh_ops_db
from tests.support.pg import RunningCluster


@pytest.fixture
def approvals(target_pg: RunningCluster) -> Iterator[Approvals]:
    # a database of its own per test: the cluster lives for the whole session
    store = Approvals(fresh_ops_db(target_pg, f"mcp_{secrets.token_hex(4)}"), ttl_s=60)
    yield store
    store.close()


def test_a_request_is_answered_once_and_claimed_to_run_once(approvals: Approvals) -> None:
    asked = approvals.request(client="c1", action="restore-db", params={}, reason="loss")
    assert approvals.get(asked.id).state == "pending"
    assert not approvals.claim_run(asked.id)  # pending: nothing may run it
    decided = approvals.decide(asked.id, approve=True, by="alice", note="go")
    assert (decided.state, decided.decided_by, decided.note) == ("approved", "alice", "go")
    with pytest.raises(ApprovalError) as twice:
        approvals.decide(asked.id, approve=False, by="bob")
    assert twice.value.code == "not_pending"

    wins: list[bool] = []
    racers = [
        threading.Thread(target=lambda: wins.append(approvals.claim_run(asked.id)))
        for _ in range(4)
    ]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(wins) == [False, False, False, True]
    done = approvals.finish(asked.id, ok=True, run_id="r1", run_status="succeeded", outcome="ok")
    assert (done.state, done.run_id) == ("executed", "r1")


def test_a_denied_request_never_runs_and_listing_filters_by_state(approvals: Approvals) -> None:
    kept = approvals.request(client="c1", action="scale-out", params={"replicas": 2}, reason="r")
    denied = approvals.request(client="c2", action="restore-db", params={}, reason="r")
    approvals.decide(denied.id, approve=False, by="alice")
    assert not approvals.claim_run(denied.id)
    assert [a.id for a in approvals.recent(state="pending")] == [kept.id]
    assert {a.id for a in approvals.recent()} == {kept.id, denied.id}
    with pytest.raises(ApprovalError) as unknown:
        approvals.get("apr_000000000000")
    assert unknown.value.code == "unknown_approval"


def test_an_unanswered_request_expires(target_pg: RunningCluster) -> None:
    short = Approvals(fresh_ops_db(target_pg, "mcp_expiry"), ttl_s=0.2)
    asked = short.request(client="c1", action="restore-db", params={}, reason="r")
    time.sleep(0.5)
    assert short.get(asked.id).state == "expired"
    with pytest.raises(ApprovalError) as late:
        short.decide(asked.id, approve=True, by="alice")
    assert late.value.code == "not_pending"
