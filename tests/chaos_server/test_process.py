"""`python -m chaos_server` as a real process: served, SIGKILLed mid-fault, reconciled."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from breakfix.background import BackgroundLab
from lab.ports import free_port
from lab.runtime.local import LocalRuntime
from tests.support.chaos_lab import ChaosFactory, target_url, wait_for

pytestmark = pytest.mark.slow


def test_sigkill_mid_fault_then_a_new_server_reverts_it(
    make_chaos: ChaosFactory,
    lab: BackgroundLab,
    runtime: LocalRuntime,
    ops_db_url: str,
    chaos_key: tuple[Path, str],
) -> None:
    port = free_port()
    env = {
        **lab.env,
        "CHAOS_OPS_DB_URL": ops_db_url,
        "CHAOS_KEY_FILE": str(chaos_key[0]),
        "CHAOS_PORT": str(port),
        "CHAOS_ALLOWLIST": '["target", "target-db"]',
    }
    log = lab.state_dir / "chaos-process.log"
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "chaos_server"], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    base, headers = f"http://127.0.0.1:{port}", {"X-Chaos-Key": chaos_key[1]}
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, what=f"chaos server up ({log.read_text()[-500:]})")
        created = httpx.post(
            f"{base}/break/api-hang", json={"ttl_s": 300}, headers=headers, timeout=30
        )
        assert created.status_code == 201, created.text
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    time.sleep(0.5)
    with pytest.raises(httpx.TimeoutException):  # still frozen: nobody reverted it
        httpx.get(target_url(lab, "/ready"), timeout=1.5)

    chaos = make_chaos()
    fault = chaos.get(f"/faults/{created.json()['id']}").json()
    assert (fault["state"], fault["revert_reason"]) == ("reverted", "injector_died")
    assert httpx.get(target_url(lab, "/ready"), timeout=5).status_code == 200


def test_bad_settings_exit_2_naming_the_variable(lab: BackgroundLab) -> None:
    env = {k: v for k, v in lab.env.items() if not k.startswith("CHAOS_")}
    result = subprocess.run(
        [sys.executable, "-m", "chaos_server"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "CHAOS_OPS_DB_URL" in result.stderr and "CHAOS_KEY_FILE" in result.stderr
