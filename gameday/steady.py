"""A steady lab: the agent's pipeline running, no open incident, nothing firing in
observability, the victims healthy."""

import time

import httpx

from gameday.errors import NotSteady
from gameday.incidents import open_incidents
from gameday.lab_handle import GamedayLab

STEADY_CHECKS = 3  # consecutive 1 s checks with nothing wrong
VICTIMS = ("target", "target-db", "db-proxy", "upstream-primary", "upstream-fallback")


def unsteady(lab: GamedayLab, *, incidents: bool = True) -> list[str]:
    """Why the lab is not steady now (empty when it is); open incidents count unless not
    `incidents`."""
    why: list[str] = []
    try:
        alerts = lab.observability.get("/alerts").json()
        # Alerts on the lab's own services (a slow probe of chaos or action on a loaded
        # machine) say nothing about the victim a case breaks.
        why += [
            f"firing {a['alertname']} on {a.get('service')}"
            for a in alerts
            if a.get("status") == "firing" and a.get("service") in VICTIMS
        ]
    except (httpx.HTTPError, ValueError) as exc:
        why.append(f"observability /alerts unreadable: {exc}")
    if lab.agent is not None:
        # A fresh lab's agent builds its knowledge index first (tens of seconds on a busy
        # machine): alerts are recorded meanwhile, but nothing is handled until it runs.
        try:
            pipeline = lab.agent.get("/healthz").json().get("pipeline")
            if pipeline != "running":
                why.append(f"agent pipeline {pipeline}")
        except (httpx.HTTPError, ValueError) as exc:
            why.append(f"agent /healthz unreadable: {exc}")
    if lab.agent is not None and incidents:
        try:
            why += [f"incident {i['id']} {i['state']}" for i in open_incidents(lab)]
        except (httpx.HTTPError, ValueError) as exc:
            why.append(f"agent /incidents unreadable: {exc}")
    for service in VICTIMS:
        health = lab.runtime.status(service).health
        if health != "healthy":
            why.append(f"{service} {health}")
    try:
        if lab.target.get("/ready", timeout=5.0).status_code != 200:
            why.append("target /ready not 200")
    except httpx.HTTPError as exc:
        why.append(f"target /ready: {type(exc).__name__}")
    return why


def wait_steady(lab: GamedayLab, within_s: float, what: str, *, incidents: bool = True) -> float:
    """Until the lab is steady STEADY_CHECKS checks in a row; seconds it took."""
    started = time.monotonic()
    deadline, in_a_row, why = started + within_s, 0, ["not checked"]
    while in_a_row < STEADY_CHECKS:
        why = unsteady(lab, incidents=incidents)
        in_a_row = 0 if why else in_a_row + 1
        if time.monotonic() > deadline:
            raise NotSteady(f"{what}: not steady after {within_s:.0f}s: {why}")
        time.sleep(1.0)
    return time.monotonic() - started
