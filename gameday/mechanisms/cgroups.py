"""cgroup v1 controls on one process, as a container runtime applies them: a freeze (docker
pause), a CPU quota (docker update --cpus), a memory limit (docker update --memory)."""

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

ROOT = Path("/sys/fs/cgroup")


@dataclass
class Cgroup:
    """A cgroup of our own under one controller; the processes put in it go back to the
    controller's root when it is removed."""

    controller: str
    name: str
    pids: list[int] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return ROOT / self.controller / self.name

    def create(self, **settings: str) -> None:
        self.path.mkdir(exist_ok=True)
        for key, value in settings.items():
            (self.path / key).write_text(value)

    def add(self, pid: int) -> None:
        """Move `pid` (all its threads) and its children in."""
        procs = [pid]
        with contextlib.suppress(psutil.NoSuchProcess):
            procs += [c.pid for c in psutil.Process(pid).children(recursive=True)]
        for p in procs:
            with contextlib.suppress(OSError):
                (self.path / "cgroup.procs").write_text(str(p))
                self.pids.append(p)

    def set(self, key: str, value: str) -> None:
        (self.path / key).write_text(value)

    def members(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def remove(self) -> bool:
        """Move every member back to the root and remove the cgroup; whether it existed."""
        if not self.path.exists():
            return False
        for pid in self.members():
            with contextlib.suppress(OSError):
                (ROOT / self.controller / "cgroup.procs").write_text(str(pid))
        for _ in range(20):  # a killed member may take a moment to leave
            try:
                self.path.rmdir()
                break
            except OSError:
                time.sleep(0.5)
        return True
