"""Which alerts a fault explains: what the agent may expect to see fire because of it.

From the agent's own knowledge, never from the chaos side: the runbooks' signals and
verification signals that name an alert (`alert:<Name>[:<service>...]`), and the detector
rules' documented `faults` (observability/rules.yaml lists the faults each rule is meant to
catch). Used to tell an alert the fixed fault still explains (it only needs time to clear)
from one no fix explains (a second fault: diagnose it).
"""

from collections.abc import Iterable
from functools import lru_cache

from knowledge.runbook import Runbook
from lab.catalogue.registry import get_catalogue
from observability.config import PACKAGE
from observability.detector.rules import RuleError, load_rules


@lru_cache(maxsize=1)
def _rule_faults() -> dict[str, frozenset[str]]:
    """Alert name -> the faults its rule is documented to catch ({} if unreadable)."""
    try:
        rules = load_rules(PACKAGE / "rules.yaml")
    except RuleError:
        return {}
    return {rule.name: frozenset(rule.faults) for rule in rules.rules}


def lab_rule_names() -> frozenset[str]:
    """The names of the lab's own detector rules: any other alert name is a foreign monitor's."""
    return frozenset(_rule_faults())


def _alert_name(feature: str) -> str | None:
    parts = feature.split(":")
    return parts[1] if len(parts) >= 2 and parts[0] == "alert" and parts[1] else None


def explained_alerts(faults: Iterable[str], runbooks: list[Runbook]) -> frozenset[str]:
    """Alert names any of `faults` explains."""
    wanted = set(faults)
    names: set[str] = set()
    for book in runbooks:
        if wanted & set(book.faults):
            features = [s.feature for s in book.signals] + list(book.verify_signals)
            names.update(n for n in map(_alert_name, features) if n)
    names.update(name for name, caught in _rule_faults().items() if wanted & caught)
    return frozenset(names)


# Fixes that restart a service (`restarts: true` in the catalogue), and what a restart itself
# sets off on the service for a few seconds (the process gone, its probe failing, a synthetic
# transaction caught mid-restart): after such a fix these are the fix's own, to wait out,
# never a second fault to diagnose.
RESTARTING_ACTIONS = frozenset(a.name for a in get_catalogue().actions if a.restarts)
RESTART_ALERTS = frozenset({"ServiceDown", "ProbeFailing", "SyntheticTransactionFailing"})


def disrupted_alerts(actions: Iterable[str]) -> frozenset[str]:
    """Alert names the fixes' own restarts explain."""
    return RESTART_ALERTS if RESTARTING_ACTIONS & set(actions) else frozenset()
