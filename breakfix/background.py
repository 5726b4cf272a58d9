"""Running `breakfix` in the background on its own state dir and free ports (tests, bench)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lab.cache_volume import unmount_all_under
from lab.config import LabSettings
from lab.ports import free_port


def make_state_dir(prefix: str = "breakfix-") -> Path:
    """A temp state dir the postgres user can traverse (pytest's tmp_path is 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def remove_state_dir(path: Path) -> None:
    """Delete a temp state dir and everything in it (its cache tmpfs unmounted first)."""
    unmount_all_under(path)
    shutil.rmtree(path, ignore_errors=True)


BREAKFIX = str(Path(sys.executable).with_name("breakfix"))
PORT_VARS = (
    "TARGET_PORT",
    "UPSTREAM_PRIMARY_PORT",
    "UPSTREAM_FALLBACK_PORT",
    "TARGET_DB_PORT",
    "OPS_DB_PORT",
    "CONTROL_PORT",
    "ACTION_PORT",
    "DB_PROXY_PORT",
    "DB_PROXY_FALLBACK_PORT",
    "DB_PROXY_ADMIN_PORT",
    "CHAOS_PORT",
    "OBSERVABILITY_PORT",
    "AGENT_PORT",
    "CONSOLE_PORT",
)


def lab_environment(
    state_dir: Path, *, observability: bool = False, agent: bool = False, console: bool = False
) -> dict[str, str]:
    """The process environment of a lab on its own state dir and free ports.

    Observability is off unless asked for: its synthetic orders and 1 Hz probes would
    disturb tests that count rows or time things. The agent is off unless asked for too
    (it would fix what a test breaks); asking for it turns observability on. The web console
    is off unless asked for (one process fewer on two shared cores).
    """
    observability = observability or agent
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BREAKFIX_", "TARGET_"))}
    env["BREAKFIX_STATE_DIR"] = str(state_dir)
    env["BREAKFIX_OBSERVABILITY_ENABLED"] = "true" if observability else "false"
    env["BREAKFIX_AGENT_ENABLED"] = "true" if agent else "false"
    env["BREAKFIX_CONSOLE_ENABLED"] = "true" if console else "false"
    for var in PORT_VARS:
        env[f"BREAKFIX_{var}"] = str(free_port())
    return env


class BackgroundLab:
    """A `breakfix run` in the background, plus the CLI calls a user would make."""

    def __init__(self, state_dir: Path, env: dict[str, str]) -> None:
        self.state_dir, self.env = state_dir, env
        self.proc: subprocess.Popen[bytes] | None = None
        self.output = state_dir / "run-output.log"

    def start(self, timeout: float = 120.0) -> dict[str, Any]:
        """Start the supervisor and wait until every service is healthy."""
        with open(self.output, "ab") as out:
            self.proc = subprocess.Popen(
                [BREAKFIX, "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.state_dir,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"breakfix run exited early:\n{self.output.read_text()}")
            result = self.cli("status", "--json", check=False)
            # Non-zero while the supervisor runs but its control endpoint is not up yet.
            report = json.loads(result.stdout) if result.returncode == 0 else {"services": {}}
            if report["services"] and all(
                s["health"] == "healthy" for s in report["services"].values()
            ):
                return report
            if time.monotonic() > deadline:
                raise AssertionError(f"lab not healthy in time: {report}")
            time.sleep(0.25)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [BREAKFIX, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=180,
            cwd=self.state_dir,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"breakfix {' '.join(args)} failed: {result.stderr}")
        return result

    def status(self, *flags: str) -> dict[str, Any]:
        return json.loads(self.cli("status", "--json", *flags).stdout)  # type: ignore[no-any-return]

    def down(self) -> subprocess.CompletedProcess[str]:
        result = self.cli("down")
        if self.proc is not None:
            self.proc.wait(timeout=60)
        return result

    def port(self, name: str) -> int:
        return int(self.env[f"BREAKFIX_{name}_PORT"])

    def settings(self) -> LabSettings:
        """The lab's settings as its supervisor sees them, from the BREAKFIX_* environment."""
        values: dict[str, object] = {
            var.lower(): self.port(var.removesuffix("_PORT")) for var in PORT_VARS
        }
        values["state_dir"] = self.state_dir
        for flag in ("observability_enabled", "agent_enabled", "console_enabled"):
            values[flag] = self.env.get(f"BREAKFIX_{flag.upper()}", "true") == "true"
        return LabSettings.model_validate(values)


@contextmanager
def running_lab(
    prefix: str, *, observability: bool = False, agent: bool = False
) -> Iterator[BackgroundLab]:
    """A `breakfix run` on a fresh state dir and free ports, stopped and removed after."""
    state_dir = make_state_dir(prefix)
    env = lab_environment(state_dir, observability=observability, agent=agent)
    running = BackgroundLab(state_dir, env)
    try:
        running.start()
        yield running
    finally:
        if running.proc is not None and running.proc.poll() is None:
            running.down()
        remove_state_dir(state_dir)
