"""Spawning and stopping the lab's child processes."""

import ctypes
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psutil

_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)
_prctl = _libc.prctl


@dataclass(frozen=True)
class Command:
    """What to exec for a service, as which user, and how to ask it to stop."""

    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    cwd: Path | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    # Inherited variables with these prefixes are dropped, so a service's own env file is
    # the only source of its settings (a stray TARGET_* in the shell must not override it).
    drop_env_prefixes: tuple[str, ...] = ()


def spawn(command: Command, *, log_path: Path) -> subprocess.Popen[bytes]:
    """Start `command` in its own session with output appended to `log_path`.

    The child gets its stop signal if the spawning thread dies, so a supervisor killed
    with SIGKILL leaves no orphan behind. Call it from the supervisor's main thread only.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(command.drop_env_prefixes)
    }
    env = {**inherited, **command.env}
    with open(log_path, "ab", buffering=0) as log:
        return subprocess.Popen(
            list(command.argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=command.cwd,
            user=command.user,
            start_new_session=True,
            preexec_fn=die_with_parent(command.stop_signal),
        )


def die_with_parent(sig: signal.Signals) -> Callable[[], None]:
    """A `preexec_fn`: the child gets `sig` when the thread that forks it ends (the setting
    survives exec). A parent that died before the call leaves nobody to signal the child:
    it then sends `sig` to itself."""
    parent = os.getpid()

    def _arm() -> None:
        _prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return _arm


def stop(proc: subprocess.Popen[bytes], *, sig: signal.Signals, timeout: float) -> int:
    """Send `sig` (and SIGCONT, so a frozen process can act on it), then SIGKILL at `timeout`.

    Whatever the process left behind in its own process group (a forked worker that ignored
    the signal) is killed too, so a stopped service leaves no orphan.
    """
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
            proc.send_signal(signal.SIGCONT)
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    kill_group(proc.pid)
    return proc.wait()


def kill_group(pid: int) -> None:
    """SIGKILL a process group, ignoring one that is already gone."""
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def pid_alive(pid: int, *, started_at: float | None = None) -> bool:
    """Whether `pid` runs and, when `started_at` is given, is the same process (no reuse)."""
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        return started_at is None or abs(proc.create_time() - started_at) < 1.0
    except psutil.Error:
        return False
