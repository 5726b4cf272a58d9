"""`python -m observability.prometheus_rules [--check]`: write (or check) the PromQL rules."""

import argparse
import sys

from observability.prometheus_rules.generate import COMMAND, stale, write


def main(argv: list[str] | None = None) -> int:
    """Rewrite rules.yml and rules_test.yml, or with --check exit 1 when they are stale."""
    parser = argparse.ArgumentParser(prog=COMMAND, description=__doc__)
    parser.add_argument("--check", action="store_true", help="only say whether they are stale")
    args = parser.parse_args(argv)
    if args.check:
        paths = stale()
        sys.stdout.write("".join(f"stale: {path} (run {COMMAND})\n" for path in paths))
        return 1 if paths else 0
    sys.stdout.write("".join(f"{path}\n" for path in write()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
