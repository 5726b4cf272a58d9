"""The action server end to end: the real server in a real lab, called over HTTP."""

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg2
import pytest

from action_server.client import ActionClient, ActionClientError
from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.envfile import read_env, write_env
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from tests.support.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="module")
def hooks() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def lab(hooks: WebhookReceiver) -> Iterator[BackgroundLab]:
    state_dir = make_state_dir("breakfix-api-")
    env = lab_environment(state_dir)
    env.update(
        ACTION_RATE_HIGH="3/minute",
        ACTION_KNOWN_GOOD_INTERVAL_S="0.5",
        ACTION_SNAPSHOT_INTERVAL_S="0",
        ACTION_SLACK_WEBHOOK_URL=hooks.url("/slack"),
        ACTION_DISCORD_WEBHOOK_URL=hooks.url("/discord"),
    )
    running = BackgroundLab(state_dir, env)
    try:
        running.start()
        yield running
    finally:
        running.down()
        remove_state_dir(state_dir)


def new_key(lab: BackgroundLab, scope: str) -> str:
    result = lab.cli("keys", "create", "--scope", scope, "--name", f"test-{scope}")
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def admin(lab: BackgroundLab) -> Iterator[ActionClient]:
    with ActionClient(url(lab), new_key(lab, "admin")) as client:
        yield client


def url(lab: BackgroundLab) -> str:
    return f"http://127.0.0.1:{lab.port('ACTION')}"


def target(lab: BackgroundLab) -> str:
    return f"http://127.0.0.1:{lab.port('TARGET')}"


def test_keys_are_shown_once_scoped_and_revocable(lab: BackgroundLab) -> None:
    created = lab.cli("keys", "create", "--scope", "read", "--name", "reader")
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("bfx_") and created.stdout.strip() == key  # alone on its line
    key_id = key.split("_")[1]
    listing = lab.cli("keys", "list").stdout
    assert key_id in listing and key.split("_", 2)[2] not in listing
    with ActionClient(url(lab), key) as reader:
        assert {a["name"] for a in reader.actions()} >= {"restart-api", "restore-db"}
        assert reader.act("restart-api", dry_run=True).status == "dry_run"
        with pytest.raises(ActionClientError) as refused:
            reader.act("restart-api")
        assert refused.value.status == 403 and refused.value.code == "forbidden"
        lab.cli("keys", "revoke", key_id)
        with pytest.raises(ActionClientError) as revoked:
            reader.actions()
        assert revoked.value.status == 401
    assert lab.cli("keys", "revoke", key_id, check=False).returncode == 1
    assert lab.cli("keys", "create", "--scope", "root", "--name", "x", check=False).returncode == 2


def test_missing_wrong_key_unknown_action_and_bad_params(lab: BackgroundLab) -> None:
    base = url(lab)
    assert httpx.get(f"{base}/actions").json()["code"] == "unauthorized"
    wrong = httpx.get(f"{base}/actions", headers={"X-API-Key": "bfx_000000000000_" + "x" * 43})
    assert wrong.status_code == 401
    key = new_key(lab, "act")
    bearer = {"Authorization": f"Bearer {key}"}
    assert httpx.get(f"{base}/actions", headers=bearer).status_code == 200
    unknown = httpx.post(f"{base}/action/reboot-universe", headers=bearer)
    assert unknown.status_code == 404 and unknown.json()["code"] == "not_found"
    bad = httpx.post(
        f"{base}/action/switch-to-fallback", headers=bearer, json={"dependency": "dns", "extra": 1}
    )
    assert bad.status_code == 422 and bad.json()["code"] == "validation_error"
    assert {tuple(e["loc"]) for e in bad.json()["detail"]} == {
        ("body", "dependency"),
        ("body", "extra"),
    }
    correlated = httpx.get(f"{base}/actions", headers={**bearer, "X-Correlation-ID": "abc-123"})
    assert correlated.headers["X-Correlation-ID"] == "abc-123"
    assert httpx.get(f"{base}/actions", headers=bearer).headers["X-Correlation-ID"]


