"""The per-variant table and the pass rates, tuned and held-out apart."""

from gameday.mechanisms.run import Outcome


def rates(outcomes: list[Outcome]) -> dict[str, str]:
    """Passes over variants by split, and the counts that are no pass and no fail."""
    counts: dict[str, str] = {}
    for split in ("tuned", "heldout"):
        mine = [o for o in outcomes if o.split == split]
        passed = sum(o.status == "pass" for o in mine)
        counts[split] = f"{passed}/{len(mine)}"
    counts["not reproducible"] = str(sum(o.status == "not_reproducible" for o in outcomes))
    counts["errors"] = str(sum(o.status == "error" for o in outcomes))
    counts["wrong actions"] = str(sum(len(o.wrong) for o in outcomes))
    return counts


def render(outcomes: list[Outcome]) -> str:
    """One line per variant, then the rates."""
    lines = [
        f"{'variant':<52} {'split':<7} {'status':<16} {'diagnosis':<18} {'state':<9} "
        f"{'outage_s':>8}  actions / wrong / note"
    ]
    for o in outcomes:
        outage = "-" if o.outage_s is None else f"{o.outage_s:.0f}"
        tail = ", ".join(o.actions) or "-"
        if o.wrong:
            tail += f" | WRONG: {', '.join(o.wrong)}"
        if o.note:
            tail += f" | {o.note[:160]}"
        lines.append(
            f"{o.id:<52} {o.split:<7} {o.status:<16} {o.diagnosis or '-':<18} "
            f"{o.state or '-':<9} {outage:>8}  {tail}"
        )
    counts = rates(outcomes)
    lines.append(
        f"tuned {counts['tuned']}, held-out {counts['heldout']}, not reproducible "
        f"{counts['not reproducible']}, errors {counts['errors']}, wrong actions "
        f"{counts['wrong actions']} (a pass is counted over every variant of its split; "
        "not-reproducible ones are no pass)"
    )
    return "\n".join(lines)
