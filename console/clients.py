"""The console's calls to the lab's services, server-side, with the credentials it holds.

The chaos key goes to the chaos server only, the console's approver token to the agent's
approve/deny only; observability is read without one. Whatever a service answers with an
error, or when it does not answer, becomes ServiceFailed with the service's own `detail`
and `code` (bounded), never a stack trace.
"""

from typing import Any

import httpx

from console.config import Settings
from console.errors import ServiceFailed
from lab.approvers import approver_token
from lab.errors import LabError
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.runtime.models import ServiceStatus
from lab.secrets import read_secret
from lab.untrusted_text import plain

DETAIL_LIMIT = 300


def _client(url: str, timeout: float) -> httpx.Client:
    return httpx.Client(base_url=url, timeout=timeout, trust_env=False)


def _detail(response: httpx.Response) -> tuple[str, str]:
    """A refusal's (code, detail) from the lab's `{"detail", "code"}` body, else its text."""
    try:
        body = response.json()
    except ValueError:
        return "http_error", plain(response.text, limit=DETAIL_LIMIT, one_line=True)
    if isinstance(body, dict):
        detail = body.get("detail")
        if not isinstance(detail, str):
            detail = str(detail)
        return str(body.get("code", "http_error")), plain(detail, limit=DETAIL_LIMIT, one_line=True)
    return "http_error", plain(str(body), limit=DETAIL_LIMIT, one_line=True)


class Services:
    """HTTP clients on chaos, the agent and observability, and the supervisor's runtime."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.chaos = _client(settings.chaos_url, settings.action_timeout_s)
        self.agent = _client(settings.agent_url, settings.http_timeout_s)
        self.observability = _client(settings.observability_url, settings.http_timeout_s)
        self._runtime: LocalRuntime | None = None

    def close(self) -> None:
        for client in (self.chaos, self.agent, self.observability):
            client.close()
        if self._runtime is not None:
            self._runtime.close()

    def call(
        self,
        service: str,
        client: httpx.Client,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """One call; its JSON body, or ServiceFailed with the service's code and detail."""
        try:
            response = client.request(
                method,
                path,
                headers=headers,
                timeout=timeout or client.timeout,
                **kwargs,
            )
        except httpx.HTTPError as exc:
            raise ServiceFailed(service, f"not reachable ({type(exc).__name__})") from None
        if response.status_code >= 400:
            code, detail = _detail(response)
            raise ServiceFailed(
                service,
                f"{response.status_code} {code}: {detail}",
                status=response.status_code,
                code=code,
            )
        try:
            return response.json() if response.content else None
        except ValueError:
            raise ServiceFailed(service, "answered with something that is not JSON") from None

    # chaos: the key is read per call, so a rotated key counts at once
    def chaos_call(self, method: str, path: str, *, read: bool = True, **kwargs: Any) -> Any:
        """A call to the chaos server with the chaos key."""
        try:
            key = read_secret(self.settings.chaos_key_file)
        except (OSError, ValueError) as exc:
            raise ServiceFailed("chaos", f"the console has no chaos key: {exc}") from None
        timeout = self.settings.http_timeout_s if read else self.settings.action_timeout_s
        return self.call(
            "chaos",
            self.chaos,
            method,
            path,
            headers={"X-Chaos-Key": key},
            timeout=timeout,
            **kwargs,
        )

    def answer_approval(self, incident_id: str, *, granted: bool, note: str) -> Any:
        """Approve or deny an incident's pending step, as the console's approver."""
        if self.settings.approvers_file is None:
            raise ServiceFailed("agent", "the console has no approver token (no approvers file)")
        try:
            token = approver_token(self.settings.approvers_file, self.settings.approver_name)
        except (OSError, ValueError, LookupError) as exc:
            raise ServiceFailed("agent", f"no approver token for the console: {exc}") from None
        verb = "approve" if granted else "deny"
        return self.call(
            "agent",
            self.agent,
            "POST",
            f"/incidents/{incident_id}/{verb}",
            headers={"Authorization": f"Bearer {token}"},
            json={"note": note},
            timeout=self.settings.action_timeout_s,
        )

    # the supervisor (start, stop, restart, list), through its control endpoint
    def runtime(self) -> LocalRuntime:
        """A client of the running supervisor (reconnected when it was restarted)."""
        if self._runtime is None:
            try:
                self._runtime = LocalRuntime.from_state_dir(StatePaths.at(self.settings.state_dir))
            except LabError as exc:
                raise ServiceFailed("supervisor", str(exc)) from None
        return self._runtime

    def services(self) -> list[ServiceStatus]:
        """Every service of the lab with its health."""
        return self._runtime_call("list")  # type: ignore[no-any-return]

    def control(self, verb: str, service: str) -> ServiceStatus:
        """Start, stop or restart one service."""
        return self._runtime_call(verb, service)  # type: ignore[no-any-return]

    def _runtime_call(self, verb: str, *args: str) -> Any:
        runtime = self.runtime()
        try:
            return getattr(runtime, verb)(*args)
        except LabError as exc:
            runtime.close()
            self._runtime = None  # a restarted supervisor has a new URL and token
            raise ServiceFailed("supervisor", plain(str(exc), limit=DETAIL_LIMIT)) from None


def attempt(read: Any, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """`read(...)`'s value and None, or None and what failed: a page shows the rest."""
    try:
        return read(*args, **kwargs), None
    except ServiceFailed as exc:
        return None, str(exc)
