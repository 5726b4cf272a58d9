"""Recompute the held-out / tuned split of mechanisms.yaml and check (or write) it.

Rule: sort all mechanism ids, then
    rng = random.Random(17)
    heldout = set(rng.sample(sorted_ids, k=round(len(ids) / 3)))
Every other id is "tuned".

    python split.py          # check: exit 1 if the file disagrees with the rule
    python split.py --write  # rewrite the `split:` lines in place (text edit, keeps comments)
"""

import random
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PATH = HERE / "mechanisms.yaml"
SEED = 17


def expected_split(ids):
    ids = sorted(ids)
    rng = random.Random(SEED)
    heldout = set(rng.sample(ids, k=round(len(ids) / 3)))
    return {i: ("heldout" if i in heldout else "tuned") for i in ids}


def main():
    data = yaml.safe_load(PATH.read_text())
    ids = [m["id"] for m in data["mechanisms"]]
    assert len(ids) == len(set(ids)), "duplicate ids"
    want = expected_split(ids)

    if "--write" in sys.argv:
        out, current = [], None
        for line in PATH.read_text().splitlines(keepends=True):
            m = re.match(r"\s*- id: (\S+)", line)
            if m:
                current = m.group(1)
            m = re.match(r"(\s*split: )\S+", line)
            if m and current is not None:
                line = f"{m.group(1)}{want[current]}\n"
                current = None
            out.append(line)
        PATH.write_text("".join(out))
        data = yaml.safe_load(PATH.read_text())

    bad = [m["id"] for m in data["mechanisms"] if m["split"] != want[m["id"]]]
    if bad:
        sys.stderr.write("split disagrees with the rule for: " + ", ".join(bad) + "\n")
        return 1
    n_held = sum(v == "heldout" for v in want.values())
    sys.stdout.write(f"ok: {len(ids)} mechanisms, {n_held} heldout, {len(ids) - n_held} tuned\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
