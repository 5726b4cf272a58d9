"""Record what observability shows for every catalogue fault (fixtures for the agent's tests).

Not a test: starts its own lab with observability on (fresh state dir, free ports), then for
every fault: waits until the lab is steady, injects the fault through the lab's chaos server
with its default parameters, waits until an alert meant for it fires (the MEANT mapping of
tests/observability/test_detection_faults.py) plus a few seconds, and saves observability's
GET /alerts, /snapshot, /evidence?since=120 and /evidence?since=30 ("recent") as
tests/agent/fixtures/evidence/<fault>.json; a second sample later in the episode goes to
<fault>.late.json; then it reverts and waits until the lab is steady again. `noop` is a
steady lab. Big lists (log lines, traces) are trimmed so each fixture stays small. The
recorder uses the chaos server; the agent never does.

    .venv/bin/python scripts/record_evidence.py [--faults db-lock,api-crash] [--out DIR]
"""

import argparse
import json
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere

from breakfix.background import BackgroundLab, lab_environment, make_state_dir, remove_state_dir
from lab.paths import StatePaths
from lab.runtime.local import LocalRuntime
from lab.secrets import read_secret
from tests.support.detection import MEANT, VICTIMS

OUT = Path(__file__).resolve().parent.parent / "tests" / "agent" / "fixtures" / "evidence"
KEEP_LINES = 15  # log lines kept per service
KEEP_TRACES = 8  # slow / failed trace marks kept per service
LINE_CHARS = 600  # a log line with a traceback in it is cut here
RECENT_S = 30.0  # the agent's short evidence window (agent.perceive.RECENT_S)


