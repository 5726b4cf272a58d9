"""Real `prometheus` and `prometheus-alertmanager` processes on free loopback ports.

Each runs in its own session with its own data dir and log file, dies with the process that
started it (parent-death signal, see `lab.process.spawn`), and is stopped by `stop()` or by
leaving its `with` block.
"""

import shutil
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType

import httpx

from lab.ports import free_port
from lab.process import Command, spawn, stop

PROMETHEUS_BINARIES = ("prometheus",)
ALERTMANAGER_BINARIES = ("prometheus-alertmanager", "alertmanager")  # Debian, upstream


class StackError(RuntimeError):
    """A binary is missing, or a process exited or never became ready."""


def find_binary(names: tuple[str, ...]) -> str:
    """The first of `names` on the PATH (or in /usr/bin)."""
    for name in names:
        found = shutil.which(name) or shutil.which(name, path="/usr/bin")
        if found:
            return found
    raise StackError(f"none of {', '.join(names)} is installed")


class StackProcess:
    """One running server of the stack, ready when its /-/ready answers 200."""

    def __init__(self, *, name: str, argv: list[str], port: int, log_path: Path) -> None:
        self.name, self.argv, self.port, self.log_path = name, argv, port, log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout: float = 60.0) -> "StackProcess":
        """Spawn the binary and wait until it is ready."""
        self.proc = spawn(Command(argv=self.argv), log_path=self.log_path)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise StackError(f"{self.name} exited: {self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/-/ready", timeout=2.0).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise StackError(f"{self.name} not ready in {timeout:.0f}s: {self.log_tail()}")
            time.sleep(0.1)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL after `timeout`; safe to call twice."""
        if self.proc is not None:
            stop(self.proc, sig=signal.SIGTERM, timeout=timeout)

    def log_tail(self, lines: int = 20) -> str:
        """The end of the process's output, for error messages."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> "StackProcess":
        return self if self.proc is not None else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _stack_process(
    name: str,
    binaries: tuple[str, ...],
    config_file: Path,
    *,
    data_dir: Path,
    port: int | None,
    flags: list[str],
) -> StackProcess:
    """A Prometheus-family server on loopback: its config, `flags`, quiet logs."""
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    argv = [
        find_binary(binaries),
        f"--config.file={config_file}",
        *flags,
        f"--web.listen-address=127.0.0.1:{port}",
        "--log.level=warn",
    ]
    return StackProcess(name=name, argv=argv, port=port, log_path=data_dir / "log")


def prometheus(
    config_file: Path, *, data_dir: Path, port: int | None = None, retention: str = "2h"
) -> StackProcess:
    """A Prometheus server for `config_file`, storing under `data_dir` (not started yet)."""
    flags = [
        f"--storage.tsdb.path={data_dir / 'tsdb'}",
        f"--storage.tsdb.retention.time={retention}",
    ]
    return _stack_process(
        "prometheus", PROMETHEUS_BINARIES, config_file, data_dir=data_dir, port=port, flags=flags
    )


def alertmanager(config_file: Path, *, data_dir: Path, port: int | None = None) -> StackProcess:
    """An Alertmanager for `config_file`, clustering off (nothing listens beyond loopback)."""
    flags = [f"--storage.path={data_dir / 'data'}", "--cluster.listen-address="]
    return _stack_process(
        "alertmanager",
        ALERTMANAGER_BINARIES,
        config_file,
        data_dir=data_dir,
        port=port,
        flags=flags,
    )
