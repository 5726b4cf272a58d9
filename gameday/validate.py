"""`breakfix validate`: the lab's build order walked through each server's API, as a
checklist a newcomer can trust.

1. a fault made by hand (the target frozen) is fixed by restart-api through the action server;
2. every action answers a dry run, and one real low-risk run is verified;
3. a fault injected through the chaos server fires an alert meant for it, which resolves
   once the fault is reverted;
4. a shipped scenario passes with its faults reverted, and the kill switch engages (new
   faults refused) and releases;
5. the agent, on its own, opens an incident for a crash (or a hang) and closes it resolved.

Steps 1-4 silence the agent (a maintenance window) so that what they check is theirs, not
the agent's. Each step waits for a steady lab first, undoes whatever it did whatever
happens, and the run stops at the first step that fails.
"""

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from action_server.client import ActionClientError
from gameday.chaos_faults import inject, revert
from gameday.checklist import Checklist, Step, StepFailed, StepResult, run_step
from gameday.incidents import agent_actions, incidents, wait_closed, when
from gameday.lab_handle import GamedayLab
from gameday.oracles import crud_probe
from gameday.out_of_band import StoppedProcess
from gameday.polling import until
from gameday.steady import wait_steady
from lab.config import agent_runs
from lab.envfile import read_env

STEADY_WITHIN_S = 150.0
SILENCE_S = 600.0  # bounded: a validation killed mid-step leaves no silence for long
DETECT_FAULT = "api-error-storm"  # step 3: visible to observability, harmless to data
ALERT_WITHIN_S = 60.0
FIX_FAULTS = ("api-crash", "api-hang")  # step 5: both fixed by restart-api
FIX_WITHIN_S = 120.0
QUICK_SCENARIOS = ("api-hang", "db-lock")  # shipped, a few seconds each
REFUSALS = ("precondition_failed", "not_supported")  # a dry run's clear "not now / not here"


def run_validation(
    *, lab: GamedayLab, on_step: Callable[[StepResult], None], steps: list[Step] | None = None
) -> list[StepResult]:
    """Every step in order until one fails (the rest reported as not run)."""
    results: list[StepResult] = []
    for step in STEPS if steps is None else steps:
        if results and not results[-1].passed:
            result = StepResult(step.number, step.name, passed=False, ran=False)
        else:
            result = run_step(step, lab)
        results.append(result)
        on_step(result)
    return results


# -- shared pieces ------------------------------------------------------------------------


def _steady(lab: GamedayLab, c: Checklist, *, incidents: bool) -> None:
    took = wait_steady(lab, STEADY_WITHIN_S, "before the step", incidents=incidents)
    c.check(f"lab steady first ({took:.1f}s)")


def _silence(lab: GamedayLab, c: Checklist, reason: str) -> None:
    """A maintenance window on the agent until the step ends (after the lab has settled,
    so an alert still firing from the step opens no incident)."""
    if lab.agent is None:
        return
    made = lab.agent.post("/silences", json={"for_s": SILENCE_S, "reason": reason})
    if made.status_code != 201:
        raise StepFailed(f"the agent refused a silence: {made.status_code} {made.text[:200]}")
    silence = made.json()["id"]
    c.defer("end the agent's silence", lambda: _end_silence(lab, silence))
    c.defer("let the lab settle", lambda: wait_steady(lab, 90.0, "after", incidents=False))
    c.check("agent silenced for the step (what happens is the step's doing, not the agent's)")


def _end_silence(lab: GamedayLab, silence: str) -> None:
    if lab.agent is not None:
        lab.agent.delete(f"/silences/{silence}").raise_for_status()


def _ready(lab: GamedayLab) -> bool:
    try:
        return lab.target.get("/ready", timeout=3.0).status_code == 200
    except httpx.HTTPError:
        return False


def _users_back(lab: GamedayLab, c: Checklist, within_s: float = 30.0) -> None:
    problems: list[str] = []

    def ok() -> bool:
        nonlocal problems
        problems = crud_probe(lab)
        return not problems

    if not until(ok, within_s, every_s=1.0):
        raise StepFailed(f"CRUD probe still failing after {within_s:.0f}s: {problems}")
    c.check("CRUD probe passes (create, read, rename, price, order, cancel, delete)")


