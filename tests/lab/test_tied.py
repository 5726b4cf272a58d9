"""Children tied to their owner (lab.tied) with real processes: output, timeouts, an owner
killed with SIGKILL, and the start-up reaping of what a dead owner left running."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from lab.tied import reap_orphans, run_tied

SLEEP = shutil.which("sleep") or "/bin/sleep"
SH = shutil.which("sh") or "/bin/sh"


def wait_for(path: Path, deadline_s: float = 10.0) -> str:
    """`path`'s text once it has some."""
    deadline = time.monotonic() + deadline_s
    while not (path.exists() and path.read_text().strip()):
        assert time.monotonic() < deadline, f"{path} not written"
        time.sleep(0.05)
    return path.read_text().strip()


def gone(pid: int, deadline_s: float = 5.0) -> bool:
    try:
        psutil.Process(pid).wait(timeout=deadline_s)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def test_output_and_exit_code_come_back_and_the_ledger_is_emptied(tmp_path: Path) -> None:
    ledger = tmp_path / "children"
    result = run_tied(
        [SH, "-c", "echo out; echo err >&2; exit 3"], env=os.environ, timeout=10, ledger=ledger
    )
    assert (result.returncode, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert list(ledger.iterdir()) == []


def test_a_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild"
    script = f"{SLEEP} 60 & echo $! > {pid_file}; wait"
    with pytest.raises(subprocess.TimeoutExpired):
        run_tied([SH, "-c", script], env=os.environ, timeout=1.0, ledger=tmp_path / "children")
    assert gone(int(wait_for(pid_file)))


def test_a_child_dies_with_its_owner_killed_by_sigkill(tmp_path: Path) -> None:
    """The owner runs the child from a worker thread, as the action server does."""
    ledger = tmp_path / "children"
    owner_code = (
        "import os, sys, threading; from pathlib import Path; from lab.tied import run_tied; "
        "t = threading.Thread(target=run_tied, args=([sys.argv[1], '60'],), "
        "kwargs={'env': dict(os.environ), 'timeout': 60, 'ledger': Path(sys.argv[2])}); "
        "t.start(); t.join()"
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_code, SLEEP, str(ledger)])
    try:
        deadline = time.monotonic() + 10
        while not (ledger.is_dir() and list(ledger.glob("*.json"))):
            assert time.monotonic() < deadline and owner.poll() is None, "child not started"
            time.sleep(0.05)
        child = json.loads(next(ledger.glob("*.json")).read_text())["pid"]
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=10)
        assert gone(child), "the child outlived its owner"
    finally:
        owner.kill()
        owner.wait(timeout=10)


def test_reaping_kills_a_dead_owners_child_and_leaves_a_live_owners_alone(
    tmp_path: Path,
) -> None:
    ledger = tmp_path / "children"
    ledger.mkdir()
    dead_owner = subprocess.Popen(["true"])
    dead_owner.wait(timeout=10)
    orphan = subprocess.Popen([SLEEP, "60"], process_group=0)
    kept = subprocess.Popen([SLEEP, "60"], process_group=0)
    me = psutil.Process()
    try:
        for proc, owner, owner_started in (
            (orphan, dead_owner.pid, 0.0),
            (kept, me.pid, me.create_time()),
        ):
            record = {
                "pid": proc.pid,
                "started_at": psutil.Process(proc.pid).create_time(),
                "argv0": SLEEP,
                "owner_pid": owner,
                "owner_started_at": owner_started,
            }
            (ledger / f"{proc.pid}.json").write_text(json.dumps(record))
        (ledger / "1.json").write_text("{torn")

        assert reap_orphans(ledger, timeout=5) == [orphan.pid]
        assert gone(orphan.pid, deadline_s=0.5)  # reaped by reap_orphans' wait (our child)
        assert kept.poll() is None
        assert sorted(p.name for p in ledger.iterdir()) == [f"{kept.pid}.json"]
    finally:
        for proc in (orphan, kept):
            proc.kill()
            proc.wait(timeout=10)
