"""The `local` runtime backend: a client of the supervisor's control endpoint."""

import builtins
from typing import Any

import httpx

from lab.errors import LabError, SupervisorNotRunningError, UnknownServiceError
from lab.paths import StatePaths
from lab.run_state import load
from lab.runtime.models import LogTail, ProcessStats, ServiceStatus, SignalName
from lab.secrets import read_secret


class ControlUnreachableError(LabError):
    """The supervisor runs but its control endpoint does not answer."""

    code = "control_unreachable"


class RuntimeCallError(LabError):
    """The control endpoint refused or failed a call."""

    code = "runtime_error"


class LocalRuntime:
    """Find and control the processes run by `breakfix run`, from any other process."""

    def __init__(self, *, control_url: str, token: str, timeout: float = 30.0) -> None:
        self._client = httpx.Client(
            base_url=control_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
            trust_env=False,
        )

    @classmethod
    def from_state_dir(cls, paths: StatePaths) -> "LocalRuntime":
        """Connect to the supervisor recorded in the state dir."""
        state = load(paths.supervisor_state)
        if state is None or not state.supervisor_alive():
            raise SupervisorNotRunningError(f"no lab supervisor is running for {paths.root}")
        return cls(control_url=state.control_url, token=read_secret(paths.secret("control.token")))

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ControlUnreachableError(
                f"supervisor control endpoint unreachable: {exc}"
            ) from exc
        if response.status_code == 404:
            raise UnknownServiceError(response.json().get("detail", path))
        if response.status_code >= 400:
            body = (
                response.json()
                if response.headers.get("content-type", "").startswith("application/json")
                else {"detail": response.text}
            )
            raise RuntimeCallError(f"{method} {path}: {response.status_code} {body.get('detail')}")
        return response.json()

    def list(self) -> builtins.list[ServiceStatus]:
        """Every service with its health."""
        return [ServiceStatus.model_validate(row) for row in self._call("GET", "/services")]

    def status(self, service: str) -> ServiceStatus:
        """One service with its health."""
        return ServiceStatus.model_validate(self._call("GET", f"/services/{service}"))

    def start(self, service: str) -> ServiceStatus:
        """Start a stopped service."""
        return ServiceStatus.model_validate(self._call("POST", f"/services/{service}/start"))

    def stop(self, service: str) -> ServiceStatus:
        """Stop a service."""
        return ServiceStatus.model_validate(self._call("POST", f"/services/{service}/stop"))

    def restart(self, service: str) -> ServiceStatus:
        """Restart a service."""
        return ServiceStatus.model_validate(self._call("POST", f"/services/{service}/restart"))

    def signal(self, service: str, sig: SignalName) -> ServiceStatus:
        """Deliver a signal to the service's main process."""
        payload = {"signal": sig}
        return ServiceStatus.model_validate(
            self._call("POST", f"/services/{service}/signal", json=payload)
        )

    def stats(self, service: str) -> ProcessStats:
        """CPU, memory, threads and open files of the service."""
        return ProcessStats.model_validate(self._call("GET", f"/services/{service}/stats"))

    def logs(self, service: str, lines: int = 100) -> builtins.list[str]:
        """The last lines of the service's log."""
        data = self._call("GET", f"/services/{service}/logs", params={"lines": lines})
        return LogTail.model_validate(data).lines