def _wait(check: Callable[[], bool], timeout: float, step: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return True
        except httpx.HTTPError:
            pass
        time.sleep(step)
    return False


class Recorder:
    """The lab's observability, chaos server and runtime, and the fixtures written from them."""

    def __init__(self, lab: BackgroundLab, out: Path) -> None:
        paths = StatePaths.at(lab.state_dir)
        self.out = out
        self.obs = httpx.Client(
            base_url=f"http://127.0.0.1:{lab.port('OBSERVABILITY')}",
            timeout=30,
            trust_env=False,
        )
        self.chaos = httpx.Client(
            base_url=f"http://127.0.0.1:{lab.port('CHAOS')}",
            headers={"X-Chaos-Key": read_secret(paths.secret("chaos.key"))},
            timeout=180,
            trust_env=False,
        )
        self.target = f"http://127.0.0.1:{lab.port('TARGET')}"
        self.runtime = LocalRuntime.from_state_dir(paths)

    def close(self) -> None:
        self.obs.close()
        self.chaos.close()
        self.runtime.close()

    def firing(self) -> set[tuple[str, str]]:
        alerts = self.obs.get("/alerts").json()
        return {
            (a["labels"]["alertname"], a["labels"].get("service", ""))
            for a in alerts
            if a.get("status") == "firing"
        }

    def unsteady(self) -> list[str]:
        """Why the lab is not steady now (empty when it is)."""
        try:
            why = [f"firing {n} on {s}" for n, s in sorted(self.firing())]
            for svc in VICTIMS:
                health = self.runtime.status(svc).health
                if health != "healthy":
                    why.append(f"{svc} {health}")
            if httpx.get(f"{self.target}/ready", timeout=5, trust_env=False).status_code != 200:
                why.append("target /ready not 200")
            points = self.obs.get(
                "/series", params={"metric": "synthetic_success", "service": "target", "since": 10}
            ).json()["points"]
            if len(points) < 2 or any(p["value"] != 1.0 for p in points[-2:]):
                why.append("synthetic transaction not passing")
        except httpx.HTTPError as exc:
            why = [f"unreachable: {exc!r}"]
        return why

    def wait_steady(self, timeout: float = 180.0) -> list[str]:
        in_a_row, why, deadline = 0, ["not checked"], time.monotonic() + timeout
        while in_a_row < 3 and time.monotonic() < deadline:
            why = self.unsteady()
            in_a_row = 0 if why else in_a_row + 1
            time.sleep(1.0)
        return [] if in_a_row >= 3 else why

    def save(self, name: str, meta: dict[str, Any]) -> Path:
        """GET /alerts, /snapshot, /evidence?since=120, trimmed, into <name>.json."""
        document = {
            "meta": {**meta, "recorded_at": time.time()},
            "alerts": _recent(self.obs.get("/alerts").json()),
            "snapshot": self.obs.get("/snapshot").json(),
            "evidence": _trim(self.obs.get("/evidence", params={"since": 120}).json()),
            "recent": _trim(self.obs.get("/evidence", params={"since": RECENT_S}).json()),
        }
        path = self.out / f"{name}.json"
        path.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
        return path

    def record_fault(self, fault: str, *, hold_s: float, late_s: float) -> str:
        """One fault: inject, detect, save two samples, revert. Returns a status line."""
        started = time.time()
        response = self.chaos.post(f"/break/{fault}", json={"ttl_s": 600})
        if response.status_code != 201:
            return f"not injected: {response.status_code} {response.text[:200]}"
        row = response.json()
        try:
            meant = MEANT[fault]
            hit: list[tuple[str, str]] = []

            def detected() -> bool:
                hit[:] = sorted(self.firing() & meant)
                return bool(hit)

            if not _wait(detected, 60.0, step=0.5):
                self.save(f"{fault}.undetected", {"fault": fault, "injected_at": started})
                return "NOT detected in 60 s"
            detected_at = time.time()
            meta = {
                "fault": fault,
                "target": row.get("target"),
                "params": row.get("params"),
                "injected_at": started,
                "detected_at": detected_at,
                "detected_by": [list(h) for h in hit],
            }
            time.sleep(hold_s)
            self.save(fault, {**meta, "sample": "early"})
            time.sleep(max(0.0, late_s - hold_s))
            self.save(f"{fault}.late", {**meta, "sample": "late"})
            return f"detected in {detected_at - started:.1f}s by {hit}"
        finally:
            reverted = self.chaos.delete(f"/faults/{row['id']}")
            if reverted.status_code != 200:
                print(f"  revert of {fault} answered {reverted.status_code}", flush=True)


def _recent(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Firing alerts and the 20 most recently resolved (the rest is older history)."""
    firing = [a for a in alerts if a.get("status") == "firing"]
    return firing + [a for a in alerts if a.get("status") != "firing"][:20]


def _trim(evidence: dict[str, Any]) -> dict[str, Any]:
    """Fewer log lines, trace marks and resolved alerts; observability's own trends out."""
    evidence["alerts"] = _recent(evidence.get("alerts", []))
    for name, entry in evidence.get("services", {}).items():
        if name == "observability":
            entry["changed"], entry["steady"] = {}, []
        entry["log_lines"] = [
            {**line, "line": line["line"][:LINE_CHARS]}
            for line in entry.get("log_lines", [])[-KEEP_LINES:]
        ]
        for kind, marks in entry.get("traces", {}).items():
            entry["traces"][kind] = marks[-KEEP_TRACES:]
    return evidence


def _stop(signum: int, frame: object) -> None:
    raise SystemExit(f"stopped by signal {signum}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", default="", help="comma-separated (default: all + noop)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--hold", type=float, default=5.0, help="s after detection: sample 1")
    parser.add_argument("--late", type=float, default=25.0, help="s after detection: sample 2")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _stop)  # a TERM still reverts the fault and stops the lab
    faults = args.faults.split(",") if args.faults else ["noop", *MEANT]
    args.out.mkdir(parents=True, exist_ok=True)

    state_dir = make_state_dir("breakfix-record-")
    lab = BackgroundLab(state_dir, lab_environment(state_dir, observability=True))
    try:
        lab.start()
        recorder = Recorder(lab, args.out)
        try:
            for fault in faults:
                left = recorder.wait_steady()
                if left:
                    print(f"{fault:<20} lab not steady before: {left}", flush=True)
                if fault == "noop":
                    time.sleep(30.0)  # two minutes of quiet would be better; 30 s is the window
                    recorder.save("noop", {"fault": "noop", "sample": "early"})
                    status = "steady lab recorded"
                else:
                    status = recorder.record_fault(fault, hold_s=args.hold, late_s=args.late)
                print(f"{fault:<20} {status}", flush=True)
            left = recorder.wait_steady()
            if "noop" in faults and not left:
                recorder.save("noop.late", {"fault": "noop", "sample": "late"})
        finally:
            recorder.close()
    finally:
        if lab.proc is not None and lab.proc.poll() is None:
            lab.down()
        remove_state_dir(state_dir)


if __name__ == "__main__":
    main()
