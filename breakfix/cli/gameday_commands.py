"""`breakfix gameday`: faults against any agent, scored from outside; `list|show|compare`.

Exit codes: 0 the day ran (and met --min-pass when given), 1 under --min-pass, 2 bad input
(unknown fault, a scenario that does not validate, no lab), 130 interrupted (what the day
put in place taken away, the partial report written and stored).
"""

import random
import re
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from breakfix.cli.gameday_history import register_history
from breakfix.cli.gameday_progress import Progress
from gameday.cases import load_cases
from gameday.errors import GamedayError
from gameday.lab_handle import GamedayLab, LabUnreachable, connected
from gameday.plan import GamedayPlan, PlanError, from_faults, load_plan, monkey_cases
from gameday.report.schema import RunReport
from gameday.report.writer import write_report
from gameday.run import RunSettings, new_report, run_gameday
from gameday.store import GamedayStore, StoreUnavailable, save_run
from lab.config import LabSettings, get_settings
from lab.envfile import read_env
from lab.paths import StatePaths

gameday_app = typer.Typer(
    help="Game days: faults against an agent, scored by what users saw.",
    invoke_without_command=True,
)
register_history(gameday_app)
out = Console(emoji=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, emoji=False, soft_wrap=True)
MONKEY_FAULTS = (  # quick to inject and to fix: the monkey's default picks
    "api-crash",
    "api-hang",
    "api-error-storm",
    "api-latency",
    "db-lock",
    "upstream-outage",
    "cache-corruption",
    "db-pool-exhaustion",
)


def _duration(text: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([smh]?)", text.strip())
    if not match:
        raise typer.BadParameter(f"{text!r}: a duration like 90s, 10m or 1h")
    return float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]


