"""CrewRunner: one crew run per incident, retried once on unusable output, time-boxed."""

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from crewai import BaseLLM
from crewai.crews.crew_output import CrewOutput

from agent.config import Settings
from agent.crew.crew import build_crew
from agent.crew.errors import CrewOutputError, CrewTimeout
from agent.crew.llm import is_timeout, make_llm, redact
from agent.crew.parse import OutputRejected, parse_answer
from agent.crew.tools import (
    ActionReads,
    CallLedger,
    KnowledgeSearch,
    ObservabilityReads,
    crew_tools,
)
from agent.crew.usage import add, usage_between
from agent.model import Diagnosis, Perception, Plan, Usage
from knowledge.retrieval import Match
from knowledge.runbook import Runbook

log = logging.getLogger(__name__)

RUN_TIMEOUT_CALLS = 4  # a whole run may take this many per-request timeouts


@dataclass(frozen=True)
class CrewOutcome:
    """The crew's typed result and what it cost."""

    diagnosis: Diagnosis
    plans: list[Plan]
    usage: Usage


class CrewRunner:
    """Runs the crew on a perception; raises CrewOutputError or CrewTimeout (with usage)."""

    def __init__(
        self,
        settings: Settings,
        *,
        llm: BaseLLM | None = None,
        observability: ObservabilityReads | None = None,
        knowledge: KnowledgeSearch | None = None,
        actions: ActionReads | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self.settings = settings
        self._llm = llm
        self._shared_llm_lock = threading.Lock()
        self.observability, self.knowledge, self.actions = observability, knowledge, actions
        # the whole run (both attempts); each provider request has its own llm_timeout_s
        self.timeout_s = timeout_s or settings.llm_timeout_s * RUN_TIMEOUT_CALLS
        # CrewAI keeps the last kickoff's task outputs (evidence included) in a SQLite file
        # under ~/.local/share/<cwd name>; an absolute CREWAI_STORAGE_DIR puts it in our state
        os.environ["CREWAI_STORAGE_DIR"] = str((settings.state_dir / "crewai").resolve())
        if llm is None:
            make_llm(settings)  # fail at start-up on a bad configuration, not per incident

    def run(
        self, perception: Perception, matches: list[Match], runbooks: list[Runbook]
    ) -> CrewOutcome:
        """Diagnosis (mode "llm") and plans, best hypothesis first."""
        if self._llm is None:
            return self._run(make_llm(self.settings), perception, matches, runbooks)
        with self._shared_llm_lock:  # one run at a time, so its usage is its own
            return self._run(self._llm, perception, matches, runbooks)

    def _run(
        self, llm: BaseLLM, perception: Perception, matches: list[Match], runbooks: list[Runbook]
    ) -> CrewOutcome:
        deadline = time.monotonic() + self.timeout_s
        usage = Usage()
        error_note: str | None = None
        for attempt in (1, 2):
            text, spent = self._kickoff(llm, perception, matches, runbooks, error_note, deadline)
            usage = add(usage, spent)
            try:
                diagnosis, plans = parse_answer(
                    text,
                    runbooks,
                    min_hold_s=self.settings.verify_hold_s,
                    default_timeout_s=self.settings.verify_timeout_s,
                )
            except OutputRejected as exc:
                log.warning("crew answer rejected (attempt %d, %s): %s", attempt, exc.reason, exc)
                if attempt == 2:
                    raise CrewOutputError(
                        f"crew answer rejected twice: {exc}", reason=exc.reason, usage=usage
                    ) from None
                error_note = str(exc)
                continue
            return CrewOutcome(diagnosis=diagnosis, plans=plans, usage=usage)
        raise AssertionError("unreachable")

    def _kickoff(
        self,
        llm: BaseLLM,
        perception: Perception,
        matches: list[Match],
        runbooks: list[Runbook],
        error_note: str | None,
        deadline: float,
    ) -> tuple[str, Usage]:
        """One crew run in a daemon thread, abandoned (and its tools cancelled) at the
        deadline: CrewAI has no cancellation, and the provider SDK's own timeout bounds
        the call it may still be in. Provider error text is redacted of the key."""
        ledger = CallLedger()
        tools = crew_tools(
            observability=self.observability,
            knowledge=self.knowledge,
            actions=self.actions,
            window_s=self.settings.evidence_window_s,
            ledger=ledger,
        )
        crew = build_crew(
            llm=llm,
            tools=tools,
            perception=perception,
            matches=matches,
            runbooks=runbooks,
            error_note=error_note,
        )
        before = llm.get_token_usage_summary()
        box: dict[str, Any] = {}

        def work() -> None:
            try:
                out = crew.kickoff()
                box["text"] = out.raw if isinstance(out, CrewOutput) else str(out)
            except BaseException as exc:  # handed to the waiting thread
                box["error"] = exc

        thread = threading.Thread(target=work, name="crew-run", daemon=True)
        thread.start()
        thread.join(max(0.0, deadline - time.monotonic()))
        spent = usage_between(before, llm.get_token_usage_summary(), self.settings)
        if thread.is_alive():
            ledger.cancelled.set()
            raise CrewTimeout(f"the crew did not finish within {self.timeout_s:g} s", usage=spent)
        error = box.get("error")
        if error is not None and (is_timeout(error) or is_timeout(error.__cause__ or error)):
            raise CrewTimeout(f"LLM provider timed out: {redact(str(error))}", usage=spent)
        if error is not None:
            text = redact(f"{type(error).__name__}: {error}")
            log.warning("crew run failed: %s", text)
            raise CrewOutputError(f"the crew failed: {text}", reason="provider", usage=spent)
        return str(box.get("text", "")), spent