def test_switch_to_fallback_and_undo(lab: BackgroundLab, admin: ActionClient) -> None:
    env_file = StatePaths.at(lab.state_dir).target_env
    run = admin.act("switch-to-fallback", {"dependency": "pricing", "route": "fallback"})
    assert run.status == "succeeded", run
    assert read_env(env_file)["TARGET_PRICING_ROUTE"] == "fallback"
    price = httpx.get(f"{target(lab)}/products/2/price").json()
    assert price["source"] == "fallback"
    again = admin.act("switch-to-fallback", {"dependency": "pricing", "route": "fallback"})
    assert again.status == "succeeded" and not again.undo_available  # idempotent no-op
    undone = admin.undo(run.id)
    assert undone.status == "succeeded" and undone.undo_of == run.id
    assert read_env(env_file)["TARGET_PRICING_ROUTE"] == "primary"
    assert admin.run(run.id).undone_by == undone.id
    with pytest.raises(ActionClientError) as twice:
        admin.undo(run.id)
    assert twice.value.code == "not_undoable"


def test_a_switch_that_does_not_verify_is_rolled_back(
    lab: BackgroundLab, admin: ActionClient
) -> None:
    runtime = LocalRuntime.from_state_dir(StatePaths.at(lab.state_dir))
    try:
        runtime.stop("upstream-fallback")  # the fallback is down: the switch cannot verify
        run = admin.act("switch-to-fallback", {"dependency": "pricing"})
        assert run.status == "rolled_back" and run.error
        env = read_env(StatePaths.at(lab.state_dir).target_env)
        assert env["TARGET_PRICING_ROUTE"] == "primary"
        assert httpx.get(f"{target(lab)}/ready").status_code == 200
    finally:
        runtime.start("upstream-fallback")
        runtime.close()


def test_idempotency_key_replays_and_acts_once(lab: BackgroundLab, admin: ActionClient) -> None:
    key = f"idem-{uuid.uuid4()}"
    first = admin.act("clear-cache", idempotency_key=key)
    replay = admin.act("clear-cache", idempotency_key=key)
    assert replay.id == first.id
    with pytest.raises(ActionClientError) as reused:
        admin.act("switch-to-fallback", {"route": "primary"}, idempotency_key=key)
    assert reused.value.status == 422 and reused.value.code == "idempotency_key_reused"

    shared = f"idem-{uuid.uuid4()}"
    correlations = [f"{shared}-{n}" for n in range(6)]
    with ThreadPoolExecutor(6) as pool:
        runs = list(
            pool.map(
                lambda c: admin.act(
                    "restart-api", idempotency_key=shared, wait=True, correlation_id=c
                ),
                correlations,
            )
        )
    assert len({r.id for r in runs}) == 1 and runs[0].status == "succeeded"
    rows = [
        r for r in admin.audit(action="restart-api", limit=100) if r.correlation_id in correlations
    ]
    assert len(rows) == 6
    assert [r.outcome for r in rows].count("replayed") == 5  # exactly one acted


def test_one_mutating_action_per_target(lab: BackgroundLab, admin: ActionClient) -> None:
    barrier = threading.Barrier(2)

    def restart(_: int) -> Any:
        barrier.wait()
        try:
            return admin.act("restart-api").status
        except ActionClientError as exc:
            return exc.code

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(restart, range(2)))
    assert outcomes == ["succeeded", "target_busy"]


def test_rate_limit_per_key_and_class(lab: BackgroundLab) -> None:
    with ActionClient(url(lab), new_key(lab, "act")) as client:
        codes = []
        for _ in range(4):  # scale-out is a high-risk action: 3 per minute in this lab
            try:
                client.act("scale-out", {"replicas": 2})
            except ActionClientError as exc:
                codes.append((exc.code, exc.retry_after))
        assert [c for c, _ in codes[:3]] == ["not_supported"] * 3
        code, retry_after = codes[3]
        assert code == "rate_limited" and retry_after is not None and 0 < retry_after <= 60
        assert client.act("restart-api", dry_run=True).status == "dry_run"  # other classes open
    with ActionClient(url(lab), new_key(lab, "act")) as other:  # limits are per key
        with pytest.raises(ActionClientError) as fresh:
            other.act("scale-out", {"replicas": 2})
        assert fresh.value.code == "not_supported"


