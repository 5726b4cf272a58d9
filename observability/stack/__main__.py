"""`python -m observability.stack render --out DIR` | `defaults`: write the stack's configs."""

import argparse
import sys
from pathlib import Path

from lab.config import LabSettings
from observability.stack.files import for_lab, write_defaults


def main(argv: list[str] | None = None) -> int:
    """Write the config files and print where they went."""
    parser = argparse.ArgumentParser(prog="python -m observability.stack")
    commands = parser.add_subparsers(dest="command", required=True)
    render = commands.add_parser("render", help="configs for this lab's ports and state dir")
    render.add_argument("--out", type=Path, required=True)
    render.add_argument("--agent-port", type=int, default=8002)
    commands.add_parser("defaults", help="rewrite the shipped files in observability/prometheus")
    args = parser.parse_args(argv)
    if args.command == "render":
        files = for_lab(LabSettings(), args.out, agent_port=args.agent_port)
        written = [files.prometheus, files.rules, files.alertmanager]
    else:
        written = write_defaults()
    sys.stdout.write("".join(f"{path}\n" for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