def _short(text: object, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _chaos(response: httpx.Response, what: str) -> Any:
    if response.status_code >= 400:
        raise StepFailed(f"chaos server refused {what}: {response.status_code} {response.text}")
    return response.json()


# -- 1. a restart fixes a fault made by hand ----------------------------------------------


def restart_fixes_a_hand_made_fault(lab: GamedayLab, c: Checklist) -> None:
    """Freeze the target by hand, see /ready fail, restart-api, see users back."""
    _steady(lab, c, incidents=False)
    _silence(lab, c, "breakfix validate: step 1 freezes the target by hand")
    frozen = StoppedProcess()
    frozen.make(lab)
    c.defer("thaw or restart the target", lambda: _thaw(lab, frozen))
    c.check(f"target pid {frozen.pid} frozen by hand (SIGSTOP), not through the chaos server")
    if not until(lambda: not _ready(lab), 15.0):
        raise StepFailed("target /ready still answers 200 with its process frozen")
    c.check("target /ready fails")
    run = lab.actions.act("restart-api", wait=True)
    if run.status != "succeeded":
        raise StepFailed(f"restart-api {run.status}: {run.error or run.summary}")
    c.check(f"restart-api through the action server: {run.status} ({run.summary})")
    if not until(lambda: _ready(lab), 30.0):
        raise StepFailed("target /ready not 200 within 30s of the restart")
    c.check("target /ready 200")
    _users_back(lab, c)


def _thaw(lab: GamedayLab, frozen: StoppedProcess) -> None:
    frozen.clean(lab)  # SIGCONT if the same process is still frozen
    if not until(lambda: _ready(lab), 15.0):
        lab.runtime.restart("target")


# -- 2. every action answers, one real run verified ----------------------------------------


def example_params(schema: dict[str, Any]) -> dict[str, Any]:
    """Values for an action's required parameters (the others keep their defaults)."""
    properties = schema.get("properties", {})
    return {name: _example(properties.get(name, {})) for name in schema.get("required", [])}


def _example(prop: dict[str, Any]) -> Any:
    if prop.get("enum"):
        return prop["enum"][0]
    if "default" in prop:
        return prop["default"]
    kind = prop.get("type")
    if kind == "string":
        return "breakfix validate: a dry run"
    if kind in ("integer", "number"):
        return prop.get("minimum", 1)
    return {"boolean": False, "object": {}, "array": []}.get(str(kind))


def actions_answer_and_verify(lab: GamedayLab, c: Checklist) -> None:
    """Dry-run every action in the catalogue, then one real low-risk run."""
    _steady(lab, c, incidents=False)
    catalogue = lab.actions.actions()
    c.check(f"GET /actions: {len(catalogue)} actions")
    wrong = []
    for spec in catalogue:
        name = spec["name"]
        try:
            run = lab.actions.act(name, example_params(spec["parameters"]), dry_run=True)
        except ActionClientError as exc:
            if exc.status == 409 and exc.code in REFUSALS:
                c.check(f"{name}: dry run refused, clearly ({exc.code}: {_short(exc.detail)})")
            else:
                wrong.append(f"{name}: {exc}")
            continue
        if run.status != "dry_run":
            wrong.append(f"{name}: a dry run answered {run.status}")
            continue
        c.check(f"{name}: dry run ok ({_short(run.summary)})")
    if wrong:
        raise StepFailed(f"dry runs answered wrongly: {'; '.join(wrong)}")
    names = {spec["name"] for spec in catalogue}
    if "snapshot-db" in names:
        run = lab.actions.act("snapshot-db", {"label": "validate"}, wait=True)
        manifest = run.details.get("result") or {}  # the run's outcome: the manifest
        verified = run.status == "succeeded" and manifest.get("verified") is True
    elif "clear-cache" in names:
        run = lab.actions.act("clear-cache", wait=True)
        verified = run.status == "succeeded"
    else:
        raise StepFailed("neither snapshot-db nor clear-cache is in the catalogue")
    if not verified:
        raise StepFailed(f"{run.action} {run.status}: {run.error or run.summary}")
    recorded = lab.actions.run(run.id)
    if recorded.status != run.status:
        raise StepFailed(f"run {run.id} recorded as {recorded.status}, answered {run.status}")
    c.check(f"{run.action} for real: {run.status}, verified ({run.summary}; run {run.id})")


# -- 3. observability detects injected faults ---------------------------------------------


def meant_alerts(lab: GamedayLab, fault: str) -> set[str]:
    """The names of observability's rules that are meant for `fault` (the lab's rule file)."""
    from observability.config import Settings
    from observability.detector.rules import load_rules

    configured = read_env(lab.paths.observability_env).get("OBS_RULES_FILE")
    default: Path = Settings.model_fields["rules_file"].default
    rules = load_rules(Path(configured) if configured else default)
    return {rule.name for rule in rules.rules if fault in rule.faults}


def _firing(lab: GamedayLab, names: set[str], service: str) -> list[str]:
    alerts = lab.observability.get("/alerts").json()
    return sorted(
        {
            a["alertname"]
            for a in alerts
            if a.get("status") == "firing"
            and a.get("service") == service
            and (not names or a["alertname"] in names)
        }
    )


def observability_detects(lab: GamedayLab, c: Checklist) -> None:
    """Inject a fault through the chaos server; a meant alert fires, then resolves."""
    _steady(lab, c, incidents=False)
    meant = meant_alerts(lab, DETECT_FAULT)
    if not meant:
        raise StepFailed(f"no observability rule is meant for {DETECT_FAULT}")
    _silence(lab, c, f"breakfix validate: step 3 injects {DETECT_FAULT}")
    injected = inject(lab, DETECT_FAULT)
    c.defer(f"revert {DETECT_FAULT}", lambda: revert(lab, injected))
    c.check(f"{DETECT_FAULT} injected through the chaos server (fault {injected.id})")
    fired: list[str] = []

    def fires() -> bool:
        nonlocal fired
        fired = _firing(lab, meant, "target")
        return bool(fired)

    if not until(fires, ALERT_WITHIN_S, every_s=1.0):
        firing = _firing(lab, set(), "target")
        raise StepFailed(
            f"no alert meant for {DETECT_FAULT} ({', '.join(sorted(meant))}) fired within "
            f"{ALERT_WITHIN_S:.0f}s; firing on target: {firing or 'nothing'}"
        )
    took = time.time() - injected.requested_at
    c.check(f"observability fired {', '.join(fired)} on target {took:.1f}s after the injection")
    row = revert(lab, injected)
    c.check(f"{DETECT_FAULT} reverted through the chaos server ({row.get('state')})")
    started = time.monotonic()
    if not until(lambda: not _firing(lab, meant, "target"), ALERT_WITHIN_S, every_s=1.0):
        raise StepFailed(f"{', '.join(fired)} still firing {ALERT_WITHIN_S:.0f}s after the revert")
    c.check(f"{', '.join(fired)} resolved {time.monotonic() - started:.1f}s after the revert")


# -- 4. a scenario, the kill switch -------------------------------------------------------


def scenario_and_kill_switch(lab: GamedayLab, c: Checklist) -> None:
    """A quick shipped scenario passes and reverts; the kill switch engages and releases."""
    _steady(lab, c, incidents=False)
    _silence(lab, c, "breakfix validate: step 4 runs a scenario and the kill switch")
    listing = _chaos(lab.chaos.get("/scenarios"), "GET /scenarios")
    loaded = sorted(s["name"] for s in listing["scenarios"])
    name = next((n for n in QUICK_SCENARIOS if n in loaded), None)
    if name is None:
        raise StepFailed(
            f"none of the quick scenarios {list(QUICK_SCENARIOS)} is loaded (loaded: "
            f"{loaded or 'none'}; see CHAOS_SCENARIO_DIR)"
        )
    c.check(f"GET /scenarios: {len(loaded)} loaded; running {name}")
    result = _chaos(lab.chaos.post(f"/scenarios/{name}/run", timeout=300.0), f"running {name}")
    for row in result["steps"]:
        c.check(f"  {row['kind']}: {row['detail']} ({row['took_s']:.1f}s)")
    if result["status"] != "passed":
        bad = [r["detail"] for r in (*result["before"], *result["steps"], *result["after"])]
        raise StepFailed(f"scenario {name} {result['status']}: {bad[-1] if bad else ''}")
    c.check(f"scenario {name} passed, steady again after")
    for fault in result["faults"]:
        row = _chaos(lab.chaos.get(f"/faults/{fault}"), f"GET /faults/{fault}")
        if row["state"] != "reverted":
            raise StepFailed(f"the scenario's fault {fault} ({row['fault_id']}) is {row['state']}")
    active = _chaos(lab.chaos.get("/faults", params={"state": "active"}), "GET /faults")
    if active:
        raise StepFailed(f"faults still active: {[(f['fault_id'], f['id']) for f in active]}")
    c.check(f"its {len(result['faults'])} fault(s) reverted; GET /faults?state=active empty")
    _kill_switch(lab, c)


def _kill_switch(lab: GamedayLab, c: Checklist) -> None:
    state = _chaos(lab.chaos.get("/kill"), "GET /kill")
    if state["engaged"]:
        raise StepFailed(
            f"the kill switch is engaged already ({state.get('reason')}): release it with "
            "`breakfix kill --release` once whoever engaged it agrees"
        )
    noop = inject(lab, "noop")
    c.defer("revert the noop fault", lambda: revert(lab, noop))
    c.defer("release the kill switch", lambda: _release_if_engaged(lab))  # not engaged before
    engaged = _chaos(lab.chaos.post("/kill", json={"reason": "breakfix validate"}), "POST /kill")
    if noop.id not in engaged["reverted"]:
        raise StepFailed(f"POST /kill did not revert the open noop fault: {engaged}")
    if not _chaos(lab.chaos.get("/kill"), "GET /kill")["engaged"]:
        raise StepFailed("POST /kill answered, but GET /kill says not engaged")
    c.check("kill switch engaged: the open noop fault reverted, GET /kill engaged")
    refused = lab.chaos.post("/break/noop", json={"ttl_s": 30})
    code = refused.json().get("code") if refused.status_code >= 400 else None
    if refused.status_code != 409 or code != "kill_switch_engaged":
        raise StepFailed(f"/break while killed answered {refused.status_code} {refused.text[:200]}")
    c.check("POST /break/noop refused: 409 kill_switch_engaged")
    _chaos(lab.chaos.post("/kill/release"), "POST /kill/release")
    if _chaos(lab.chaos.get("/kill"), "GET /kill")["engaged"]:
        raise StepFailed("POST /kill/release answered, but GET /kill is still engaged")
    c.check("kill switch released: GET /kill not engaged")


def _release_if_engaged(lab: GamedayLab) -> None:
    if lab.chaos.get("/kill").json().get("engaged"):
        lab.chaos.post("/kill/release").raise_for_status()


# -- 5. the agent fixes a fault on its own ------------------------------------------------


def agent_fixes_on_its_own(lab: GamedayLab, c: Checklist) -> None:
    """Break the target with no silence: the agent opens an incident and resolves it."""
    if lab.agent is None:
        if agent_runs(lab.settings):
            raise StepFailed("the lab's agent does not answer: nothing fixes faults on its own")
        raise StepFailed(
            "the lab runs no agent (BREAKFIX_AGENT_ENABLED=false): nothing fixes faults on its own"
        )
    _steady(lab, c, incidents=True)
    fault = _within_agent_policy(lab, c)
    injected = inject(lab, fault)
    c.defer(f"revert {fault}", lambda: revert(lab, injected))
    c.check(f"{fault} injected through the chaos server; nobody but the agent acts")
    closed = wait_closed(lab, injected.requested_at, FIX_WITHIN_S)
    for incident in closed:
        opened, ended = when(incident.get("opened_at")), when(incident.get("closed_at"))
        since = f"{opened - injected.requested_at:.1f}s" if opened else "?"
        took = f"{ended - injected.requested_at:.1f}s" if ended else "?"
        c.check(
            f"incident {incident['id']} ({incident.get('fault') or 'no diagnosis'}) opened "
            f"{since} after the injection, {incident['state']} {took} after it"
        )
    if not any(i["state"] == "resolved" for i in closed):
        why = [(i["id"], i["state"], _last_reason(i)) for i in closed]
        raise StepFailed(f"the agent closed its incident(s) but resolved none: {why}")
    seen = agent_actions(lab, injected.requested_at)
    if not any(a.action == "restart-api" and a.outcome == "succeeded" for a in seen):
        actions = [(a.action, a.outcome) for a in seen]
        raise StepFailed(f"no successful restart-api by the agent; its actions: {actions}")
    c.check("the agent ran restart-api through the action server: succeeded")
    _users_back(lab, c)


def _last_reason(incident: dict[str, Any]) -> Any:
    """Why the agent's policy decided as it did last (an escalation's reason)."""
    return (incident.get("decisions") or [{}])[-1].get("reason")


def _within_agent_policy(lab: GamedayLab, c: Checklist) -> str:
    """The fault to inject, so that the agent's policy lets it act: a fault it has not just
    fixed repeatedly (it would escalate that as a fix that did not hold), its restart budget
    not spent. A second validation right after the first passes too."""
    from agent.config import Settings as AgentSettings

    env, fields = read_env(lab.paths.agent_env), AgentSettings.model_fields
    policy = {
        name: float(env.get(f"AGENT_{name.upper()}") or fields[name].default)
        for name in (
            "same_action_max",
            "same_action_window_s",
            "recurrence_window_s",
            "fix_failures_before_escalation",
        )
    }
    now = time.time()
    window, limit = policy["recurrence_window_s"], int(policy["fix_failures_before_escalation"])
    fixed: dict[str, list[float]] = {f: [] for f in FIX_FAULTS}
    for i in incidents(lab):
        closed = when(i.get("closed_at")) or 0.0
        if i["state"] == "resolved" and i.get("fault") in fixed and closed >= now - window:
            fixed[i["fault"]].append(closed)
    fault = min(FIX_FAULTS, key=lambda f: len(fixed[f]))
    if len(fixed[fault]) >= limit:  # free again once enough of them leave the window
        free_in = min(sorted(t)[len(t) - limit] + window - now for t in fixed.values())
        raise StepFailed(
            f"the agent resolved each of {', '.join(FIX_FAULTS)} {limit}+ times in the last "
            f"{window:.0f}s (AGENT_RECURRENCE_WINDOW_S): it would escalate one more as a fix "
            f"that did not hold; run validate again in {free_in:.0f}s"
        )
    if fault != FIX_FAULTS[0]:
        first = FIX_FAULTS[0]
        c.check(f"{fault}, not {first}: the agent resolved {first} in the last {window:.0f}s")
    budget, within = int(policy["same_action_max"]), policy["same_action_window_s"]
    restarts = sorted(a.at for a in agent_actions(lab, now - within) if a.action == "restart-api")
    if budget and len(restarts) >= budget:  # one more restart would be a loop: wait it out
        wait = restarts[len(restarts) - budget] + within + 1.0 - time.time()
        if wait > 0:
            time.sleep(wait)
            c.check(f"waited {wait:.0f}s: the agent's restart budget ({budget} in {within:.0f}s)")
    return fault


STEPS = [
    Step(1, "a restart fixes a fault made by hand", restart_fixes_a_hand_made_fault),
    Step(2, "every action answers; a real run is verified", actions_answer_and_verify),
    Step(3, "observability detects an injected fault", observability_detects),
    Step(4, "a scenario reverts; the kill switch holds", scenario_and_kill_switch),
    Step(5, "the agent fixes a fault on its own", agent_fixes_on_its_own),
]
