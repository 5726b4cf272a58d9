"""The lab as a Compose stack on the real Docker engine, on free ports, for live tests.

`running_stack` runs `scripts/compose.sh up` under a Compose project of its own (so a stack on
the default ports, or another test's, is never touched) and `down --volumes` afterwards. The
services' dependency volume is shared (`breakfix-venv`): only the first stack installs it.
"""

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from action_server.client import ActionClient
from action_server.keys import Scope, create_key
from action_server.store import Store
from gameday.probe import JourneyProbe
from lab.runtime.docker import DockerRuntime
from tests.support.ports import free_port

ROOT = Path(__file__).resolve().parents[2]
SECRETS = ROOT / ".compose" / "secrets"
PORTS = (
    "TARGET",
    "UPSTREAM_PRIMARY",
    "UPSTREAM_FALLBACK",
    "TARGET_DB",
    "OPS_DB",
    "ACTION",
    "DB_PROXY",
    "DB_PROXY_FALLBACK",
    "DB_PROXY_ADMIN",
    "CHAOS",
    "OBSERVABILITY",
    "AGENT",
    "CONSOLE",
    "PROMETHEUS",
    "ALERTMANAGER",
)


def skip_without_engine() -> None:
    """Skip the calling test module, saying why, when no engine or base image is here."""
    import pytest

    problem = engine_problem()
    if problem is not None:
        pytest.skip(
            f"{problem}; run scripts/docker_engine.sh (as root) to start an engine and build it",
            allow_module_level=True,
        )


def engine_problem() -> str | None:
    """Why a Compose stack cannot run here, or None when it can."""
    if shutil.which("docker") is None:
        return "no docker client"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "no reachable docker engine"
    image = subprocess.run(
        ["docker", "image", "inspect", "breakfix-base"], capture_output=True, check=False
    )
    if image.returncode != 0:
        return "image breakfix-base is missing"
    return None


@dataclass
class ComposeStack:
    """A running stack: its project, its ports and clients on it."""

    project: str
    ports: dict[str, int]
    env: dict[str, str] = field(repr=False)
    runtime: DockerRuntime = field(repr=False)

    def url(self, name: str) -> str:
        """http://127.0.0.1:<port> of a service (name as in PORTS, e.g. "TARGET")."""
        return f"http://127.0.0.1:{self.ports[name]}"

    def compose(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """scripts/compose.sh with this stack's project and ports."""
        return subprocess.run(
            [str(ROOT / "scripts" / "compose.sh"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def chaos(self) -> httpx.Client:
        """A chaos client with the stack's chaos key."""
        key = (SECRETS / "chaos.key").read_text().strip()
        return httpx.Client(
            base_url=self.url("CHAOS"), headers={"X-Chaos-Key": key}, timeout=60, trust_env=False
        )

    def ops_url(self) -> str:
        """ops-db over TCP with the ops role's password (from the stack's secret file)."""
        password = (SECRETS / "ops-db.password").read_text().strip()
        port = self.ports["OPS_DB"]
        return f"postgresql+psycopg2://breakfix_ops:{password}@127.0.0.1:{port}/breakfix_ops"

    def action_key(self, scope: Scope = Scope.admin) -> str:
        """A new action-server key of `scope`, made in the stack's ops-db."""
        store = Store(self.ops_url())
        try:
            with store.session() as session:
                _, key = create_key(session=session, name="compose-test", scope=scope)
        finally:
            store.dispose()
        return key

    def action_client(self, scope: Scope = Scope.admin) -> ActionClient:
        """An action-server client with a new key of `scope`."""
        return ActionClient(self.url("ACTION"), self.action_key(scope), timeout=240.0)


def journey_ok(target: str) -> bool:
    """One user journey of the game day's probe (list, price, order, cancel) succeeded."""
    probe = JourneyProbe(target)
    try:
        return probe.journey().ok
    finally:
        probe.stop()


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.5) -> bool:
    """Poll `check` until it holds or `timeout` passes; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return check()


@contextmanager
def running_stack(
    prefix: str, operator_env: dict[str, str] | None = None
) -> Iterator[ComposeStack]:
    """`make compose-up` on free ports under a project of its own; removed afterwards.

    `operator_env`: service settings given as an operator gives them, a `.env` read by init
    (written under the checkout's .compose/, which the containers see at /opt/breakfix)."""
    project = f"{prefix}{secrets.token_hex(3)}"
    ports = {name: free_port() for name in PORTS}
    env = {
        **os.environ,
        "COMPOSE_PROJECT_NAME": project,
        **{f"BREAKFIX_{name}_PORT": str(port) for name, port in ports.items()},
    }
    operator = ROOT / ".compose" / f"{project}.env"
    if operator_env:
        operator.parent.mkdir(exist_ok=True)
        operator.write_text("".join(f"{k}={v}\n" for k, v in operator_env.items()))
        env["BREAKFIX_OPERATOR_ENV"] = f"/opt/breakfix/.compose/{operator.name}"
    stack = ComposeStack(
        project=project, ports=ports, env=env, runtime=DockerRuntime(project=project)
    )
    try:
        up = stack.compose("up", timeout=1500)
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        yield stack
    finally:
        stack.runtime.close()
        stack.compose("down", "--volumes", timeout=600)
        operator.unlink(missing_ok=True)
