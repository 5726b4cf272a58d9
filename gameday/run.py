"""A whole game day: every case of the plan, under every arm, in the same run.

Arms take turns per case (agent, restart-only, none for case 1, then case 2, ...), so a
noisy machine weighs on each arm alike. The probe runs for the whole day; the approver
answers the agent's requests. After every case the report is handed to `on_case` (stored
and written), so an interrupted day keeps what it scored.
"""

import os
import platform
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from gameday.approver import Approver
from gameday.case_runner import CaseSettings, Phase, run_case
from gameday.lab_handle import GamedayLab
from gameday.plan import CasePlan, GamedayPlan
from gameday.probe import JourneyProbe
from gameday.report.schema import Machine, RunReport
from gameday.summary import summarize

ARM_ORDER = ("agent", "restart-only", "none")


@dataclass
class RunSettings:
    """How the day is run, beyond the plan."""

    probe_interval_s: float = 0.5
    slow_s: float = 2.0  # a journey slower than this counts as failed
    deadline: float | None = None  # epoch s: start no case after it (the monkey's duration)
    gap_jitter: tuple[float, float] | None = None  # random gaps between cases (the monkey)
    seed: int | None = None


def new_report(*, options: dict[str, object]) -> RunReport:
    """An empty report for a day starting now."""
    return RunReport(
        run_id=time.strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3),
        started_at=time.time(),
        machine=Machine(
            host=platform.node(), cpus=os.cpu_count() or 0, python=platform.python_version()
        ),
        options=options,
    )


def run_gameday(
    *,
    lab: GamedayLab,
    plan: GamedayPlan,
    report: RunReport,
    settings: RunSettings,
    phase: Phase,
    on_case: Callable[[RunReport], None],
) -> RunReport:
    """Run the plan, filling `report` in (summarised after every case). KeyboardInterrupt
    propagates after the case under way has taken its faults away and the partial report was
    handed to `on_case`."""
    rng = random.Random(settings.seed)
    probe = JourneyProbe(
        str(lab.target.base_url), interval_s=settings.probe_interval_s, slow_s=settings.slow_s
    ).start()
    approver = None
    if lab.approver is not None and "agent" in plan.arms:
        approver = Approver(lab.approver, mode=plan.approve, think_time_s=plan.think_time_s)
        approver.start()
    case_settings = CaseSettings(clean_window_s=plan.clean_window_s)
    try:
        for case_plan in plan.cases:
            wanted = case_plan.arms or plan.arms
            arms = [a for a in ARM_ORDER if a in wanted]
            for repeat in range(1, case_plan.repeat * plan.repeat + 1):
                for arm in arms:
                    if settings.deadline is not None and time.time() >= settings.deadline:
                        return _finish(report, on_case)
                    result = run_case(
                        lab=lab,
                        plan=_windowed(case_plan, arm, plan.baseline_window_s),
                        arm=arm,
                        repeat=repeat,
                        probe=probe,
                        approver=approver if arm == "agent" else None,
                        settings=case_settings,
                        phase=phase,
                    )
                    report.cases.append(result)
                    _summarise(report)
                    on_case(report)
                    time.sleep(_gap(plan.gap_s, settings.gap_jitter, rng))
    except KeyboardInterrupt:
        report.interrupted = True
        _finish(report, on_case)
        raise
    finally:
        probe.stop()
        if approver is not None:
            approver.stop()
    return _finish(report, on_case)


def _windowed(case: CasePlan, arm: str, baseline_window_s: float) -> CasePlan:
    """The case with the baseline window for the arms that do not respond on purpose."""
    if arm == "agent":
        return case
    window = min(case.window_s or baseline_window_s, baseline_window_s)
    return case.model_copy(update={"window_s": window})


def _gap(base: float, jitter: tuple[float, float] | None, rng: random.Random) -> float:
    return rng.uniform(*jitter) if jitter else base


def _finish(report: RunReport, on_case: Callable[[RunReport], None]) -> RunReport:
    report.finished_at = time.time()
    _summarise(report)
    on_case(report)
    return report


def _summarise(report: RunReport) -> None:
    """The report's arms, outage ratios and pass rate, from its cases (in place)."""
    report.arms, report.outage_ratios, report.pass_rate = summarize(cases=report.cases)
