"""The runtime interface: how servers find and control the lab's services, on any backend."""

import builtins
from typing import Protocol

from lab.runtime.models import ProcessStats, ServiceStatus, SignalName


class Runtime(Protocol):
    """One interface for the local, Docker and Kubernetes backends."""

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service with its health."""
        ...

    def status(self, service: str) -> ServiceStatus:
        """One service with its health."""
        ...

    def start(self, service: str) -> ServiceStatus:
        """Start a stopped service (a no-op for a running one)."""
        ...

    def stop(self, service: str) -> ServiceStatus:
        """Stop a service gracefully, forcefully after the stop timeout."""
        ...

    def restart(self, service: str) -> ServiceStatus:
        """Stop then start a service, even a frozen one."""
        ...

    def signal(self, service: str, sig: SignalName) -> ServiceStatus:
        """Deliver a signal to the service's main process."""
        ...

    def stats(self, service: str) -> ProcessStats:
        """CPU, memory, threads and open files of the service."""
        ...

    def logs(self, service: str, lines: int = 100) -> builtins.list[str]:
        """The last lines of the service's log."""
        ...
