"""The gateway's tools as plain methods: each answers one result document (agent.tool_results).

Reads go to observability, the knowledge index and the action server (catalogue and dry
runs); acts go to the action server only, with the MCP client's own key. A high-risk action
never runs on a client's word: it becomes an approval request a human answers, and runs
(once, with an idempotency key) when the client polls it after the yes.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from action_server.client import ActionClient, ActionClientError
from action_server.keys import Scope, ensure_key
from action_server.schemas import RunOut
from action_server.store import Store
from agent.tool_results import Status, result_doc
from knowledge.index import KnowledgeIndex
from knowledge.retrieval import MatchKind
from lab.catalogue.registry import get_catalogue
from mcp_gateway.approvals import Approval, ApprovalError, Approvals, State
from mcp_gateway.observe import ObservabilityApi, ObservabilityError
from mcp_gateway.repeats import RepeatGuard
from mcp_gateway.settings import GatewaySettings

log = logging.getLogger("mcp_gateway")

Doc = dict[str, Any]
Fetch = Callable[[], tuple[Status, Any]]
PASSAGE_CHARS = 600


class Refused(Exception):
    """A call the gateway will not make; the text says why (an `error` result)."""


def _run_view(run: RunOut) -> Doc:
    return {
        "run_id": str(run.id),
        "action": run.action,
        "params": run.params,
        "dry_run": run.dry_run,
        "status": run.status,
        "summary": run.summary,
        "changes": run.changes,
        "details": run.details,
        "error": run.error,
    }


def _client_error(exc: ActionClientError) -> str:
    retry = f" (retry after {exc.retry_after:g} s)" if exc.retry_after else ""
    return f"action server answered {exc.status} {exc.code}: {exc.detail}{retry}"


class Gateway:
    """One MCP client's tools on one lab."""

    def __init__(
        self,
        settings: GatewaySettings,
        *,
        observability: ObservabilityApi | None = None,
        actions: ActionClient | None = None,
        approvals: Approvals | None = None,
    ) -> None:
        self.settings = settings
        self.catalogue = get_catalogue()
        self.high_risk = set(self.catalogue.high_risk_actions)
        self.obs = observability or ObservabilityApi(settings.observability_url)
        self.actions = actions or ActionClient(settings.action_url, self._key())
        self.approvals = approvals or Approvals(settings.ops_db_url, ttl_s=settings.approval_ttl_s)
        self.guard = RepeatGuard(settings.repeat_window_s)
        self._index: KnowledgeIndex | None = None
        self._index_lock = threading.Lock()

    def close(self) -> None:
        self.obs.close()
        self.actions.close()
        self.approvals.close()

    def _key(self) -> str:
        """The client's own `act` key (named mcp:<client>), made on first use."""
        store = Store(self.settings.ops_db_url)
        try:
            with store.session() as session:
                key, made = ensure_key(
                    session=session,
                    key_file=self.settings.key_file,
                    name=self.settings.key_name,
                    scope=Scope.act,
                )
        finally:
            store.dispose()
        if made:
            log.info("made action server key %r for this MCP client", self.settings.key_name)
        return key

    # -- the common shape ---------------------------------------------------------------

    def _answer(self, tool: str, query: Doc, fetch: Fetch, *, repeatable: bool = False) -> Doc:
        refusal = None if repeatable else self.guard.refuse(tool, query)
        if refusal is not None:
            return result_doc(tool, query, "error", error=refusal)
        try:
            status, data = fetch()
        except Refused as exc:
            return result_doc(tool, query, "error", error=str(exc))
        except ObservabilityError as exc:
            return result_doc(tool, query, "error", error=f"observability: {exc}")
        except ActionClientError as exc:
            return result_doc(tool, query, "error", error=_client_error(exc))
        except ApprovalError as exc:
            return result_doc(tool, query, "error", error=f"{exc.code}: {exc}")
        except Exception as exc:  # an upstream failure is the model's information
            log.warning("tool %s failed", tool, exc_info=True)
            return result_doc(tool, query, "error", error=f"{type(exc).__name__}: {exc}")
        return result_doc(tool, query, status, data)

    def _catalogued(self, action: str) -> None:
        if action not in self.catalogue.action_names:
            known = ", ".join(self.catalogue.action_names)
            raise Refused(f"{action[:80]!r} is not a catalogue action (known: {known})")

    # -- read tools ---------------------------------------------------------------------

    def alerts(self) -> Doc:
        def fetch() -> tuple[Status, Any]:
            alerts = self.obs.get("/alerts")
            firing = [a for a in alerts if a.get("status") == "firing"]
            resolved = [a for a in alerts if a.get("status") != "firing"]
            return ("success" if alerts else "no_data"), {"firing": firing, "recent": resolved}

        return self._answer("alerts", {"path": "/alerts"}, fetch)

    def snapshot(self, service: str | None) -> Doc:
        query = {"path": "/snapshot", "service": service}

        def fetch() -> tuple[Status, Any]:
            data = self.obs.get("/snapshot", service=service)
            return ("success" if data.get("services") else "no_data"), data

        return self._answer("snapshot", query, fetch)

    def series(self, metric: str, service: str | None, since_s: float) -> Doc:
        query = {"path": "/series", "metric": metric, "service": service, "since": since_s}

        def fetch() -> tuple[Status, Any]:
            data = self.obs.get("/series", metric=metric, service=service, since=since_s)
            return ("success" if data.get("points") else "no_data"), data

        return self._answer("series", query, fetch)

    def logs(self, pattern: str | None, service: str | None, since_s: float, limit: int) -> Doc:
        query = {
            "path": "/logs",
            "pattern": pattern,
            "service": service,
            "since": since_s,
            "limit": limit,
        }

        def fetch() -> tuple[Status, Any]:
            data = self.obs.get(
                "/logs", pattern=pattern, service=service, since=since_s, limit=limit
            )
            return ("success" if data.get("lines") else "no_data"), data

        return self._answer("search_logs", query, fetch)

    def evidence(self, service: str | None, since_s: float) -> Doc:
        query = {"path": "/evidence", "service": service, "since": since_s}

        def fetch() -> tuple[Status, Any]:
            data = self.obs.get("/evidence", service=service, since=since_s)
            return ("success" if data.get("services") or data.get("alerts") else "no_data"), data

        return self._answer("evidence", query, fetch)

    def db_blockers(self) -> Doc:
        query = {"action": "terminate-db-blockers", "dry_run": True}

        def fetch() -> tuple[Status, Any]:
            run = self.actions.act("terminate-db-blockers", {}, dry_run=True)
            plan = run.details.get("plan") or {}  # a dry run records its plan's details
            found = {k: plan.get(k, []) for k in ("candidates", "protected")}
            return ("success" if any(found.values()) else "no_data"), found

        return self._answer("db_blockers", query, fetch)

    def catalogue_actions(self) -> Doc:
        def fetch() -> tuple[Status, Any]:
            return "success", self.actions.actions()

        return self._answer("action_catalogue", {"path": "/actions"}, fetch)

    def dry_run(self, action: str, params: Doc) -> Doc:
        query = {"action": action, "params": params, "dry_run": True}

        def fetch() -> tuple[Status, Any]:
            self._catalogued(action)
            return "success", _run_view(self.actions.act(action, params, dry_run=True))

        return self._answer("dry_run", query, fetch)

    def _knowledge(self) -> KnowledgeIndex:
        with self._index_lock:
            if self._index is None:
                root = Path(self.settings.state_dir)
                self._index = KnowledgeIndex(
                    root / "mcp",
                    # the agent's postmortems, read only (see knowledge.memory)
                    incident_dir=root / "knowledge" / "incidents",
                    embedding=self.settings.embedding,  # type: ignore[arg-type]
                    mode="hybrid",  # what a client asks is worded its own way
                )
            self._index.ensure()  # picks up postmortems written since
            return self._index

    def _search(self, tool: str, kind: MatchKind, text: str, k: int) -> Doc:
        query = {"query": text, "k": k, "kind": kind}

        def fetch() -> tuple[Status, Any]:
            matches = [m for m in self._knowledge().query(text, k=k * 3) if m.kind == kind][:k]
            data = [
                {
                    "id": m.id,
                    "title": m.title,
                    "score": round(m.score, 3),
                    "fault": m.fault,
                    "passages": [
                        {"heading": p.heading, "text": p.text[:PASSAGE_CHARS]}
                        for p in m.passages[:2]
                    ],
                }
                for m in matches
            ]
            return ("success" if data else "no_data"), data

        return self._answer(tool, query, fetch)

    def runbooks(self, text: str, k: int) -> Doc:
        return self._search("search_runbooks", "runbook", text, k)

    def past_incidents(self, text: str, k: int) -> Doc:
        return self._search("past_incidents", "incident", text, k)

    # -- act tools ----------------------------------------------------------------------

    def run_action(self, action: str, params: Doc, reason: str) -> Doc:
        query = {"action": action, "params": params, "reason": reason}

        def fetch() -> tuple[Status, Any]:
            self._catalogued(action)
            if action in self.high_risk:
                return self._ask_approval(action, params, reason)
            run = self.actions.act(action, params, wait=True, correlation_id=self._correlation())
            return ("success" if run.status == "succeeded" else "error"), _run_view(run)

        return self._answer("run_action", query, fetch)

    def _ask_approval(self, action: str, params: Doc, reason: str) -> tuple[Status, Any]:
        plan = self.actions.act(action, params, dry_run=True)  # bad params fail here, now
        request = self.approvals.request(
            client=self.settings.client, action=action, params=params, reason=reason
        )
        data = request.view() | {
            "plan": {"summary": plan.summary, "changes": plan.changes},
            "how": (
                f"a human approves with `breakfix mcp approve {request.id}` (or in the console);"
                " poll approval_status with this approval_id: it runs on the first poll after"
                " the yes"
            ),
        }
        return "approval_required", data

    def approval_status(self, approval_id: str) -> Doc:
        query = {"approval_id": approval_id}

        def fetch() -> tuple[Status, Any]:
            request = self.approvals.get(approval_id)
            if request.client != self.settings.client:
                raise Refused(f"approval {approval_id} was asked by another MCP client")
            if request.state == State.approved.value and self.approvals.claim_run(approval_id):
                request = self._run_approved(request)
            return _approval_status(request), request.view()

        return self._answer("approval_status", query, fetch, repeatable=True)

    def _run_approved(self, request: Approval) -> Approval:
        try:
            run = self.actions.act(
                request.action,
                request.params,
                wait=True,
                idempotency_key=f"mcp-approval-{request.id}",
                correlation_id=self._correlation(),
            )
        except ActionClientError as exc:
            return self.approvals.finish(
                request.id, ok=False, run_id=None, run_status="refused", outcome=_client_error(exc)
            )
        return self.approvals.finish(
            request.id,
            ok=run.status == "succeeded",
            run_id=str(run.id),
            run_status=run.status,
            outcome=run.error or run.summary,
        )

    def escalate(self, summary: str, severity: str, details: dict[str, str]) -> Doc:
        params = {"summary": summary, "severity": severity, "details": details}
        return self.run_action("escalate", params, reason="escalation by the MCP client")

    def _correlation(self) -> str:
        return f"mcp-{self.settings.client}-{uuid.uuid4().hex[:12]}"


def _approval_status(request: Approval) -> Status:
    if request.state in (State.pending.value, State.approved.value, State.running.value):
        return "approval_required"
    return "success" if request.state == State.executed.value else "error"
