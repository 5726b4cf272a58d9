"""`breakfix gameday` run as a user runs it, for tests."""

import subprocess

from breakfix.background import BREAKFIX, BackgroundLab


def run_gameday_cli(
    lab: BackgroundLab, *args: str, timeout: float = 420.0
) -> subprocess.CompletedProcess[str]:
    """`breakfix gameday ARGS` in the lab's environment and state dir."""
    return subprocess.run(
        [BREAKFIX, "gameday", *args],
        env=lab.env,
        cwd=lab.state_dir,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
