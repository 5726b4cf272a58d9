"""Production variants of the catalogue's faults, made by hand, against a fresh live lab
with the agent (issue 17 part 0): per variant its diagnosis, the agent's actions and the
users' outage, then the pass rates on the tuned and the held-out variants apart.

    .venv/bin/python scripts/bench_mechanisms.py [--split tuned|heldout|all] [--only id,...]
"""

import argparse
import json
import platform
import sys
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests.support: the lab

import psutil

from gameday.mechanisms import load_variants
from gameday.mechanisms.report import render
from gameday.mechanisms.run import Outcome, run_variant
from tests.support.eval_lab import running_eval_lab


def main() -> None:
    """Run the chosen variants, printing each outcome as it ends and the table at the end."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--split", choices=("tuned", "heldout", "all"), default="all")
    parser.add_argument("--only", default="", help="comma-separated variant ids")
    parser.add_argument("--json", type=Path, help="also write the outcomes here")
    args = parser.parse_args()
    sys.stdout.write(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; {platform.node()} {platform.machine()}, "
        f"{psutil.cpu_count()} CPUs, Python {platform.python_version()}\n"
    )
    wanted = set(filter(None, args.only.split(",")))
    variants = [
        v
        for v in load_variants()
        if (args.split == "all" or v.split == args.split) and (not wanted or v.id in wanted)
    ]
    outcomes: list[Outcome] = []
    with running_eval_lab("breakfix-bench-mechanisms-") as lab:
        for variant in variants:
            out = run_variant(lab, variant)
            outcomes.append(out)
            sys.stdout.write(json.dumps(asdict(out)) + "\n")
            sys.stdout.flush()
    sys.stdout.write(render(outcomes) + "\n")
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))


if __name__ == "__main__":
    main()
