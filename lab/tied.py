"""Children tied to the process that runs them: a service's client tools (pg_dump, pg_restore)
never outlive it, even when it is killed with SIGKILL.

Two guards. The kernel's: each child runs in its own process group and gets SIGKILL when the
thread that started it dies (`PR_SET_PDEATHSIG`, kept across exec). A ledger's: each child
is written down (its pid, start time and owner) in a directory while it runs; the owner's
successor calls `reap_orphans` at start-up and kills and waits for whatever a dead owner
left running, before it serves anyone.
"""

import contextlib
import json
import logging
import os
import signal
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import psutil

from lab.process import die_with_parent, kill_group, pid_alive

log = logging.getLogger("lab.tied")


def run_tied(
    argv: Sequence[str], *, env: Mapping[str, str], timeout: float, ledger: Path
) -> "subprocess.CompletedProcess[str]":
    """Run `argv` to its end with text output captured, tied to this thread (see above).

    On `timeout` (or any error while waiting) its whole process group is killed before
    `subprocess.TimeoutExpired` (or the error) is raised. Call it from the thread that
    waits for the child: the child dies when that thread does.
    """
    with subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(env),
        process_group=0,
        preexec_fn=die_with_parent(signal.SIGKILL),
    ) as proc:
        with _recorded(ledger, proc, str(argv[0])):
            try:
                stdout, stderr = proc.communicate(timeout=timeout)
            except BaseException:
                # Not reaped yet, so its pid (the group's id) cannot have been reused.
                kill_group(proc.pid)
                proc.communicate()
                raise
    return subprocess.CompletedProcess(list(argv), proc.returncode, stdout, stderr)


def reap_orphans(ledger: Path, *, timeout: float) -> list[int]:
    """Kill (SIGKILL, whole group) and wait for the children of dead owners in `ledger`;
    return their pids. Entries of live owners are left alone, the others removed."""
    victims: list[psutil.Process] = []
    for entry in sorted(ledger.glob("*.json")) if ledger.is_dir() else []:
        try:
            record = json.loads(entry.read_text())
            owner, owner_started = int(record["owner_pid"]), float(record["owner_started_at"])
            child, child_started = int(record["pid"]), float(record["started_at"])
        except (OSError, ValueError, KeyError, TypeError):
            entry.unlink(missing_ok=True)  # torn by a kill mid-write: nothing to go on
            continue
        if pid_alive(owner, started_at=owner_started):
            continue
        if pid_alive(child, started_at=child_started):
            log.warning(
                "killing %s (pid %d) left by dead pid %d", record.get("argv0"), child, owner
            )
            with contextlib.suppress(psutil.Error):
                victims.append(psutil.Process(child))
            kill_group(child)  # its own group: whatever it started goes too
        entry.unlink(missing_ok=True)
    _gone, alive = psutil.wait_procs(victims, timeout=timeout)
    for proc in alive:
        log.error("pid %d outlived SIGKILL for %g s (uninterruptible sleep?)", proc.pid, timeout)
    return [proc.pid for proc in victims]


@contextlib.contextmanager
def _recorded(ledger: Path, proc: "subprocess.Popen[str]", argv0: str) -> Iterator[None]:
    """The child's ledger entry, for as long as it runs (none when it is already gone)."""
    me = psutil.Process()
    try:
        started_at = psutil.Process(proc.pid).create_time()
    except psutil.Error:
        yield
        return
    record = {
        "pid": proc.pid,
        "started_at": started_at,
        "argv0": argv0,
        "owner_pid": me.pid,
        "owner_started_at": me.create_time(),
    }
    entry = ledger / f"{proc.pid}.json"
    tmp = entry.with_name(f".{entry.name}.tmp")
    try:
        ledger.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp.write_text(json.dumps(record))
        os.replace(tmp, entry)
    except OSError as exc:  # the kernel's guard still holds; the child must not be left
        log.warning("%s (pid %d) not written down in %s: %s", argv0, proc.pid, ledger, exc)
    try:
        yield
    finally:
        entry.unlink(missing_ok=True)
