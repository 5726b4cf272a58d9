"""Production variants of the faults, made by hand, against a live lab with the agent
(issue 17 part 0; tests/knowledge/heldout/mechanisms.yaml).

The diagnosis rate is a figure (scripts/bench_mechanisms.py prints it, tuned and held-out
apart); what is asserted here is what must hold whatever the agent concludes: it never takes
an action from another fault's runbook, and each variant is cleaned up so the lab is steady
for the next one. Variants this machine cannot make are skipped with the reason.
"""

from collections.abc import Iterator

import pytest

from gameday.mechanisms import MAKERS, Variant, load_variants
from gameday.mechanisms.base import NotReproducible
from gameday.mechanisms.report import render
from gameday.mechanisms.run import Outcome, run_variant
from gameday.steady import wait_steady
from tests.support.eval_lab import EvalLab
from tests.support.module_table import printed_after_module

pytestmark = [pytest.mark.slow, pytest.mark.deep]

VARIANTS = load_variants()


@pytest.fixture(scope="module")
def outcomes(request: pytest.FixtureRequest) -> Iterator[dict[str, Outcome]]:
    """Each variant's outcome, printed as a table once the module is done."""
    yield from printed_after_module(request, render)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("variant", VARIANTS, ids=[v.id for v in VARIANTS])
def test_a_variant_made_by_hand_gets_no_wrong_action(
    variant: Variant, eval_lab: EvalLab, outcomes: dict[str, Outcome]
) -> None:
    maker = MAKERS[variant.id]
    if isinstance(maker, NotReproducible):
        pytest.skip(f"not reproducible here: {maker.reason}")
    out = outcomes[variant.id] = run_variant(eval_lab, variant)
    assert out.status != "error", out.note
    assert not out.wrong, f"{variant.id}: wrong actions {out.wrong} ({out.actions})"
    wait_steady(eval_lab, 150.0, f"after {variant.id}")