def test_escalate_posts_slack_and_discord_payloads(
    admin: ActionClient, hooks: WebhookReceiver
) -> None:
    run = admin.act(
        "escalate",
        {
            "summary": "db partition, no safe fix",
            "incident_id": "inc-7",
            "details": {"password": "hunter2", "signal": "probe 503"},
        },
    )
    assert run.status == "succeeded"
    slack, discord = hooks.received["/slack"][-1], hooks.received["/discord"][-1]
    assert "db partition" in slack["text"] and slack["blocks"][0]["type"] == "header"
    assert discord["embeds"][0]["description"] == "db partition, no safe fix"
    assert run.params["details"]["password"] == "[redacted]"
    assert run.params["details"]["signal"] == "probe 503"
    records = str([r.model_dump() for r in admin.audit(limit=50)]) + run.model_dump_json()
    assert "hunter2" not in records and hooks.url("") not in records  # webhook URLs are secret
    hooks.fail_paths.add("/discord")
    try:
        failed = admin.act("escalate", {"summary": "second page"})
        assert failed.status == "failed" and "discord" in (failed.error or "")
    finally:
        hooks.fail_paths.clear()


def test_audit_records_refusals_with_redacted_params(
    lab: BackgroundLab, admin: ActionClient
) -> None:
    base = url(lab)
    marker = f"corr-{uuid.uuid4()}"
    httpx.post(
        f"{base}/action/escalate",
        json={"summary": "x", "details": {"token": "s3cret"}},
        headers={"X-Correlation-ID": marker, "X-API-Key": "bfx_abcdefabcdef_" + "y" * 43},
    )
    rows = [r for r in admin.audit(action="escalate", limit=100) if r.correlation_id == marker]
    assert len(rows) == 1
    row = rows[0]
    assert row.status_code == 401 and row.outcome == "refused"
    assert row.key_id is None and row.claimed_key_id == "abcdefabcdef"  # claimed, not proven
    assert row.error_code == "unauthorized"
    assert "s3cret" not in str(row.params)
    with ActionClient(base, new_key(lab, "act")) as actor:
        with pytest.raises(ActionClientError) as forbidden:
            actor.audit()
        assert forbidden.value.status == 403


def test_regenerate_env_rotates_the_password_everywhere(
    lab: BackgroundLab, admin: ActionClient
) -> None:
    paths = StatePaths.at(lab.state_dir)
    old = read_secret(paths.secret("target-db-app.password"))
    run = admin.act("regenerate-env")
    assert run.status == "succeeded", run
    new = read_secret(paths.secret("target-db-app.password"))
    assert new != old and f":{new}@" in read_env(paths.target_env)["TARGET_DATABASE_URL"]
    assert new not in run.model_dump_json() and old not in run.model_dump_json()
    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(
            host="127.0.0.1",
            port=lab.port("TARGET_DB"),
            dbname="shop",
            user="breakfix_app",
            password=old,
        )
    assert httpx.get(f"{target(lab)}/ready").status_code == 200
    assert new not in str([r.model_dump() for r in admin.audit(limit=20)])


def test_rollback_config_restores_the_last_ready_env(
    lab: BackgroundLab, admin: ActionClient
) -> None:
    paths = StatePaths.at(lab.state_dir)
    time.sleep(1.5)  # the known good env is recorded every 0.5 s while the target is ready
    good = read_env(paths.target_env)
    write_env(paths.target_env, {**good, "TARGET_DB_POOL_TIMEOUT_S": "not-a-number"})
    runtime = LocalRuntime.from_state_dir(paths)
    try:
        runtime.restart("target")  # a bad setting: the target refuses to start
        time.sleep(1.0)
        assert runtime.status("target").health != "healthy"
    finally:
        runtime.close()
    run = admin.act("rollback-config")
    assert run.status == "succeeded", run
    assert run.details["result"]["keys"] == ["TARGET_DB_POOL_TIMEOUT_S"]
    assert read_env(paths.target_env) == good
    assert httpx.get(f"{target(lab)}/ready").status_code == 200
    with pytest.raises(ActionClientError) as nothing:
        admin.act("rollback-config", dry_run=True)
    assert nothing.value.code == "precondition_failed"
    undone = admin.undo(run.id)  # back to the broken env, as the undo promises...
    assert undone.status == "failed"  # ...which the target cannot start under, and says so
    assert read_env(paths.target_env)["TARGET_DB_POOL_TIMEOUT_S"] == "not-a-number"
    assert admin.act("rollback-config").status == "succeeded"
    assert read_env(paths.target_env) == good


def test_restart_db_waits_for_readiness(lab: BackgroundLab, admin: ActionClient) -> None:
    run = admin.act("restart-db")
    assert run.status == "succeeded" and run.details["result"]["took_s"] > 0
    deadline = time.monotonic() + 15
    while httpx.get(f"{target(lab)}/products").status_code != 200:
        assert time.monotonic() < deadline, "target did not reconnect after restart-db"
        time.sleep(0.2)


