"""Run a command with its output on stdout (`docker logs`) and appended to a log file.

`python3 logged.py LOGFILE -- ARGV...`: what the supervisor's log files are to the local lab
(observability's log collector reads `<state dir>/logs/<service>.log`), kept in a container.
Signals a container receives are passed on to the command; its exit code is ours.
Standard library only: it runs on the image's system Python.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


def main(argv: list[str]) -> int:
    """Start the command, copy its output, wait for it."""
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: logged.py LOGFILE -- ARGV...\n")
        return 2
    log_path = Path(argv[0])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    child = subprocess.Popen(argv[2:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    for sig in FORWARDED:
        signal.signal(sig, lambda number, _frame: child.send_signal(number))
    assert child.stdout is not None
    with open(log_path, "ab", buffering=0) as log:
        while chunk := child.stdout.read1(65536):  # type: ignore[attr-defined]
            os.write(1, chunk)
            log.write(chunk)
    return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