def _plan(
    *,
    faults: str | None,
    scenario: Path | None,
    arm: str | None,
    approve: str | None,
    repeat: int,
    think_time: float | None,
    clean_window: float | None,
    window: float | None,
    monkey_s: float | None,
    seed: int | None,
) -> GamedayPlan:
    if scenario is not None:
        plan = load_plan(scenario)
    elif monkey_s is not None:
        rng = random.Random(seed)
        catalogue = {c.fault for c in load_cases()}
        picks = [f for f in MONKEY_FAULTS if f in catalogue]
        count = max(1, int(monkey_s // 30) + 1)  # more than can run: the deadline stops it
        plan = GamedayPlan(cases=monkey_cases(rng=rng, count=count, faults=picks))
        for case in plan.cases:
            case.window_s = case.window_s or 120.0
    else:
        plan = GamedayPlan(cases=from_faults(faults or "all"))
    updates: dict[str, object] = {}
    if arm is not None:  # else the scenario's arms (default: the agent alone)
        updates["arms"] = ["agent", "restart-only", "none"] if arm == "all" else [arm]
    if approve is not None:
        updates["approve"] = approve
    if think_time is not None:
        updates["think_time_s"] = think_time
    if clean_window is not None:
        updates["clean_window_s"] = clean_window
    if repeat != 1:
        updates["repeat"] = repeat
    plan = GamedayPlan.model_validate({**plan.model_dump(), **updates})
    if window is not None:
        for case in plan.cases:
            case.window_s = window
    return plan


@contextmanager
def _lab(fresh: bool, keep: bool, lab_env: Path | None) -> Iterator[GamedayLab]:
    """The running lab, or a fresh one of the game day's own on free ports (its `.env`
    from `lab_env`: the lab's settings and its services' policies)."""
    if not fresh:
        with connected(get_settings()) as lab:
            yield lab
        return
    state_dir = make_state_dir("breakfix-gameday-")
    if lab_env is not None:
        (state_dir / ".env").write_text(lab_env.read_text())
    background = BackgroundLab(state_dir, lab_environment(state_dir, agent=True))
    try:
        err.print(f"gameday: starting a fresh lab in {state_dir} (a minute or two)")
        background.start(timeout=300.0)
        with connected(background.settings()) as lab:
            _wait_for_agent(lab)
            yield lab
    finally:
        if background.proc is not None and background.proc.poll() is None:
            background.down()
        if not keep:
            remove_state_dir(state_dir)


def _wait_for_agent(lab: GamedayLab, within_s: float = 240.0) -> None:
    """A fresh lab's agent builds its knowledge index before it handles anything."""
    deadline = time.monotonic() + within_s
    while lab.agent is not None and time.monotonic() < deadline:
        if lab.agent.get("/healthz").json().get("pipeline") == "running":
            return
        time.sleep(1.0)


class _Recorder:
    """After every case: the report written to --out and stored in ops-db."""

    def __init__(self, out_dir: Path, settings: LabSettings, progress: Progress) -> None:
        self.out_dir, self.progress = out_dir, progress
        url = read_env(StatePaths.at(settings.state_dir).action_env).get("ACTION_OPS_DB_URL")
        self.store = GamedayStore(url) if url else None
        self.stored = False

    def __call__(self, report: RunReport) -> None:
        """Never raises: a failing writer or store must not break the day it records."""
        self.progress.scored(report)
        try:
            write_report(report=report, out_dir=self.out_dir)
        except Exception as exc:
            err.print(f"gameday: the report could not be written to {self.out_dir}: {exc}")
        if self.store is None:
            return
        try:
            with self.store.session() as session:
                save_run(session=session, report=report)
            self.stored = True
        except StoreUnavailable:
            err.print("gameday: ops-db unreachable: this run is in --out only")
        except Exception as exc:
            err.print(f"gameday: the run could not be stored in ops-db: {exc}")


@gameday_app.callback()
def gameday(
    ctx: typer.Context,
    faults: Annotated[
        str | None, typer.Option(help="all, or ids: api-crash,by-hand:psql-lock")
    ] = None,
    scenario: Annotated[Path | None, typer.Option(help="A game-day plan (YAML).")] = None,
    repeat: Annotated[int, typer.Option(min=1, max=20)] = 1,
    arm: Annotated[
        str | None, typer.Option(help="agent, none, restart-only or all (default agent).")
    ] = None,
    approve: Annotated[
        str | None, typer.Option(help="auto, manual or deny (default auto).")
    ] = None,
    think_time: Annotated[float | None, typer.Option(help="Seconds before auto answers.")] = None,
    clean_window: Annotated[
        float | None, typer.Option(help="Clean seconds that end an outage.")
    ] = None,
    window: Annotated[
        float | None, typer.Option(help="Seconds per case (default: the case's).")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Where the report goes.")] = Path(
        "gameday-report"
    ),
    min_pass: Annotated[
        float | None, typer.Option(min=0, max=1, help="Exit 1 under this pass rate.")
    ] = None,
    monkey: Annotated[str | None, typer.Option(help="Random faults for a while, e.g. 10m.")] = None,
    seed: Annotated[int | None, typer.Option(help="The monkey's seed.")] = None,
    fresh: Annotated[bool, typer.Option(help="Run against a fresh lab of its own.")] = False,
    lab_env: Annotated[
        Path | None, typer.Option(help="With --fresh: the fresh lab's .env (its policies).")
    ] = None,
    keep: Annotated[bool, typer.Option(help="With --fresh: keep its state dir.")] = False,
) -> None:
    """Run a game day against the running lab (or --fresh) and write its report."""
    if ctx.invoked_subcommand is not None:
        return
    if arm not in (None, "agent", "none", "restart-only", "all"):
        err.print(f"error: --arm must be agent, none, restart-only or all, not {arm!r}")
        raise typer.Exit(2)
    if approve is not None and approve not in ("auto", "manual", "deny"):
        err.print(f"error: --approve must be auto, manual or deny, not {approve!r}")
        raise typer.Exit(2)
    monkey_s = _duration(monkey) if monkey else None
    try:
        plan = _plan(
            faults=faults,
            scenario=scenario,
            arm=arm,
            approve=approve,
            repeat=repeat,
            think_time=think_time,
            clean_window=clean_window,
            window=window,
            monkey_s=monkey_s,
            seed=seed,
        )
    except (PlanError, ValueError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    options: dict[str, object] = {
        "faults": faults,
        "scenario": str(scenario) if scenario else None,
        "arms": plan.arms,
        "approve": plan.approve,
        "think_time_s": plan.think_time_s,
        "repeat": plan.repeat,
        "clean_window_s": plan.clean_window_s,
        "monkey_s": monkey_s,
        "seed": seed,
        "fresh": fresh,
        "cases": [c.title for c in plan.cases],
    }
    report = new_report(options=options)
    settings = RunSettings(seed=seed)
    if monkey_s is not None:
        settings.deadline, settings.gap_jitter = time.time() + monkey_s, (5.0, 30.0)
    if lab_env is not None and not (fresh and lab_env.is_file()):
        err.print("error: --lab-env takes an existing file, and goes with --fresh")
        raise typer.Exit(2)
    code = _run(plan, report, settings, out_dir=out_dir, fresh=fresh, keep=keep, lab_env=lab_env)
    raise typer.Exit(code if code else _gate(report, min_pass))


def _run(
    plan: GamedayPlan,
    report: RunReport,
    settings: RunSettings,
    *,
    out_dir: Path,
    fresh: bool,
    keep: bool,
    lab_env: Path | None,
) -> int:
    progress = Progress(out)
    try:
        with _lab(fresh, keep, lab_env) as lab, progress:
            recorder = _Recorder(out_dir, lab.settings, progress)
            try:
                final = run_gameday(
                    lab=lab,
                    plan=plan,
                    report=report,
                    settings=settings,
                    phase=progress.phase,
                    on_case=recorder,
                )
            except KeyboardInterrupt:
                err.print(f"gameday: interrupted; the partial report is in {out_dir}")
                return 130
    except LabUnreachable as exc:
        err.print(f"error: {exc}")
        return 2
    except GamedayError as exc:
        err.print(f"error: {exc}")
        return 1
    _print_summary(final, out_dir, stored=recorder.stored)
    return 0


def _print_summary(report: RunReport, out_dir: Path, *, stored: bool) -> None:
    for arm in report.arms:
        rate = "-" if arm.pass_rate is None else f"{arm.pass_rate:.0%}"
        out.print(
            f"{arm.arm}: {arm.passed}/{arm.cases} passed ({rate}), median outage "
            f"{arm.outage_median_s}s, p95 {arm.outage_p95_s}s",
            highlight=False,
        )
    for name, ratio in report.outage_ratios.items():
        out.print(
            f"user outage {name}: {'-' if ratio is None else f'{ratio:.2f}'}", highlight=False
        )
    where = "stored in ops-db and " if stored else ""
    out.print(f"run {report.run_id}: {where}written to {out_dir}/gameday.html", highlight=False)


def _gate(report: RunReport, min_pass: float | None) -> int:
    if min_pass is None:
        return 0
    rate = report.pass_rate or 0.0
    if rate < min_pass:
        err.print(f"gameday: pass rate {rate:.0%} is under --min-pass {min_pass:.0%}")
        return 1
    return 0


def register(app: typer.Typer) -> None:
    """Attach `gameday` to the CLI."""
    app.add_typer(gameday_app, name="gameday")
