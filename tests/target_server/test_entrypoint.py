"""`python -m target_server` against the real database: serves, logs JSON, names itself."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.pg import RunningCluster
from tests.support.ports import free_port
from tests.support.target_server import PRIMARY_HOST, write_hosts


def test_serves_and_identifies_itself(
    migrated_db: str, target_pg: RunningCluster, pricing_stubs: dict[str, int], tmp_path: Path
) -> None:
    port = free_port()
    hosts = tmp_path / "hosts"
    write_hosts(hosts, {PRIMARY_HOST: "127.0.0.1"})
    env = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_")}
    env.update(
        TARGET_DATABASE_URL=migrated_db,
        TARGET_PORT=str(port),
        TARGET_CACHE_DIR=str(tmp_path / "cache"),
        TARGET_HOSTS_FILE=str(hosts),
        TARGET_PRICING_PRIMARY_URL=f"http://{PRIMARY_HOST}:{pricing_stubs['primary']}",
        TARGET_DB_APPLICATION_NAME="breakfix-target-e2e",
    )
    log_path = tmp_path / "target.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "target_server"], env=env, stdout=log, stderr=log
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "target did not start"
                time.sleep(0.1)
        ready = httpx.get(f"{base}/ready", timeout=10)
        assert ready.status_code == 200, ready.text
        conn = target_pg.cluster.connect()
        try:
            with conn.cursor() as cur:
                cur.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    ("breakfix-target-e2e",),
                )
                row = cur.fetchone()
        finally:
            conn.close()
        assert row is not None and row[0] >= 1
        listing = httpx.get(f"{base}/products", headers={"X-Correlation-ID": "e2e-1"}, timeout=5)
        assert listing.headers["X-Correlation-ID"] == "e2e-1"
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    access = [e for e in lines if e.get("msg") == "request" and e.get("route") == "/products"]
    assert access and access[0]["correlation_id"] == "e2e-1"
    assert access[0]["status"] == 200
    password = migrated_db.split(":")[2].split("@")[0]
    assert password not in log_path.read_text()