def test_clear_cache_never_follows_links_out(
    lab: BackgroundLab, admin: ActionClient, tmp_path: Path
) -> None:
    httpx.get(f"{target(lab)}/products/3/price").raise_for_status()
    cache = Path(read_env(StatePaths.at(lab.state_dir).target_env)["TARGET_CACHE_DIR"])
    outside = tmp_path / "precious.txt"
    outside.write_text("keep me")
    (cache / "link-out").symlink_to(outside)
    plan = admin.act("clear-cache", dry_run=True)
    assert plan.details["plan"]["entries"] >= 2
    run = admin.act("clear-cache")
    assert run.status == "succeeded" and run.details["result"]["removed"] >= 2
    assert list(cache.iterdir()) == [] and outside.read_text() == "keep me"


def test_act_command_line(lab: BackgroundLab) -> None:
    planned = lab.cli("act", "clear-cache", "--dry-run")
    assert '"status": "dry_run"' in planned.stdout
    switched = lab.cli("act", "switch-to-fallback", "--param", "route=primary")
    assert '"status": "succeeded"' in switched.stdout
    refused = lab.cli("act", "scale-out", "--param", "replicas=3", check=False)
    assert refused.returncode == 1 and "not_supported" in refused.stderr
    bad = lab.cli("act", "clear-cache", "--param", "oops", check=False)
    assert bad.returncode == 2


def test_switch_db_route_to_the_fallback_lane_and_back(
    lab: BackgroundLab, admin: ActionClient
) -> None:
    paths = StatePaths.at(lab.state_dir)
    assert f":{lab.port('DB_PROXY')}/shop" in read_env(paths.target_env)["TARGET_DATABASE_URL"]
    run = admin.act("switch-to-fallback", {"dependency": "db", "route": "fallback"})
    assert run.status == "succeeded", run
    env = read_env(paths.target_env)
    assert env["TARGET_DB_ROUTE"] == "fallback"
    assert f":{lab.port('DB_PROXY_FALLBACK')}/shop" in env["TARGET_DATABASE_URL"]
    assert httpx.get(f"{target(lab)}/products").status_code == 200
    runtime = LocalRuntime.from_state_dir(paths)
    try:
        runtime.stop("db-proxy")  # no route at all now: switching is refused, nothing changes
        with pytest.raises(ActionClientError) as refused:
            admin.undo(run.id)  # back to primary needs db-proxy running
        assert refused.value.code == "precondition_failed"
        runtime.start("db-proxy")
        deadline = time.monotonic() + 10
        while runtime.status("db-proxy").health != "healthy":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        runtime.close()
    undone = admin.undo(run.id)
    assert undone.status == "succeeded"
    assert f":{lab.port('DB_PROXY')}/shop" in read_env(paths.target_env)["TARGET_DATABASE_URL"]
    assert httpx.get(f"{target(lab)}/ready").status_code == 200


def test_an_oversized_body_is_refused_before_anything_reads_it(lab: BackgroundLab) -> None:
    response = httpx.post(
        f"{url(lab)}/action/escalate",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_undo_refuses_to_discard_a_later_change(lab: BackgroundLab, admin: ActionClient) -> None:
    first = admin.act("switch-to-fallback", {"dependency": "pricing"})
    second = admin.act("switch-to-fallback", {"dependency": "db"})
    assert first.status == second.status == "succeeded"
    with pytest.raises(ActionClientError) as refused:
        admin.undo(first.id)
    assert refused.value.code == "not_undoable" and str(second.id) in str(refused.value.detail)
    assert admin.undo(second.id).status == "succeeded"
    assert admin.undo(first.id).status == "succeeded"
    env = read_env(StatePaths.at(lab.state_dir).target_env)
    assert env["TARGET_PRICING_ROUTE"] == env["TARGET_DB_ROUTE"] == "primary"


def test_clear_cache_refuses_a_drifted_cache_dir(lab: BackgroundLab, admin: ActionClient) -> None:
    paths = StatePaths.at(lab.state_dir)
    good = read_env(paths.target_env)
    write_env(paths.target_env, {**good, "TARGET_CACHE_DIR": str(paths.root / "pg")})
    try:
        with pytest.raises(ActionClientError) as refused:
            admin.act("clear-cache")
        assert refused.value.code == "precondition_failed"
        assert (paths.root / "pg" / "target-db").exists()
    finally:
        write_env(paths.target_env, good)
